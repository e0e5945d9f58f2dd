namespace InfraMind.Containers;

/// <summary>Stable error codes of the container layer (IM30xx), documented in docs/errors.md. Never renumber.</summary>
public static class ContainerErrorCodes
{
    /// <summary>No container engine answers (or DOCKER_HOST names no engine address); the hint says how to start one.</summary>
    public static readonly ErrorCode EngineUnavailable = new("IM3001", FailureKind.EngineUnavailable,
        "start Docker Engine or Podman's Docker-compatible service (in an InfraMind checkout, scripts/setup-engine.sh installs and starts one, as root), " +
        "or point DOCKER_HOST at a running Docker-compatible engine (unix:///path/to/docker.sock or tcp://127.0.0.1:PORT)");

    /// <summary>The engine ran the build and a step failed.</summary>
    public static readonly ErrorCode ImageBuildFailed = new("IM3002", FailureKind.CheckFailed,
        "fix the failing Dockerfile step; RUN steps have no network here, so everything must come from the base image or the package");

    /// <summary>The build context cannot be read or packed.</summary>
    public static readonly ErrorCode InvalidBuildContext = new("IM3003", FailureKind.CheckFailed);

    /// <summary>The model asks for a GPU and the engine has no GPU runtime.</summary>
    public static readonly ErrorCode GpuUnavailable = new("IM3004", FailureKind.CheckFailed,
        "install the NVIDIA Container Toolkit and register its runtime with the engine, run the model on a node with a GPU, or set resources.gpu: false in model.yaml");

    /// <summary>The engine could not start the container.</summary>
    public static readonly ErrorCode ContainerStartFailed = new("IM3005", FailureKind.CheckFailed,
        "check the image's CMD/ENTRYPOINT and the resources model.yaml asks for");

    /// <summary>The image is not in the engine (nothing is ever pulled implicitly).</summary>
    public static readonly ErrorCode ImageNotFound = new("IM3006", FailureKind.CheckFailed,
        "build it with `infra build DIR`, or load it with `infra pull REFERENCE --load`");

    /// <summary>A container spec is invalid (a defect of the caller, named field by field).</summary>
    public static readonly ErrorCode InvalidContainerSpec = new("IM3007", FailureKind.CheckFailed);

    /// <summary>The engine refused a request (its own message is given).</summary>
    public static readonly ErrorCode EngineRequestFailed = new("IM3008", FailureKind.EngineUnavailable);

    /// <summary>
    /// Isolation cannot be enforced on this engine: InfraMind cannot enter a run's network namespace, the container is
    /// not a process of this machine, or the engine gave it a network. The container is removed; nothing runs.
    /// </summary>
    public static readonly ErrorCode IsolationUnsupported = new("IM3009", FailureKind.EngineUnavailable,
        "run InfraMind as root on the engine's machine (in an InfraMind checkout, scripts/setup-engine.sh sets one up); `infra doctor` checks it");

    /// <summary>A run asks for more memory or CPU than the engine's machine has: nothing is started.</summary>
    public static readonly ErrorCode ResourcesExceedEngine = new("IM3010", FailureKind.CheckFailed);
}

/// <summary>An error of the container layer a user can act on: a typed code, a message that says what and where, a hint.</summary>
public class ContainerEngineException(ErrorCode code, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException);

/// <summary>No container engine answers at the configured endpoint: the message says where and why, the hint (the code's) how to start one.</summary>
public sealed class EngineUnavailableException(Uri endpoint, string reason, Exception? innerException = null)
    : ContainerEngineException(ContainerErrorCodes.EngineUnavailable, $"no container engine answers at {endpoint} ({reason})", innerException)
{
    public Uri Endpoint { get; } = endpoint;
}

/// <summary>
/// The engine ran the build and a step failed. When that step is a <c>FROM</c> whose image the engine does not have
/// (<see cref="MissingBaseImage"/>), the message names the image and quotes the engine's error (a pull's, where it
/// tried to pull) only as the cause, and the hint says how to get the image.
/// </summary>
public sealed class ImageBuildFailedException(string tag, string? failingStep, string error, string outputTail, string? missingBaseImage = null)
    : ContainerEngineException(
        ContainerErrorCodes.ImageBuildFailed,
        missingBaseImage is null
            ? $"building {tag} failed" + (failingStep is null ? "" : $" at \"{failingStep}\"") + $": {error}" + (outputTail.Length > 0 ? $"\n{outputTail}" : "")
            : $"building {tag} failed at \"{failingStep}\": the base image {missingBaseImage} is not in the engine, and the engine could not pull it " +
              $"(the engine's error: {TerminalText.Quote(error, MaxCauseLength)})",
        hint: missingBaseImage is not null ? BaseImageHint(missingBaseImage)
            : IsParseError(error) ? "the Dockerfile does not parse: fix the line the engine names (`infra validate DIR` points at unknown instructions and a missing FROM before a build)"
            : null)
{
    /// <summary>Most of the engine's error quoted as the cause of a missing base image (a pull's error can run long).</summary>
    private const int MaxCauseLength = 200;

    /// <summary>The step that failed as the classic builder prints it, e.g. <c>Step 4/7 : RUN pip install -r requirements.txt</c>.</summary>
    public string? FailingStep { get; } = failingStep;

    public string Error { get; } = error;

    /// <summary>The last lines of build output, failing command's own output included.</summary>
    public string OutputTail { get; } = outputTail;

    /// <summary>The image of the failing <c>FROM</c> when the engine does not have it; null when the build failed otherwise.</summary>
    public string? MissingBaseImage { get; } = missingBaseImage;

    /// <summary>The engine refused the Dockerfile itself (no step ran): the default hint, about RUN steps, does not apply.</summary>
    private static bool IsParseError(string error) =>
        error.Contains("unknown instruction", StringComparison.OrdinalIgnoreCase) || error.Contains("dockerfile parse error", StringComparison.OrdinalIgnoreCase) ||
        error.Contains("no build stage in current context", StringComparison.OrdinalIgnoreCase);

    private static string BaseImageHint(string image) =>
        $"a Dockerfile's FROM image must be in the engine (`docker images` lists it) or pullable from a registry the engine reaches: " +
        $"`docker pull {image}` where one is reachable, or `docker load -i FILE` of a `docker save {image} -o FILE` made elsewhere; " +
        "without a registry, an InfraMind checkout's scripts/setup-engine.sh builds local stand-ins of python:3.10-slim and python:3.11-slim. " +
        "Or change FROM to an image the engine has";
}

/// <summary>
/// InfraMind cannot enforce the isolation policy on this engine (it cannot enter a container's network namespace, the
/// container is not a process of this machine, or the engine gave it a network): the container was removed, nothing runs.
/// </summary>
public sealed class IsolationUnsupportedException(Uri endpoint, string reason)
    : ContainerEngineException(
        ContainerErrorCodes.IsolationUnsupported,
        $"isolation cannot be enforced on the engine at {endpoint}: {reason}. Nothing was left running: model containers " +
        "run with no network at all and InfraMind reaches their port from inside their network namespace, which needs " +
        "InfraMind on the engine's machine, as root.")
{
    public Uri Endpoint { get; } = endpoint;

    /// <summary>What did not hold, without the advice around it.</summary>
    public string Reason { get; } = reason;
}

/// <summary>A run asks for more CPU or memory than the engine's machine has: a request no limit can honour.</summary>
public sealed class ResourcesExceedEngineException(string what, string asked, string available)
    : ContainerEngineException(
        ContainerErrorCodes.ResourcesExceedEngine,
        $"the model asks for {asked} of {what} but the engine's machine has {available}",
        hint: $"lower resources.{what} in model.yaml, or run it on a node that has that much")
{
    public string Resource { get; } = what;
}

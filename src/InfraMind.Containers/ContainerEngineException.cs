namespace InfraMind.Containers;

/// <summary>Stable error codes of the container layer (IM3xxx). Each message starts with its code.</summary>
public static class ContainerErrorCodes
{
    public const string EngineUnavailable = "IM3001";
    public const string ImageBuildFailed = "IM3002";
    public const string InvalidBuildContext = "IM3003";
    public const string GpuUnavailable = "IM3004";
    public const string ContainerStartFailed = "IM3005";
    public const string ImageNotFound = "IM3006";
    public const string InvalidContainerSpec = "IM3007";
    public const string EngineRequestFailed = "IM3008";
    public const string IsolationUnsupported = "IM3009";
    public const string ResourcesExceedEngine = "IM3010";
}

/// <summary>An error of the container layer a user can act on; <see cref="Code"/> is stable, the message says how to fix it.</summary>
public class ContainerEngineException : Exception
{
    public ContainerEngineException(string code, string message, Exception? innerException = null)
        : base($"{code}: {message}", innerException)
    {
        Code = code;
    }

    public string Code { get; }
}

/// <summary>No container engine answers at the configured endpoint.</summary>
public sealed class EngineUnavailableException(Uri endpoint, string reason, Exception? innerException = null)
    : ContainerEngineException(
        ContainerErrorCodes.EngineUnavailable,
        $"no container engine answers at {endpoint} ({reason}). Start one with scripts/setup-engine.sh (as root), " +
        "or point DOCKER_HOST at a running Docker-compatible engine (unix:///path/to/docker.sock or tcp://127.0.0.1:PORT).",
        innerException)
{
    public Uri Endpoint { get; } = endpoint;
}

/// <summary>The engine ran the build and a step failed.</summary>
public sealed class ImageBuildFailedException(string tag, string? failingStep, string error, string outputTail)
    : ContainerEngineException(
        ContainerErrorCodes.ImageBuildFailed,
        $"building {tag} failed" + (failingStep is null ? "" : $" at \"{failingStep}\"") + $": {error}. " +
        "Fix the Dockerfile step (the build output tail is in OutputTail) and build again.")
{
    /// <summary>The step that failed as the classic builder prints it, e.g. <c>Step 4/7 : RUN pip install -r requirements.txt</c>.</summary>
    public string? FailingStep { get; } = failingStep;

    public string Error { get; } = error;

    /// <summary>The last lines of build output, failing command's own output included.</summary>
    public string OutputTail { get; } = outputTail;
}

/// <summary>
/// InfraMind cannot enforce the isolation policy on this engine (it cannot enter a container's network namespace, the
/// container is not a process of this machine, or the engine gave it a network): the container was removed, nothing runs.
/// </summary>
public sealed class IsolationUnsupportedException(Uri endpoint, string reason)
    : ContainerEngineException(
        ContainerErrorCodes.IsolationUnsupported,
        $"isolation cannot be enforced on the engine at {endpoint}: {reason}. Nothing was left running. Model containers " +
        "run with no network at all and InfraMind reaches their port from inside their network namespace, which needs " +
        "InfraMind on the engine's machine, as root (scripts/setup-engine.sh); `infra doctor` checks it.")
{
    public Uri Endpoint { get; } = endpoint;

    /// <summary>What did not hold, without the advice around it.</summary>
    public string Reason { get; } = reason;
}

/// <summary>A run asks for more CPU or memory than the engine's machine has: a request no limit can honour.</summary>
public sealed class ResourcesExceedEngineException(string what, string asked, string available)
    : ContainerEngineException(
        ContainerErrorCodes.ResourcesExceedEngine,
        $"the model asks for {asked} of {what} but the engine's machine has {available}: lower resources.{what} in model.yaml, " +
        "or run it on a node that has that much.")
{
    public string Resource { get; } = what;
}

using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace InfraMind.Containers;

/// <summary>What to run and with which limits; the isolation policy itself is not negotiable and not in here.</summary>
public sealed partial record ContainerSpec
{
    /// <summary>Image reference (tag or id). It must exist locally: nothing is pulled.</summary>
    public required string Image { get; init; }

    /// <summary>The TCP port the model listens on inside the container, reached only through <see cref="ContainerConnector"/>.</summary>
    public required int ContainerPort { get; init; }

    /// <summary>CPU limit in thousandths of a CPU (2 CPUs = 2000); 0 means no limit.</summary>
    public long CpuMillicores { get; init; }

    /// <summary>Memory limit in bytes, swap included; 0 means no limit.</summary>
    public long MemoryBytes { get; init; }

    /// <summary>GPUs to request; refused with IM3004 where the engine has no GPU runtime.</summary>
    public int GpuCount { get; init; }

    /// <summary>Most processes/threads the container may have.</summary>
    public long PidsLimit { get; init; } = 256;

    /// <summary>Most files (sockets included) each process of the container may have open (RLIMIT_NOFILE, soft = hard).</summary>
    public long OpenFilesLimit { get; init; } = 4096;

    public IReadOnlyDictionary<string, string> Environment { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>Extra labels; the managed and run labels are always added and cannot be overridden.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = FrozenDictionary<string, string>.Empty;

    /// <summary>Names the run's container and network (<c>inframind-&lt;id&gt;</c>); a random id when null.</summary>
    public string? RunId { get; init; }

    /// <summary>Overrides the image's CMD; null keeps it.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>
    /// The engine refuses less than this much memory for a container (Docker: "Minimum memory limit allowed is 6MB");
    /// model.yaml's <c>resources.memory</c> is held to the same at validation (Manifest's <c>ResourceRequest.MinimumMemoryBytes</c>).
    /// </summary>
    internal const long MinimumMemoryBytes = 6 * 1024 * 1024;

    // Fewer than 64 descriptors breaks ordinary servers; more than the kernel's default nr_open (2^20) is refused by it.
    internal const long MinimumOpenFiles = 64;
    internal const long MaximumOpenFiles = 1 << 20;

    /// <summary>Every problem of the spec, each with its fix; empty when it can run.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Image))
        {
            errors.Add("Image is empty: give an image tag or id that exists locally.");
        }

        if (ContainerPort is < 1 or > 65535)
        {
            errors.Add($"ContainerPort {ContainerPort} is not a TCP port: use 1 to 65535 (model.yaml 'port').");
        }

        if (CpuMillicores < 0)
        {
            errors.Add($"CpuMillicores {CpuMillicores} is negative: use 0 (no limit) or more.");
        }

        if (MemoryBytes < 0)
        {
            errors.Add($"MemoryBytes {MemoryBytes} is negative: use 0 (no limit) or at least {MinimumMemoryBytes} (6 MiB).");
        }
        else if (MemoryBytes > 0 && MemoryBytes < MinimumMemoryBytes)
        {
            // What model.yaml's resources.memory asks for (which may not be 0): the fix is there.
            errors.Add($"MemoryBytes {MemoryBytes} is less than {MinimumMemoryBytes} (6 MiB), the least memory the engine starts a container with: " +
                "give at least 6Mi (model.yaml 'resources.memory').");
        }

        if (GpuCount < 0)
        {
            errors.Add($"GpuCount {GpuCount} is negative: use 0 or more.");
        }

        if (PidsLimit < 1)
        {
            errors.Add($"PidsLimit {PidsLimit} must be at least 1.");
        }

        if (OpenFilesLimit is < MinimumOpenFiles or > MaximumOpenFiles)
        {
            errors.Add($"OpenFilesLimit {OpenFilesLimit} must be between {MinimumOpenFiles} and {MaximumOpenFiles}.");
        }

        if (RunId is not null && !RunIdPattern().IsMatch(RunId))
        {
            errors.Add($"RunId '{RunId}' must match {RunIdPattern()} (lower-case letters, digits, '.', '_', '-').");
        }

        foreach (var key in Environment.Keys.Where(k => k.Length == 0 || k.Contains('=', StringComparison.Ordinal)))
        {
            errors.Add($"Environment variable name '{key}' is empty or contains '='.");
        }

        if (Command is { Count: 0 })
        {
            errors.Add("Command is empty: leave it null to keep the image's CMD.");
        }

        return errors;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_.-]{0,62}$")]
    private static partial Regex RunIdPattern();
}

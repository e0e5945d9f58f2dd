namespace InfraMind.Containers;

/// <summary>How a command run in a container ended. <paramref name="ExitCode"/> is -1 when it timed out.</summary>
public sealed record ExecResult(long ExitCode, string Stdout, string Stderr, bool TimedOut, TimeSpan Duration)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;
}

/// <summary>The container's state as the engine reports it.</summary>
public sealed record ContainerStatus(string Status, bool Running, long ExitCode, bool OomKilled, string? Error);

/// <summary>Container output, demultiplexed; <paramref name="Combined"/> keeps the order the engine gave.</summary>
public sealed record ContainerLogs(string Stdout, string Stderr, string Combined);

/// <summary>What <see cref="ContainerEngine.PruneAsync"/> removed (networks: per-run networks left by versions before network mode none).</summary>
public sealed record PruneResult(IReadOnlyList<string> Containers, IReadOnlyList<string> Networks);

/// <summary>A local image.</summary>
public sealed record ImageSummary(string Id, IReadOnlyList<string> Tags, IReadOnlyDictionary<string, string> Labels, DateTime Created, long Size);

/// <summary>What the engine is and what the machine offers: a node reports this as its capacity.</summary>
/// <param name="IsPodman">Podman's Docker-compatible API (it names itself "Podman Engine" among its components).</param>
/// <param name="LoggingDriver">The engine's default log driver for containers (json-file, local, journald …).</param>
public sealed record EngineInfo(
    string ServerVersion,
    string ApiVersion,
    string OperatingSystem,
    string Architecture,
    int Cpus,
    long MemoryBytes,
    string CgroupVersion,
    IReadOnlyList<string> Runtimes,
    bool HasGpuRuntime,
    bool IsPodman = false,
    string LoggingDriver = "");

/// <summary>A container's processes as its pids cgroup counts them.</summary>
/// <param name="Current">Processes and threads now.</param>
/// <param name="Limit">The pids limit; null when unlimited.</param>
/// <param name="Refused">Forks the limit refused since the container started: the model hit its limit.</param>
public sealed record PidsUsage(long Current, long? Limit, long Refused);

/// <summary>What <see cref="ContainerEngine.CheckIsolationAsync"/> found.</summary>
/// <param name="Enforced">Runs here get the isolation policy: a container was entered and had nothing but loopback.</param>
/// <param name="Verified">A container could be started to try; false leaves the question open (runs still check at every start).</param>
/// <param name="Image">The image the throwaway container ran.</param>
/// <param name="Interfaces">The network interfaces inside it.</param>
/// <param name="Detail">What was seen, or why isolation cannot be enforced.</param>
public sealed record IsolationCheck(bool Enforced, bool Verified, string? Image, IReadOnlyList<string> Interfaces, string Detail);

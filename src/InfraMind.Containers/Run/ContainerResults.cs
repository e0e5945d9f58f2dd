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

/// <summary>What <see cref="ContainerEngine.PruneAsync"/> removed.</summary>
public sealed record PruneResult(IReadOnlyList<string> Containers, IReadOnlyList<string> Networks);

/// <summary>A local image.</summary>
public sealed record ImageSummary(string Id, IReadOnlyList<string> Tags, IReadOnlyDictionary<string, string> Labels, DateTime Created, long Size);

/// <summary>What the engine is and what the machine offers: a node reports this as its capacity.</summary>
public sealed record EngineInfo(
    string ServerVersion,
    string ApiVersion,
    string OperatingSystem,
    string Architecture,
    int Cpus,
    long MemoryBytes,
    string CgroupVersion,
    IReadOnlyList<string> Runtimes,
    bool HasGpuRuntime);

/// <summary>What a port probe saw: nothing behind the port, a connection that stayed open, or an answer.</summary>
public enum PortProbe
{
    /// <summary>Refused, or closed at once by the engine's proxy: nothing listens in the container.</summary>
    Closed,

    /// <summary>Still open after the settle time, with nothing said: very likely a listener.</summary>
    Open,

    /// <summary>Bytes came back: a listener, for certain.</summary>
    Answered,
}

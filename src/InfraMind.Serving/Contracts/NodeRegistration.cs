namespace InfraMind.Serving;

/// <summary>What a node offers: compute in the manifest's exact units.</summary>
public sealed record NodeCapacity(long CpuMillicores, long MemoryBytes, int GpuCount);

/// <summary>A node introducing itself to the gateway (POST /mesh/v1/nodes).</summary>
public sealed record NodeRegistration(
    string NodeId,
    Uri Address,
    NodeCapacity Capacity,
    IReadOnlyDictionary<string, string> Labels,
    TimeSpan HeartbeatInterval);

using System.Globalization;
using InfraMind.Manifest;

namespace InfraMind.Serving;

/// <summary>
/// How a node admits models (SPEC: resources are "compute limits requested at runtime"). A manifest's resources are the
/// limits its container runs under, enforced by the engine; a node admits models while the sum of their limits stays
/// within its machine times the overcommit ratios, and refuses outright only a model whose own limits exceed the
/// machine — it could never run there. The node registers the capacity it offers (<see cref="Offered"/>), so the
/// gateway's placement and the node's admission apply the same numbers.
/// </summary>
public sealed record ResourcePolicy(double CpuOvercommit, double MemoryOvercommit)
{
    /// <summary>The most a ratio may be: beyond it a limit means nothing.</summary>
    public const double MaxOvercommit = 16;

    /// <summary>Limits as reservations: the sum of admitted limits never exceeds the machine (<c>infra node serve</c>'s default).</summary>
    public static ResourcePolicy Exclusive { get; } = new(1, 1);

    /// <summary>
    /// Most model versions on one node by default (a node's <c>--max-models</c>, a gateway's
    /// <c>--max-models-per-node</c>), whatever their declared resources: each is a container, a probe and a pre-flight.
    /// </summary>
    public const int DefaultMaxModelsPerNode = 32;

    /// <summary>
    /// The embedded mesh (<c>infra mesh up</c>), whose nodes share one machine: CPU limits are quotas (a busy model is
    /// slowed, nothing fails), so they may add up to 4 times the machine's cores; memory is not overcommitted (a model
    /// over its memory is killed).
    /// </summary>
    public static ResourcePolicy SharedMachine { get; } = new(4, 1);

    /// <summary>What a node with <paramref name="machine"/> offers under this policy (GPUs are never shared).</summary>
    public NodeCapacity Offered(NodeCapacity machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return new NodeCapacity((long)(machine.CpuMillicores * CpuOvercommit), (long)(machine.MemoryBytes * MemoryOvercommit), machine.GpuCount);
    }

    /// <summary>Why <paramref name="need"/> can never run on <paramref name="machine"/>, or null.</summary>
    public static string? NeverFits(ResourceRequest need, NodeCapacity machine)
    {
        ArgumentNullException.ThrowIfNull(need);
        ArgumentNullException.ThrowIfNull(machine);
        if (need.CpuMillicores > machine.CpuMillicores)
            return $"needs {need.CpuMillicores}m CPU, more than this node's machine has ({machine.CpuMillicores}m): it can never run here";
        if (need.MemoryBytes > machine.MemoryBytes)
            return $"needs {Quantity.FormatBytes(need.MemoryBytes)} memory, more than this node's machine has ({Quantity.FormatBytes(machine.MemoryBytes)}): it can never run here";
        if (need.GpuCount > machine.GpuCount)
            return $"needs {need.GpuCount} GPU(s), this node has {machine.GpuCount}: it can never run here";
        return null;
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (what, ratio) in new[] { ("CPU", CpuOvercommit), ("memory", MemoryOvercommit) })
        {
            if (double.IsNaN(ratio) || ratio < 1 || ratio > MaxOvercommit)
                errors.Add($"the {what} overcommit ratio {ratio.ToString(CultureInfo.InvariantCulture)} must be between 1 and {MaxOvercommit.ToString(CultureInfo.InvariantCulture)}");
        }

        return errors;
    }
}

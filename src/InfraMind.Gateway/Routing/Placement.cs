using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Gateway.Routing;

/// <summary>
/// A node as placement sees it. <paramref name="Current"/>: the versions this gateway placed on it last time;
/// <paramref name="Refused"/>: the versions it refused.
/// </summary>
internal sealed record PlacementNode(string NodeId, NodeCapacity Capacity, bool Online, IReadOnlySet<string> Current, IReadOnlySet<string> Refused)
{
    /// <summary>The versions the node reports ready (passed its pre-flight).</summary>
    public IReadOnlySet<string> Ready { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Every version the node reports running, with its limits, whether this gateway knows it or not: what another
    /// gateway placed there uses the node too.
    /// </summary>
    public IReadOnlyDictionary<string, ResourceRequest> Running { get; init; } = new Dictionary<string, ResourceRequest>(StringComparer.Ordinal);
}

/// <summary>A model version to place, in the order they get first pick.</summary>
internal sealed record PlacementModel(string Key, ResourceRequest Resources);

/// <summary>
/// Which node runs which model version, decided so that every gateway that sees the same nodes and catalog decides the
/// same without asking any other (#16: no central placement). Nodes are ranked per version by rendezvous
/// (highest-random-weight) hashing of (version, node id), the same rank on every gateway; a version goes to the
/// best-ranked online nodes where it fits and that did not refuse it, until it has its replicas. A node that joins or
/// leaves moves only the versions it wins or held. While a node a version moves to is not ready yet, one node of this
/// gateway's previous placement that runs it ready stays as a stand-in (make before break), and goes once the new one
/// is ready. A node's word about what it runs is never a reason to place a version there: a node cannot draw a
/// version's traffic by claiming to run it.
/// Versions are placed in the order given (the gateway gives the registry's order, the same on every gateway;
/// duplicates count once); a node's free capacity is what it offers minus the limits of what is placed on it here
/// and of what it reports running that this gateway does not place (another gateway's versions).
/// </summary>
internal static class Placement
{
    public static Dictionary<string, HashSet<string>> Place(IReadOnlyList<PlacementModel> models, IReadOnlyList<PlacementNode> nodes, int replicas)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(nodes);
        var ordered = models.DistinctBy(m => m.Key).ToList();
        var known = ordered.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var result = nodes.ToDictionary(n => n.NodeId, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var free = nodes.ToDictionary(n => n.NodeId, n =>
        {
            var foreign = n.Running.Where(r => !known.Contains(r.Key)).Select(r => r.Value).ToList();
            return (Cpu: n.Capacity.CpuMillicores - foreign.Sum(r => r.CpuMillicores), Mem: n.Capacity.MemoryBytes - foreign.Sum(r => r.MemoryBytes),
                Gpu: (long)n.Capacity.GpuCount - foreign.Sum(r => r.GpuCount));
        }, StringComparer.Ordinal);
        var online = nodes.Where(n => n.Online).ToList();

        bool Fits(string node, ResourceRequest r) => free[node].Cpu >= r.CpuMillicores && free[node].Mem >= r.MemoryBytes && free[node].Gpu >= r.GpuCount;
        void Take(string node, PlacementModel m)
        {
            result[node].Add(m.Key);
            var f = free[node];
            free[node] = (f.Cpu - m.Resources.CpuMillicores, f.Mem - m.Resources.MemoryBytes, f.Gpu - m.Resources.GpuCount);
        }

        var ranks = ordered.ToDictionary(m => m.Key, m => online.Where(n => !n.Refused.Contains(m.Key))
            .OrderByDescending(n => Weight(m.Key, n.NodeId)).ThenBy(n => n.NodeId, StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

        // The target: each version on its best-ranked nodes that fit.
        foreach (var m in ordered)
        {
            var placed = 0;
            foreach (var n in ranks[m.Key])
            {
                if (placed >= replicas) break;
                if (!Fits(n.NodeId, m.Resources)) continue;
                Take(n.NodeId, m);
                placed++;
            }
        }

        // Make before break: for each target node not ready yet, one node it replaces that runs the version ready stays.
        foreach (var m in ordered)
        {
            var waiting = ranks[m.Key].Count(n => result[n.NodeId].Contains(m.Key) && !n.Ready.Contains(m.Key));
            foreach (var n in ranks[m.Key])
            {
                if (waiting <= 0) break;
                if (result[n.NodeId].Contains(m.Key) || !n.Current.Contains(m.Key) || !n.Ready.Contains(m.Key) || !Fits(n.NodeId, m.Resources)) continue;
                Take(n.NodeId, m);
                waiting--;
            }
        }

        return result;
    }

    /// <summary>
    /// The rendezvous weight of <paramref name="node"/> for <paramref name="key"/>: the first 8 bytes of
    /// SHA-256(key, node). The same on every gateway and in every process (unlike string.GetHashCode).
    /// </summary>
    internal static ulong Weight(string key, string node)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{key}\n{node}"), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Gateway.Routing;

/// <summary>
/// A node as placement sees it. <paramref name="Current"/>: the versions already on it (what this gateway placed there
/// and what the node reports running, placed by any gateway); <paramref name="Refused"/>: the versions it refused;
/// <paramref name="Running"/>: every version the node reports, with its limits, whether this gateway knows it or not
/// (what another gateway placed there uses the node too).
/// </summary>
internal sealed record PlacementNode(string NodeId, NodeCapacity Capacity, bool Online, IReadOnlySet<string> Current, IReadOnlySet<string> Refused)
{
    public IReadOnlyDictionary<string, ResourceRequest> Running { get; init; } = new Dictionary<string, ResourceRequest>(StringComparer.Ordinal);
}

/// <summary>A model version to place, in the order they get first pick.</summary>
internal sealed record PlacementModel(string Key, ResourceRequest Resources);

/// <summary>
/// Which node runs which model version, decided so that every gateway that sees the same nodes, reports and catalog
/// decides the same without asking any other (#16: no central placement). Nodes are ranked per version by rendezvous
/// (highest-random-weight) hashing of (version, node id), the same rank on every gateway; each version keeps the
/// nodes that already run it, best ranked first (no churn), then takes the best-ranked nodes where it fits, until it
/// has its replicas. Never a node that refused it or is offline. Versions are placed in the order given (the gateway
/// gives the registry's order, the same on every gateway; duplicates count once), and a node's free capacity is what it offers minus the limits of everything it runs (versions this gateway does not know
/// included) and of what is placed on it here, so two gateways count the same use.
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
            // What runs there that this gateway does not place (another gateway's catalog) uses the node all the same.
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
        var placed = ordered.ToDictionary(m => m.Key, _ => 0, StringComparer.Ordinal);

        foreach (var m in ordered)
        {
            foreach (var n in ranks[m.Key].Where(n => n.Current.Contains(m.Key)))
            {
                if (placed[m.Key] >= replicas) break;
                if (!Fits(n.NodeId, m.Resources)) continue;
                Take(n.NodeId, m);
                placed[m.Key]++;
            }
        }

        foreach (var m in ordered)
        {
            foreach (var n in ranks[m.Key])
            {
                if (placed[m.Key] >= replicas) break;
                if (result[n.NodeId].Contains(m.Key) || !Fits(n.NodeId, m.Resources)) continue;
                Take(n.NodeId, m);
                placed[m.Key]++;
            }
        }

        return result;
    }

    /// <summary>
    /// The rendezvous weight of <paramref name="node"/> for <paramref name="key"/>: the first 8 bytes of
    /// SHA-256(key, node). The same on every gateway and in every process (unlike string.GetHashCode); a node that joins
    /// or leaves moves only the versions it wins or held.
    /// </summary>
    internal static ulong Weight(string key, string node)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{key}\n{node}"), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }
}

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
    /// <summary>
    /// What is left of <paramref name="capacity"/> once <paramref name="used"/> is taken, at least -1 (no room): the
    /// amounts are a node's word, and a sum of them must not overflow (two reports of long.MaxValue once made every
    /// placement pass throw). Negative amounts count as none.
    /// </summary>
    internal static long Free(long capacity, IEnumerable<long> used)
    {
        Int128 left = capacity;
        foreach (var amount in used) left -= Math.Max(0, amount);
        return left < 0 ? -1 : (long)left;
    }

    /// <param name="ranks">
    /// The rendezvous order of nodes per version, kept between passes by the caller (<see cref="RendezvousRanks"/>) so
    /// that a pass costs O(nodes + versions × replicas) rather than a hash and a sort per (version, node); null ranks
    /// afresh.
    /// </param>
    /// <param name="maxPerNode">
    /// Most of these versions placed on one node. What it runs for other gateways is not counted: the node bounds its
    /// own total (<c>--max-models</c>) and refuses beyond, and its reports are its word, which must not cost it more.
    /// </param>
    public static Dictionary<string, HashSet<string>> Place(IReadOnlyList<PlacementModel> models, IReadOnlyList<PlacementNode> nodes, int replicas, RendezvousRanks? ranks = null,
        int maxPerNode = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(nodes);
        var ordered = models.DistinctBy(m => m.Key).ToList();
        var known = ordered.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var byId = nodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);
        ranks ??= new RendezvousRanks();
        ranks.Sync(byId.Keys, known);
        var result = nodes.ToDictionary(n => n.NodeId, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var free = nodes.ToDictionary(n => n.NodeId, n =>
        {
            var foreign = n.Running.Where(r => !known.Contains(r.Key)).Select(r => r.Value).ToList();
            return (Cpu: Free(n.Capacity.CpuMillicores, foreign.Select(r => r.CpuMillicores)), Mem: Free(n.Capacity.MemoryBytes, foreign.Select(r => r.MemoryBytes)),
                Gpu: Free(n.Capacity.GpuCount, foreign.Select(r => (long)r.GpuCount)));
        }, StringComparer.Ordinal);

        // The nodes this gateway placed each version on last time: the candidates to stay as stand-ins.
        var holders = new Dictionary<string, List<PlacementNode>>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var key in n.Current)
            {
                if (!known.Contains(key)) continue;
                if (!holders.TryGetValue(key, out var list)) holders[key] = list = [];
                list.Add(n);
            }
        }

        bool Eligible(PlacementNode n, string key) => n.Online && !n.Refused.Contains(key);
        bool Fits(string node, ResourceRequest r) => free[node].Cpu >= r.CpuMillicores && free[node].Mem >= r.MemoryBytes && free[node].Gpu >= r.GpuCount &&
            result[node].Count < maxPerNode;
        void Take(string node, PlacementModel m)
        {
            result[node].Add(m.Key);
            var f = free[node];
            free[node] = (f.Cpu - m.Resources.CpuMillicores, f.Mem - m.Resources.MemoryBytes, f.Gpu - m.Resources.GpuCount);
        }

        // The target: each version on its best-ranked eligible nodes that fit (walked in rank order, no further than needed).
        var chosen = new Dictionary<string, List<PlacementNode>>(StringComparer.Ordinal);
        foreach (var m in ordered)
        {
            var list = chosen[m.Key] = [];
            foreach (var id in ranks.Ranked(m.Key))
            {
                if (list.Count >= replicas) break;
                var n = byId[id];
                if (!Eligible(n, m.Key) || !Fits(id, m.Resources)) continue;
                Take(id, m);
                list.Add(n);
            }
        }

        // Make before break: for each target node not ready yet, one node it replaces that runs the version ready stays.
        foreach (var m in ordered)
        {
            var waiting = chosen[m.Key].Count(n => !n.Ready.Contains(m.Key));
            if (waiting == 0 || !holders.TryGetValue(m.Key, out var held)) continue;
            foreach (var n in held.OrderBy(n => n, RendezvousRanks.Comparer(m.Key)))
            {
                if (waiting <= 0) break;
                if (!Eligible(n, m.Key) || result[n.NodeId].Contains(m.Key) || !n.Ready.Contains(m.Key) || !Fits(n.NodeId, m.Resources)) continue;
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

/// <summary>
/// The rendezvous rank of every known node per version — highest <see cref="Placement.Weight"/> first, then by id —
/// kept up to date as nodes and versions come and go: a new node is inserted into each version's order (a hash and a
/// binary search per version), a new version ranks every node once. A weight never changes, so nothing is ranked
/// twice. Not thread-safe: its owner (the gateway's mesh state) calls it under its lock.
/// </summary>
internal sealed class RendezvousRanks
{
    private readonly HashSet<string> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(ulong Weight, string Node)>> _ranks = new(StringComparer.Ordinal);

    private static readonly Comparer<(ulong Weight, string Node)> Order = Comparer<(ulong Weight, string Node)>.Create((a, b) =>
    {
        var byWeight = b.Weight.CompareTo(a.Weight);
        return byWeight != 0 ? byWeight : string.CompareOrdinal(a.Node, b.Node);
    });

    /// <summary>Brings the orders to exactly these nodes and versions.</summary>
    public void Sync(IEnumerable<string> nodes, IReadOnlySet<string> keys)
    {
        var wanted = nodes as IReadOnlySet<string> ?? nodes.ToHashSet(StringComparer.Ordinal);
        var gone = _nodes.Where(n => !wanted.Contains(n)).ToList();
        var added = wanted.Where(n => !_nodes.Contains(n)).ToList();
        foreach (var key in _ranks.Keys.Where(k => !keys.Contains(k)).ToList()) _ranks.Remove(key);
        if (gone.Count > 0)
        {
            var goneSet = gone.ToHashSet(StringComparer.Ordinal);
            foreach (var list in _ranks.Values) list.RemoveAll(e => goneSet.Contains(e.Node));
            _nodes.ExceptWith(gone);
        }

        foreach (var node in added)
        {
            foreach (var (key, list) in _ranks)
            {
                var entry = (Placement.Weight(key, node), node);
                var at = list.BinarySearch(entry, Order);
                list.Insert(at < 0 ? ~at : at, entry);
            }

            _nodes.Add(node);
        }

        foreach (var key in keys)
        {
            if (_ranks.ContainsKey(key)) continue;
            var list = _nodes.Select(n => (Placement.Weight(key, n), n)).ToList();
            list.Sort(Order);
            _ranks[key] = list;
        }
    }

    /// <summary>The nodes in rank order for <paramref name="key"/> (a version <see cref="Sync"/> was given).</summary>
    public IEnumerable<string> Ranked(string key)
    {
        foreach (var (_, node) in _ranks[key]) yield return node;
    }

    /// <summary>Orders nodes as <see cref="Ranked"/> does for <paramref name="key"/>.</summary>
    public static IComparer<PlacementNode> Comparer(string key) =>
        Comparer<PlacementNode>.Create((a, b) => Order.Compare((Placement.Weight(key, a.NodeId), a.NodeId), (Placement.Weight(key, b.NodeId), b.NodeId)));
}

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
    /// <summary>
    /// What the node's rank is drawn from: its key's fingerprint when it has one, else its id (<see cref="Placement.IdentityOf"/>).
    /// </summary>
    public string Identity { get; init; } = NodeId;

    /// <summary>The versions the node reports ready (passed its pre-flight).</summary>
    public IReadOnlySet<string> Ready { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// Every version the node reports running, with its limits, whether this gateway knows it or not: what another
    /// gateway placed there uses the node too.
    /// </summary>
    public IReadOnlyDictionary<string, ResourceRequest> Running { get; init; } = new Dictionary<string, ResourceRequest>(StringComparer.Ordinal);
}

/// <summary>A model version to place, in the order they get first pick.</summary>
internal sealed record PlacementModel(string Key, ResourceRequest Resources)
{
    /// <summary>
    /// What the version's ranks are drawn from (<see cref="Placement.SeedOf"/>): its key and its image's digest, which
    /// no one but its publisher knows before it is published.
    /// </summary>
    public string Seed { get; init; } = Key;
}

/// <summary>
/// Which node runs which model version, decided so that every gateway that sees the same nodes and catalog decides the
/// same without asking any other (#16: no central placement). Nodes are ranked per version by rendezvous
/// (highest-random-weight) hashing of (version's seed, node's identity), the same rank on every gateway: the seed
/// holds the image's digest and the identity is the node's key when it has one, so a node can neither choose its
/// rank by choosing its id nor work out a rank for a version before it is published; a version goes to the
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
        // The versions placed, each with its seed: what ranks them, and which versions a node's reports name that are not these.
        var seeds = ordered.ToDictionary(m => m.Key, m => m.Seed, StringComparer.Ordinal);
        var byId = nodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);
        ranks ??= new RendezvousRanks();
        ranks.Sync(nodes.ToDictionary(n => n.NodeId, n => n.Identity, StringComparer.Ordinal), seeds);
        var result = nodes.ToDictionary(n => n.NodeId, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var free = nodes.ToDictionary(n => n.NodeId, n =>
        {
            var foreign = n.Running.Where(r => !seeds.ContainsKey(r.Key)).Select(r => r.Value).ToList();
            return (Cpu: Free(n.Capacity.CpuMillicores, foreign.Select(r => r.CpuMillicores)), Mem: Free(n.Capacity.MemoryBytes, foreign.Select(r => r.MemoryBytes)),
                Gpu: Free(n.Capacity.GpuCount, foreign.Select(r => (long)r.GpuCount)));
        }, StringComparer.Ordinal);

        // The nodes this gateway placed each version on last time: the candidates to stay as stand-ins.
        var holders = new Dictionary<string, List<PlacementNode>>(StringComparer.Ordinal);
        foreach (var n in nodes)
        {
            foreach (var key in n.Current)
            {
                if (!seeds.ContainsKey(key)) continue;
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
            // Two tests, not one `||`: with the lookup's `out` behind a short circuit, a mutation of the `||` leaves
            // `held` unassigned, and Stryker then compiles out every mutant of this method (scripts/mutation.sh routing).
            if (waiting == 0) continue;
            if (!holders.TryGetValue(m.Key, out var held)) continue;
            foreach (var n in held.OrderBy(n => n, RendezvousRanks.Comparer(m.Seed)))
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
    /// The rendezvous weight of a node of identity <paramref name="node"/> for a version of seed <paramref name="seed"/>:
    /// the first 8 bytes of SHA-256(SHA-256(seed), node). The same on every gateway and in every process (unlike
    /// string.GetHashCode).
    /// </summary>
    internal static ulong Weight(string seed, string node) => Weight(SeedHash(seed), node);

    /// <summary>
    /// A seed's hash, which <see cref="Weight(ReadOnlySpan{byte}, string)"/> takes: hashed once per version, so that a
    /// weight hashes 32 bytes and the node's identity (one SHA-256 block for an id of up to 23 bytes) however long the
    /// version's name and digest are.
    /// </summary>
    internal static byte[] SeedHash(string seed) => SHA256.HashData(Encoding.UTF8.GetBytes(seed));

    /// <summary><see cref="Weight(string, string)"/> of a seed already hashed (<see cref="SeedHash"/>).</summary>
    internal static ulong Weight(ReadOnlySpan<byte> seedHash, string node)
    {
        var most = SHA256.HashSizeInBytes + Encoding.UTF8.GetMaxByteCount(node.Length);
        var input = most <= 512 ? stackalloc byte[most] : new byte[most];
        seedHash.CopyTo(input);
        var length = SHA256.HashSizeInBytes + Encoding.UTF8.GetBytes(node, input[SHA256.HashSizeInBytes..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input[..length], hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    /// <summary>
    /// A version's seed: its key and its image's digest. A key (name@version) can be guessed before it is published,
    /// so a node could have looked for an identity that wins it beforehand; the digest cannot.
    /// </summary>
    internal static string SeedOf(string key, string imageDigest) => $"{key}\n{imageDigest}";

    /// <summary>
    /// A node's identity for its rank: its key's fingerprint (<c>sha256:HEX</c>, which no node id can spell: ids hold
    /// no ':') when it registered with one, else its id. A node with a key cannot move its rank by choosing ids; a
    /// gateway that admits only listed keys (<c>--admit-node-keys</c>) thereby fixes every rank at admission.
    /// </summary>
    internal static string IdentityOf(string nodeId, string? keyFingerprint) => keyFingerprint ?? nodeId;
}

/// <summary>
/// The rendezvous rank of every known node per version — highest <see cref="Placement.Weight"/> of (the version's
/// seed, the node's identity) first, then by id — kept up to date as nodes and versions come and go: a new node is
/// inserted into each version's order (a hash and a binary search per version), a new version ranks every node once.
/// A node whose identity changed (it registered a key) and a version whose seed changed are ranked again; otherwise a
/// weight never changes, so nothing is ranked twice. Not thread-safe: its owner (the gateway's mesh state) calls it
/// under its lock.
/// </summary>
internal sealed class RendezvousRanks
{
    /// <summary>Each known node's identity, by id.</summary>
    private readonly Dictionary<string, string> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Seed, byte[] SeedHash, List<(ulong Weight, string Node)> Order)> _ranks = new(StringComparer.Ordinal);

    /// <summary>
    /// How many weights this instance has computed: what a <see cref="Sync"/> costs, counted so that "nothing is ranked
    /// twice" is a rule the tests hold (a sync that changes nothing computes none), not a hope.
    /// </summary>
    internal long Weighed { get; private set; }

    private static readonly Comparer<(ulong Weight, string Node)> Order = Comparer<(ulong Weight, string Node)>.Create((a, b) =>
    {
        var byWeight = b.Weight.CompareTo(a.Weight);
        return byWeight != 0 ? byWeight : string.CompareOrdinal(a.Node, b.Node);
    });

    /// <summary>Brings the orders to exactly these nodes (id → identity) and versions (key → seed).</summary>
    public void Sync(IReadOnlyDictionary<string, string> nodes, IReadOnlyDictionary<string, string> versions)
    {
        foreach (var (key, rank) in _ranks.ToList())
        {
            if (!versions.TryGetValue(key, out var seed) || seed != rank.Seed) _ranks.Remove(key);
        }

        var gone = _nodes.Where(n => !nodes.TryGetValue(n.Key, out var identity) || identity != n.Value).Select(n => n.Key).ToList();
        if (gone.Count > 0)
        {
            var goneSet = gone.ToHashSet(StringComparer.Ordinal);
            foreach (var (_, _, order) in _ranks.Values) order.RemoveAll(e => goneSet.Contains(e.Node));
            foreach (var id in gone) _nodes.Remove(id);
        }

        foreach (var (node, identity) in nodes)
        {
            if (_nodes.ContainsKey(node)) continue;
            foreach (var (_, seedHash, order) in _ranks.Values)
            {
                var entry = (Placement.Weight(seedHash, identity), node);
                Weighed++;
                var at = order.BinarySearch(entry, Order);
                order.Insert(at < 0 ? ~at : at, entry);
            }

            _nodes[node] = identity;
        }

        foreach (var (key, seed) in versions)
        {
            if (_ranks.ContainsKey(key)) continue;
            var seedHash = Placement.SeedHash(seed);
            var order = _nodes.Select(n => (Placement.Weight(seedHash, n.Value), n.Key)).ToList();
            order.Sort(Order);
            Weighed += order.Count;
            _ranks[key] = (seed, seedHash, order);
        }
    }

    /// <summary>The nodes in rank order for <paramref name="key"/> (a version <see cref="Sync"/> was given).</summary>
    public IEnumerable<string> Ranked(string key)
    {
        foreach (var (_, node) in _ranks[key].Order) yield return node;
    }

    /// <summary>Orders nodes as <see cref="Ranked"/> does for a version of seed <paramref name="seed"/>.</summary>
    public static IComparer<PlacementNode> Comparer(string seed)
    {
        var seedHash = Placement.SeedHash(seed);
        return Comparer<PlacementNode>.Create((a, b) => Order.Compare((Placement.Weight(seedHash, a.Identity), a.NodeId), (Placement.Weight(seedHash, b.Identity), b.NodeId)));
    }
}

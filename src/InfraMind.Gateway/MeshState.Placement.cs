using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway;

/// <summary>Placement in the mesh state: when a pass runs, what it reads, the rank cache and liveness.</summary>
internal sealed partial class MeshState
{
    private Dictionary<string, HashSet<string>> _placement = new(StringComparer.Ordinal);

    /// <summary>The inverse of <see cref="_placement"/>: version key → the nodes it is placed on (routing reads only these).</summary>
    private Dictionary<string, List<string>> _placedOn = new(StringComparer.Ordinal);

    /// <summary>Each version's rendezvous order of the known nodes, kept between placement passes.</summary>
    private readonly RendezvousRanks _ranks = new();

    /// <summary>
    /// Registrations since the last placement pass: they are placed together, at most every
    /// <see cref="PlacementInterval"/> (or at once for the node's own first heartbeat), so that a mesh of thousands
    /// of nodes coming up at once costs a pass per interval, not a pass per node.
    /// </summary>
    private readonly HashSet<string> _joinedSincePass = new(StringComparer.Ordinal);
    private bool _dirty;
    private DateTimeOffset _placedAt = DateTimeOffset.MinValue;

    /// <summary>The shortest time between two placement passes that registrations alone ask for.</summary>
    internal static readonly TimeSpan PlacementInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How often one node's own changes may make a pass run at once (<see cref="PlaceFor"/>).</summary>
    internal static readonly TimeSpan NodeForcedPassInterval = TimeSpan.FromSeconds(1);

    /// <summary>Placement passes run so far (tests, and what a node can make a gateway do).</summary>
    internal long PassCount { get; private set; }

    /// <summary>Recomputes placement; offline nodes lose their models to others. Caller holds the lock.</summary>
    private void Replace()
    {
        var nodes = _nodes.Values.Select(n => new PlacementNode(
            n.Registration.NodeId, n.Registration.Capacity, IsOnline(n),
            _placement.TryGetValue(n.Registration.NodeId, out var cur) ? cur : new HashSet<string>(), RefusedKeys(n.Reports))
        {
            Identity = Placement.IdentityOf(n.Registration.NodeId, n.Key?.Fingerprint),
            Ready = n.Reports.Where(r => r.Value.State == ModelState.Ready).Select(r => r.Key).ToHashSet(StringComparer.Ordinal),
            // A node's word about its use can only make it look fuller (to every gateway alike), never emptier than
            // nothing, nor one version fuller than the whole node.
            Running = n.Reports.Where(r => r.Value.State != ModelState.Refused).ToDictionary(r => r.Key, r => r.Value.Limits is { } l
                ? new ResourceRequest(
                    Math.Clamp(l.CpuMillicores, 0, Math.Max(0, n.Registration.Capacity.CpuMillicores)),
                    Math.Clamp(l.MemoryBytes, 0, Math.Max(0, n.Registration.Capacity.MemoryBytes)),
                    Math.Clamp(l.GpuCount, 0, Math.Max(0, n.Registration.Capacity.GpuCount)))
                : new ResourceRequest(0, 0, 0), StringComparer.Ordinal),
        }).ToList();
        // The versions in registry order, sorted once when they changed (SetModels).
        _placement = Placement.Place(_placementOrder, nodes, options.Replicas, _ranks, options.MaxModelsPerNode);
        var placedOn = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (node, keys) in _placement)
        {
            foreach (var key in keys)
            {
                if (!placedOn.TryGetValue(key, out var list)) placedOn[key] = list = [];
                list.Add(node);
            }
        }

        _placedOn = placedOn;
        _dirty = false;
        _placedAt = time.GetUtcNow();
        PassCount++;
        _joinedSincePass.Clear();
    }

    private static HashSet<string> RefusedKeys(Dictionary<string, ModelReport> reports) =>
        reports.Where(r => r.Value.State == ModelState.Refused).Select(r => r.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>A node (re)registered: placed now if no pass ran within <see cref="PlacementInterval"/>, else with the next. Caller holds the lock.</summary>
    private void Joined(string node)
    {
        _dirty = true;
        _joinedSincePass.Add(node);
        if (PassDue) Replace();
    }

    private bool PassDue => time.GetUtcNow() - _placedAt >= PlacementInterval;

    /// <summary>
    /// A pass that node <paramref name="n"/>'s own change asks for (it left, came back, or changed what it refuses): at
    /// once, so its versions move (or it gets its placement in the same reply), but at most every
    /// <see cref="NodeForcedPassInterval"/> per node; else with the next coalesced pass (within
    /// <see cref="PlacementInterval"/>, or the next liveness check), so that a node looping leave and heartbeat cannot
    /// make the gateway run a pass over every node and version on each. Caller holds the lock.
    /// </summary>
    private void PlaceFor(NodeRecord n)
    {
        var now = time.GetUtcNow();
        if (now - n.LastForcedPass >= NodeForcedPassInterval)
        {
            n.LastForcedPass = now;
            Replace();
            return;
        }

        _dirty = true;
        if (PassDue) Replace();
    }

    /// <summary>Whether two reports of a node give placement the same inputs: refusals, readiness, what runs and its limits.</summary>
    private static bool SamePlacementInputs(Dictionary<string, ModelReport> before, Dictionary<string, ModelReport> after)
    {
        if (before.Count != after.Count) return false;
        foreach (var (key, a) in after)
        {
            if (!before.TryGetValue(key, out var b)) return false;
            if ((a.State == ModelState.Refused) != (b.State == ModelState.Refused) || (a.State == ModelState.Ready) != (b.State == ModelState.Ready)) return false;
            if (!Equals(a.Limits, b.Limits)) return false;
        }

        return true;
    }

    /// <summary>
    /// Finds the nodes that went offline since the last check: each is marked (<see cref="NodeRecord.OfflineSince"/>),
    /// its attempts in flight are cancelled (their requests move on to another node rather than wait for the attempt's
    /// time limit) and its versions are placed elsewhere. Returns their ids.
    /// </summary>
    public IReadOnlyList<string> CheckLiveness()
    {
        // Each with the token its attempts hold now, taken under the lock: a heartbeat that brings the node back right
        // after the lock is left gives it a fresh token, which must stay uncancelled.
        var gone = new List<(NodeRecord Node, CancellationTokenSource Attempts)>();
        lock (_gate)
        {
            var now = time.GetUtcNow();
            foreach (var n in _nodes.Values)
            {
                if (n.OfflineSince is not null || IsOnline(n)) continue;
                n.OfflineSince = now;
                gone.Add((n, n.Gone));
                log.LogWarning("node {Node} offline: no heartbeat for {Ms} ms; its attempts in flight move on", n.Registration.NodeId, (long)(now - n.LastBeat).TotalMilliseconds);
            }

            if (gone.Count > 0 || _dirty) Replace();
        }

        // Outside the lock: cancelling runs the attempts' callbacks.
        foreach (var (_, attempts) in gone) attempts.Cancel();
        return [.. gone.Select(g => g.Node.Registration.NodeId)];
    }

    /// <summary>Cancelled once <paramref name="node"/> is found offline (never, for an unknown node).</summary>
    public CancellationToken GoneToken(string node)
    {
        lock (_gate) return _nodes.TryGetValue(node, out var n) ? n.Gone.Token : CancellationToken.None;
    }

    /// <summary>Places again now (e.g. after nodes went offline); heartbeats also do it.</summary>
    public void Refresh()
    {
        lock (_gate) Replace();
    }

    /// <summary>How many nodes the version is placed on now.</summary>
    public int PlacedCount(string key)
    {
        lock (_gate)
        {
            if (_dirty) Replace();
            return _placedOn.TryGetValue(key, out var nodes) ? nodes.Count : 0;
        }
    }
}

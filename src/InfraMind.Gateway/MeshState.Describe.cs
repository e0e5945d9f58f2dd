using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway;

/// <summary>The mesh state as operators read it: GET /inference/v1, the dashboard, metrics.</summary>
internal sealed partial class MeshState
{
    /// <summary>
    /// GET /inference/v1. Only what reads the mesh's mutable state runs under its lock: a row per served version (its
    /// nodes' standings, its quarantine) and per node, in no order. The grouping by name, the sorting (semantic versions
    /// at 5,000 versions are most of a build), each version's traffic (<see cref="ModelTraffic"/> has a lock of its own)
    /// and the document's shape are done after it is released, so routing waits on a dashboard's poll only for the copy
    /// (bench/MeshScale catalog prints both). With <paramref name="filter"/>, only the versions of the models and the
    /// nodes it keeps (<see cref="StateFilter"/>) are copied: a view of a few models costs those, whatever the catalog holds.
    /// </summary>
    public object Describe(string? filter = null)
    {
        List<VersionCopy> versions;
        List<(string Id, object Row)> nodes;
        DateTimeOffset now;
        lock (_gate)
        {
            if (_dirty) Replace();
            now = time.GetUtcNow();
            versions = filter is null ? new(_models.Count) : [];
            foreach (var m in _models)
                if (StateFilter.Keeps(filter, m.Published.Name)) versions.Add(CopyVersion(m, now));

            nodes = filter is null ? new(_nodes.Count) : [];
            foreach (var n in _nodes.Values)
                if (StateFilter.Keeps(filter, n.Registration.NodeId)) nodes.Add((n.Registration.NodeId, NodeRow(n)));
        }

        return new { models = ModelDocuments(versions), nodes = nodes.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Row).ToList(), at = now };
    }

    /// <summary>What a version shows, copied under the lock: its placements' rows, its quarantine, its traffic (read after).</summary>
    private readonly record struct VersionCopy(ServedModel Model, ModelTraffic Traffic, object? Quarantine, List<(string Id, object Row)> Nodes);

    /// <summary>A version's copy for the state document. Caller holds the lock.</summary>
    private VersionCopy CopyVersion(ServedModel m, DateTimeOffset now)
    {
        var quarantine = _quarantines.TryGetValue(m.Key, out var q) && q.IsQuarantined ? new { verdict = q.Verdict, nodes = q.Nodes, until = q.Until } : null;
        var placed = _placedOn.TryGetValue(m.Key, out var on) ? on : [];
        var rows = new List<(string, object)>(placed.Count);
        foreach (var id in placed) rows.Add((id, PlacementRow(id, m.Key, now)));
        return new VersionCopy(m, TrafficOf(m.Key), quarantine, rows);
    }

    /// <summary>
    /// The models of the state document from their versions' copies, outside the lock: by name, each with its latest and
    /// its versions newest first, each version's placements by node.
    /// </summary>
    private static List<object> ModelDocuments(IEnumerable<VersionCopy> versions) =>
        [.. versions.GroupBy(v => v.Model.Published.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (object)new
        {
            name = g.Key,
            latest = Latest(g.Select(v => v.Model))?.Published.Version.ToString(),
            versions = g.OrderByDescending(v => v.Model.Published.Version, SemVersion.PrecedenceComparer).Select(v => new
            {
                version = v.Model.Published.Version.ToString(),
                imageDigest = v.Model.Published.ImageDigest,
                contentReferences = v.Model.Published.ContentReferences,
                registryIndex = v.Model.Published.RegistryIndex,
                traffic = v.Traffic.Snapshot(),
                quarantine = v.Quarantine,
                nodes = v.Nodes.OrderBy(r => r.Id, StringComparer.Ordinal).Select(r => r.Row).ToList(),
            }).ToList(),
        })];

    /// <summary>A placed version's row for one node in the state document. Caller holds the lock.</summary>
    private object PlacementRow(string id, string key, DateTimeOffset now)
    {
        var n = _nodes[id];
        var r = n.Reports.GetValueOrDefault(key);
        var s = StandingOf(id, key);
        return new
        {
            node = id,
            online = IsOnline(n),
            state = r?.State.ToString().ToLowerInvariant() ?? "placed",
            verdict = r?.Verdict,
            detail = r?.Detail,
            restarts = r?.Restarts ?? 0,
            suspended = s.Suspension.IsSuspended,
            suspendedUntil = s.Suspension.Until,
            suspendedFor = s.Suspension.IsSuspended ? s.LastFault : null,
            suspensions = s.Suspension.Count,
            failures = s.Failures,
            successes = s.Successes,
            latencyMs = s.Latency.Milliseconds,
            // Put behind the others until then: the node answered busy (NodeChoice.BusyWindow).
            busyUntil = s.BusyUntil > now ? s.BusyUntil : null,
        };
    }

    /// <summary>The most refused reports a node's row lists (with <c>refusedCount</c> saying how many there are).</summary>
    internal const int MaxRefusedShown = 10;

    /// <summary>A node's row in the state document. Caller holds the lock.</summary>
    private object NodeRow(NodeRecord n) => new
    {
        id = n.Registration.NodeId,
        address = n.Registration.Address,
        online = IsOnline(n),
        left = n.Left,
        lastHeartbeat = n.LastBeat,
        offlineSince = n.OfflineSince,
        lastJob = n.LastJob,
        capacity = n.Registration.Capacity,
        requested = Requested(n.Registration.NodeId),
        labels = n.Registration.Labels,
        key = n.Key?.Fingerprint,
        tlsFingerprint = n.Registration.TlsFingerprint,
        receipts = n.Receipts.Count,
        disagreements = n.Evidence.Count,
        reputation = Math.Round(n.Reputation.Value, 4),
        // At most MaxRefusedShown of them (a node may report up to MaxReportsPerHeartbeat), then how many in all.
        refused = n.Reports.Values.Where(r => r.State == ModelState.Refused).Take(MaxRefusedShown).Select(r => new { model = ModelKey.Of(r.Name, r.Version), reason = r.Detail }).ToList(),
        refusedCount = n.Reports.Values.Count(r => r.State == ModelState.Refused),
    };

    /// <summary>The recent traffic of a version (made on first use; versions are few, each bounded). Caller holds the lock.</summary>
    private ModelTraffic TrafficOf(string key)
    {
        if (!_traffic.TryGetValue(key, out var t)) _traffic[key] = t = new ModelTraffic(time);
        return t;
    }

    /// <summary>
    /// The pressure on a node: the sum of the resource limits of the versions placed on it, beside the capacity it
    /// offers (which its resource policy may set above its machine). Caller holds the lock.
    /// </summary>
    private NodeCapacity Requested(string nodeId)
    {
        // The node's placed versions by key: O(versions on the node), not a walk of every version the catalog holds.
        var placed = _placement.TryGetValue(nodeId, out var keys) ? keys.Where(_byKey.ContainsKey).Select(k => _byKey[k].Manifest.Resources).ToList() : [];
        return new NodeCapacity(placed.Sum(r => r.CpuMillicores), placed.Sum(r => r.MemoryBytes), placed.Sum(r => r.GpuCount));
    }

    public IReadOnlyList<(string Node, double Reputation, bool Online)> NodeSummaries()
    {
        lock (_gate) return [.. _nodes.Values.Select(n => (n.Registration.NodeId, n.Reputation.Value, IsOnline(n)))];
    }
}

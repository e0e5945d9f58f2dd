using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway;

/// <summary>The mesh state as operators read it: GET /inference/v1, the dashboard, metrics.</summary>
internal sealed partial class MeshState
{
    /// <summary>GET /inference/v1.</summary>
    public object Describe()
    {
        lock (_gate)
        {
            if (_dirty) Replace();
            var now = time.GetUtcNow();
            var models = _models.GroupBy(m => m.Published.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new
            {
                name = g.Key,
                latest = Latest(g)?.Published.Version.ToString(),
                versions = g.OrderByDescending(m => m.Published.Version, SemVersion.PrecedenceComparer).Select(m => new
                {
                    version = m.Published.Version.ToString(),
                    imageDigest = m.Published.ImageDigest,
                    contentReferences = m.Published.ContentReferences,
                    registryIndex = m.Published.RegistryIndex,
                    traffic = TrafficOf(m.Key).Snapshot(),
                    quarantine = _quarantines.TryGetValue(m.Key, out var q) && q.IsQuarantined
                        ? new { verdict = q.Verdict, nodes = q.Nodes, until = q.Until }
                        : null,
                    nodes = (_placedOn.TryGetValue(m.Key, out var on) ? on : []).Order(StringComparer.Ordinal).Select(id =>
                    {
                        var n = _nodes[id];
                        var r = n.Reports.GetValueOrDefault(m.Key);
                        var s = StandingOf(id, m.Key);
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
                    }).ToList(),
                }).ToList(),
            }).ToList();
            var nodes = _nodes.Values.OrderBy(n => n.Registration.NodeId, StringComparer.Ordinal).Select(n => new
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
                refused = n.Reports.Values.Where(r => r.State == ModelState.Refused).Select(r => new { model = ModelKey.Of(r.Name, r.Version), reason = r.Detail }).ToList(),
            }).ToList();
            return new { models, nodes, at = now };
        }
    }

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

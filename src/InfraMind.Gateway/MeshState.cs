using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway;

/// <summary>A published model version as the gateway serves it: its typed manifest and what nodes are sent.</summary>
internal sealed record ServedModel(PublishedModel Published)
{
    public string Key { get; } = ModelKey.Of(Published.Name, Published.Version.ToString());

    /// <summary>The catalog's validated manifest (schemas built once per content, not per refresh).</summary>
    public ModelManifest Manifest => Published.Manifest.Manifest;

    public ModelAssignment Assignment { get; } = new(Published.Name, Published.Version.ToString(), Published.Manifest.Json,
        Published.ImageDigest, Published.ContentReferences, Published.RegistryIndex);
}

/// <summary>
/// Everything the gateway knows about the mesh, behind one lock: nodes, reports, placement, standings, quarantines.
/// Time comes from the injected <see cref="TimeProvider"/> only.
/// </summary>
internal sealed partial class MeshState(GatewayOptions options, TimeProvider time, GatewayMetrics metrics, ILogger log)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, NodeRecord> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Node, string Model), Standing> _standings = [];
    private readonly Dictionary<string, QuarantineTracker> _quarantines = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModelTraffic> _traffic = new(StringComparer.Ordinal);
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
    private IReadOnlyList<ServedModel> _models = [];
    private Dictionary<string, ServedModel> _byKey = new(StringComparer.Ordinal);

    public TimeProvider Time => time;

    public IReadOnlyList<ServedModel> Models
    {
        get
        {
            lock (_gate) return _models;
        }
    }

    public void SetModels(IReadOnlyList<ServedModel> models)
    {
        lock (_gate)
        {
            // The catalog is read again every refresh: placement runs only when the versions changed.
            var same = models.Count == _models.Count && models.Select(m => m.Key).SequenceEqual(_models.Select(m => m.Key), StringComparer.Ordinal);
            _models = models;
            _byKey = models.ToDictionary(m => m.Key, StringComparer.Ordinal);
            // Traffic of versions no longer served goes with them (a yanked version's samples are not kept forever).
            foreach (var gone in _traffic.Keys.Where(k => !_byKey.ContainsKey(k)).ToList()) _traffic.Remove(gone);
            if (!same) Replace();
        }
    }

    /// <summary>
    /// Admits a node. A new id gets a new credential, bound to it, and to <paramref name="key"/> when the node has one.
    /// A known id registers again with its credential (<paramref name="presented"/>) or, when bound to a key, with a
    /// registration signed by that key at <paramref name="signedAt"/> (checked by the caller), newer than the last one
    /// accepted: a node cannot take another's id, and a key-bound id never changes key.
    /// </summary>
    public (Admission Outcome, string? Credential) Register(NodeRegistration registration, string? presented, InfraMind.Signing.PublicKey? key = null, long signedAt = 0)
    {
        lock (_gate)
        {
            ForgetLongOffline();
            if (_nodes.TryGetValue(registration.NodeId, out var existing))
            {
                if (existing.Key is { } bound)
                {
                    if (key is null || !bound.Equals(key)) return (Admission.KeyMismatch, null);
                    if (signedAt <= existing.LastSigned) return (Admission.Replayed, null);
                }
                else if (!existing.Holds(presented))
                {
                    return (Admission.IdTaken, null);
                }

                existing.Registration = registration;
                existing.LastBeat = time.GetUtcNow();
                existing.Key ??= key;
                if (key is not null) existing.LastSigned = signedAt;
                log.LogInformation("node {Node} registered again at {Address}", registration.NodeId, registration.Address);
                Joined(registration.NodeId);
                return (Admission.Registered, existing.Credential);
            }

            if (_nodes.Count >= options.MaxNodes) return (Admission.Full, null);
            var credential = MeshToken.Create();
            _nodes[registration.NodeId] = new NodeRecord(registration, credential, time.GetUtcNow(), new Reputation(time, options.FailurePenalty, options.ReputationRecovery))
            {
                Key = key,
                LastSigned = key is null ? 0 : signedAt,
            };
            log.LogInformation("node {Node} registered at {Address}{Key}", registration.NodeId, registration.Address, key is null ? "" : $" with key {key.Fingerprint}");
            Joined(registration.NodeId);
            return (Admission.Registered, credential);
        }
    }

    /// <summary>Whether <paramref name="presented"/> is the credential of node <paramref name="id"/>.</summary>
    public NodeAuth Authenticate(string id, string? presented)
    {
        lock (_gate) return !_nodes.TryGetValue(id, out var n) ? NodeAuth.Unknown : n.Holds(presented) ? NodeAuth.Ok : NodeAuth.Forbidden;
    }

    /// <summary>Nodes offline for longer than <see cref="GatewayOptions.ForgetOfflineNodesAfter"/> go, with their standing. Caller holds the lock.</summary>
    private void ForgetLongOffline()
    {
        var now = time.GetUtcNow();
        foreach (var gone in _nodes.Values.Where(n => !IsOnline(n) && now - n.LastBeat > options.ForgetOfflineNodesAfter).Select(n => n.Registration.NodeId).ToList())
        {
            _nodes.Remove(gone);
            foreach (var key in _standings.Keys.Where(k => k.Node == gone).ToList()) _standings.Remove(key);
            log.LogInformation("node {Node} forgotten: offline for more than {Minutes} min", gone, options.ForgetOfflineNodesAfter.TotalMinutes);
        }
    }

    public bool IsOnline(NodeRecord n) =>
        time.GetUtcNow() - n.LastBeat <= n.Registration.HeartbeatInterval * options.MissedBeatsOffline;

    /// <summary>
    /// A heartbeat of node <paramref name="beat"/>.NodeId, counted only with that node's credential
    /// (<paramref name="presented"/>); <paramref name="reply"/> is null unless the result is <see cref="NodeAuth.Ok"/>.
    /// </summary>
    public NodeAuth Heartbeat(NodeHeartbeat beat, string? presented, out HeartbeatReply? reply)
    {
        reply = null;
        lock (_gate)
        {
            if (!_nodes.TryGetValue(beat.NodeId, out var node)) return NodeAuth.Unknown;
            if (!node.Holds(presented)) return NodeAuth.Forbidden;
            var cameBack = node.OfflineSince is not null || !IsOnline(node);
            node.LastBeat = time.GetUtcNow();
            if (node.OfflineSince is not null)
            {
                log.LogInformation("node {Node} is back online", beat.NodeId);
                node.OfflineSince = null;
                node.Gone = new CancellationTokenSource();
            }

            // Registrations waiting for a pass are placed before a node that joined among them reads its placement.
            if (_dirty && (_joinedSincePass.Contains(beat.NodeId) || PassDue)) Replace();
            var placedHere = _placement.TryGetValue(beat.NodeId, out var mine) ? mine : [];
            foreach (var r in beat.Models)
            {
                var key = ModelKey.Of(r.Name, r.Version);
                var s = StandingOf(beat.NodeId, key);
                // A pre-flight failure says something about the version only from a node it is placed on: a node cannot
                // fail (and quarantine) a version it was never given, nor report for another node.
                if (r.Failures > s.SeenNodeFailures && (r.State == ModelState.Failed ? r.Verdict : r.LastFailure) is { } v && placedHere.Contains(key))
                {
                    metrics.Failure(r.Name, beat.NodeId, v);
                    if (QuarantineOf(key).Observe(beat.NodeId, v)) log.LogWarning("{Model} quarantined: pre-flight failed with {Verdict} on several nodes", key, v);
                }

                s.SeenNodeFailures = r.Failures;
                if (r.State == ModelState.Ready && s.Suspension.TryReadmit(r.PreflightGeneration))
                    log.LogInformation("node {Node} re-admitted for {Model}: pre-flight passed", beat.NodeId, key);
            }

            var reports = beat.Models.ToDictionary(r => ModelKey.Of(r.Name, r.Version), StringComparer.Ordinal);
            var changed = !SamePlacementInputs(node.Reports, reports);
            var refused = changed && !RefusedKeys(node.Reports).SetEquals(RefusedKeys(reports));
            node.Reports = reports;
            // Placement reads only refusals, readiness and what runs with its limits: a heartbeat that changes none of
            // them (nearly all, in a steady mesh) places nothing — at 10,000 nodes that is most of a gateway's work.
            // A refusal or a node back online is placed at once; readiness and what runs are coalesced like registrations
            // (when thousands of nodes turn ready at once: a pass per interval, not per heartbeat).
            if (cameBack || refused)
            {
                Replace();
            }
            else if (changed)
            {
                _dirty = true;
                if (PassDue) Replace();
            }

            var assigned = _placement.TryGetValue(beat.NodeId, out var keys) ? keys : [];
            var preflight = new List<string>();
            foreach (var key in assigned)
            {
                var s = StandingOf(beat.NodeId, key);
                if (s.Suspension.PreflightDue && !s.Suspension.PreflightRequested)
                {
                    s.Suspension.PreflightRequested = true;
                    preflight.Add(key);
                }
                else if (s.ProbeWanted)
                {
                    preflight.Add(key);
                }

                s.ProbeWanted = false;
            }

            reply = new HeartbeatReply([.. assigned.Where(_byKey.ContainsKey).Select(k => _byKey[k].Assignment)], preflight);
            return NodeAuth.Ok;
        }
    }

    /// <summary>Recomputes placement; offline nodes lose their models to others. Caller holds the lock.</summary>
    private void Replace()
    {
        var nodes = _nodes.Values.Select(n => new PlacementNode(
            n.Registration.NodeId, n.Registration.Capacity, IsOnline(n),
            _placement.TryGetValue(n.Registration.NodeId, out var cur) ? cur : new HashSet<string>(),
            n.Reports.Where(r => r.Value.State == ModelState.Refused).Select(r => r.Key).ToHashSet(StringComparer.Ordinal))
        {
            Ready = n.Reports.Where(r => r.Value.State == ModelState.Ready).Select(r => r.Key).ToHashSet(StringComparer.Ordinal),
            // A node's word about its use can only make it look fuller (to every gateway alike), never emptier than nothing.
            Running = n.Reports.Where(r => r.Value.State != ModelState.Refused).ToDictionary(r => r.Key, r => r.Value.Limits is { } l
                ? new ResourceRequest(Math.Max(0, l.CpuMillicores), Math.Max(0, l.MemoryBytes), Math.Max(0, l.GpuCount))
                : new ResourceRequest(0, 0, 0), StringComparer.Ordinal),
        }).ToList();
        // In registry order (then by key), which every gateway reading the same registry sees alike: first published, first pick.
        var models = _models.OrderBy(m => m.Published.RegistryIndex ?? long.MaxValue).ThenBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new PlacementModel(m.Key, m.Manifest.Resources)).ToList();
        _placement = Placement.Place(models, nodes, options.Replicas, _ranks);
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
        var gone = new List<NodeRecord>();
        lock (_gate)
        {
            var now = time.GetUtcNow();
            foreach (var n in _nodes.Values)
            {
                if (n.OfflineSince is not null || IsOnline(n)) continue;
                n.OfflineSince = now;
                gone.Add(n);
                log.LogWarning("node {Node} offline: no heartbeat for {Ms} ms; its attempts in flight move on", n.Registration.NodeId, (long)(now - n.LastBeat).TotalMilliseconds);
            }

            if (gone.Count > 0 || _dirty) Replace();
        }

        // Outside the lock: cancelling runs the attempts' callbacks.
        foreach (var n in gone) n.Gone.Cancel();
        return [.. gone.Select(n => n.Registration.NodeId)];
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

    private Standing StandingOf(string node, string key)
    {
        if (!_standings.TryGetValue((node, key), out var s))
        {
            s = new Standing(new Suspension(time, options.SuspendAfterFailures, options.SuspensionStep, options.MaxSuspension));
            _standings[(node, key)] = s;
        }

        return s;
    }

    private QuarantineTracker QuarantineOf(string key)
    {
        if (!_quarantines.TryGetValue(key, out var q))
        {
            q = new QuarantineTracker(time, options.QuarantineNodes, options.QuarantineWindow, options.QuarantineDuration);
            _quarantines[key] = q;
        }

        return q;
    }

    public bool IsQuarantined(string key)
    {
        lock (_gate) return _quarantines.TryGetValue(key, out var q) && q.IsQuarantined;
    }

    /// <summary>Nodes that may take an attempt for <paramref name="key"/> now, excluding those already tried.</summary>
    public IReadOnlyList<Candidate> Candidates(string key, IReadOnlySet<string> exclude)
    {
        lock (_gate)
        {
            var list = new List<Candidate>();
            if (!_placedOn.TryGetValue(key, out var placedOn)) return list;
            foreach (var id in placedOn)
            {
                if (exclude.Contains(id) || !_nodes.TryGetValue(id, out var n) || !IsOnline(n)) continue;
                if (!n.Reports.TryGetValue(key, out var r) || r.State != ModelState.Ready) continue;
                var s = StandingOf(id, key);
                if (s.Suspension.IsSuspended) continue;
                list.Add(new Candidate(id, s.Latency.At(time.GetUtcNow()), n.Reputation.Value, Volatile.Read(ref n.InFlight)));
            }

            return list;
        }
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

    /// <summary>
    /// Where an attempt on <paramref name="node"/> goes: straight to the model's container when the node runs in this
    /// process (<see cref="GatewayOptions.LocalNodes"/>), presents the credential bound to the id and has the
    /// container ready; else the node's job API at the address it registered. Never an address a node reports. Null
    /// for an unknown node.
    /// </summary>
    public Route? RouteOf(string node, string name, string version)
    {
        NodeRecord? n;
        lock (_gate)
            if (!_nodes.TryGetValue(node, out n)) return null;
        if (options.DirectToLocalContainers && options.LocalNodes?.Find(node) is { } local && n.Holds(local.Credential) &&
            local.ConnectorOf(name, version) is { } connector)
        {
            return new Route(n.Registration.Address, connector, n.Credential, local);
        }

        return new Route(new Uri(n.Registration.Address, $"jobs/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(version)}"), null, n.Credential,
            TlsPin: n.Registration.TlsFingerprint);
    }

    public void Begin(string node)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(node, out var n)) return;
            Interlocked.Increment(ref n.InFlight);
            n.LastJob = time.GetUtcNow();
        }
    }

    /// <summary>An attempt ended (whatever its outcome): the load count goes down.</summary>
    public void End(string node)
    {
        lock (_gate)
            if (_nodes.TryGetValue(node, out var n)) Interlocked.Decrement(ref n.InFlight);
    }

    public void RecordSuccess(string node, string key, double ms)
    {
        lock (_gate)
        {
            var s = StandingOf(node, key);
            s.Latency.Record(ms, time.GetUtcNow());
            TrafficOf(key).Answered(ms);
            s.Successes++;
            s.Suspension.RecordSuccess();
        }
    }

    /// <summary>
    /// The failed attempts of one request, once it is over. When another node answered the same input
    /// (<paramref name="answered"/>), the input was not the cause: each failure is its node's (reputation, suspension).
    /// When every attempt failed, the input alone may have caused it, which a client can repeat at will: no node is
    /// penalised and nothing counts toward quarantine; each node is asked to pre-flight the version again instead
    /// (at most once per <see cref="GatewayOptions.ProbeCooldown"/>), and only what those pre-flights find, on inputs
    /// no client chose, counts toward quarantine.
    /// </summary>
    public void Settle(string key, string model, IReadOnlyList<(string Node, Verdict Verdict)> failures, bool answered)
    {
        lock (_gate)
        {
            foreach (var (node, verdict) in failures)
            {
                TrafficOf(key).Failed(verdict.WireName);
                if (!_nodes.TryGetValue(node, out var n)) continue;
                var s = StandingOf(node, key);
                s.Failures++;
                if (answered)
                {
                    NodeFault(n, s, key, model, verdict);
                }
                else if (s.ProbedAt is not { } at || time.GetUtcNow() - at >= options.ProbeCooldown)
                {
                    s.ProbedAt = time.GetUtcNow();
                    s.ProbeWanted = true;
                    log.LogInformation("{Model} failed with {Verdict} on {Node} for an input no node answered: asking for a pre-flight", key, verdict, node);
                }
            }
        }
    }

    /// <summary>The node failed where another answered: it loses reputation and, after consecutive failures, is suspended. Caller holds the lock.</summary>
    private void NodeFault(NodeRecord n, Standing s, string key, string model, Verdict verdict)
    {
        var node = n.Registration.NodeId;
        s.LastFault = verdict;
        n.Reputation.Penalise();
        metrics.Reputation(node, n.Reputation.Value);
        if (!s.Suspension.RecordFailure()) return;
        var placed = _placedOn.TryGetValue(key, out var on) ? on : [];
        var suspended = placed.Count(p => StandingOf(p, key).Suspension.IsSuspended);
        if (suspended + 1 > placed.Count / 2)
        {
            log.LogWarning("not suspending {Node} for {Model}: {Suspended} of {Placed} nodes are suspended already", node, key, suspended, placed.Count);
            return;
        }

        var report = n.Reports.TryGetValue(key, out var rep) ? rep.PreflightGeneration : 0;
        var period = s.Suspension.Suspend(report);
        metrics.Suspended(node, model);
        log.LogWarning("node {Node} suspended for {Model} for {Seconds} s after {Verdict}", node, key, period.TotalSeconds, verdict);
    }

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
                        };
                    }).ToList(),
                }).ToList(),
            }).ToList();
            var nodes = _nodes.Values.OrderBy(n => n.Registration.NodeId, StringComparer.Ordinal).Select(n => new
            {
                id = n.Registration.NodeId,
                address = n.Registration.Address,
                online = IsOnline(n),
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
        var placed = _placement.TryGetValue(nodeId, out var keys) ? _models.Where(m => keys.Contains(m.Key)).Select(m => m.Manifest.Resources).ToList() : [];
        return new NodeCapacity(placed.Sum(r => r.CpuMillicores), placed.Sum(r => r.MemoryBytes), placed.Sum(r => r.GpuCount));
    }

    public IReadOnlyList<(string Node, double Reputation, bool Online)> NodeSummaries()
    {
        lock (_gate) return [.. _nodes.Values.Select(n => (n.Registration.NodeId, n.Reputation.Value, IsOnline(n)))];
    }

    /// <summary>The highest version without a pre-release part.</summary>
    public static ServedModel? Latest(IEnumerable<ServedModel> versions) =>
        versions.Where(m => !m.Published.Version.IsPrerelease).OrderByDescending(m => m.Published.Version, SemVersion.PrecedenceComparer).FirstOrDefault();
}

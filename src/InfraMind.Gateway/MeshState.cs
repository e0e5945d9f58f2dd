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

    /// <summary>The node id each key is bound to, by the key's fingerprint: one key, one node.</summary>
    private readonly Dictionary<string, string> _keyHolders = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Node, string Model), Standing> _standings = [];
    private readonly Dictionary<string, QuarantineTracker> _quarantines = new(StringComparer.Ordinal);

    /// <summary>Attempts begun so far, under the lock (<see cref="Begin"/>): orders them, so a good answer can tell whether its attempt followed a busy one.</summary>
    private long _attempts;
    private readonly Dictionary<string, ModelTraffic> _traffic = new(StringComparer.Ordinal);
    private IReadOnlyList<ServedModel> _models = [];
    private Dictionary<string, ServedModel> _byKey = new(StringComparer.Ordinal);
    private Dictionary<string, ServedModel[]> _byName = new(StringComparer.Ordinal);

    /// <summary>The names of <see cref="_byName"/> in ordinal order (the dashboard's first hundred without a sort per poll).</summary>
    private string[] _names = [];
    private IReadOnlyList<PlacementModel> _placementOrder = [];

    public TimeProvider Time => time;

    public IReadOnlyList<ServedModel> Models
    {
        get
        {
            lock (_gate) return _models;
        }
    }

    /// <summary>
    /// The published versions of <paramref name="name"/> (empty for a name none has), by one lookup: every request
    /// resolves its model by name, and a registry that strangers publish to may hold many thousands of versions.
    /// </summary>
    public IReadOnlyList<ServedModel> VersionsOf(string name)
    {
        lock (_gate) return _byName.TryGetValue(name, out var versions) ? versions : [];
    }

    /// <summary>Whether the catalog serves this version now (a request resolved before a yank may outlive it).</summary>
    public bool IsServed(string key)
    {
        lock (_gate) return _byKey.ContainsKey(key);
    }

    public void SetModels(IReadOnlyList<ServedModel> models)
    {
        // Indexed and ordered before the lock is taken: with many versions that is the work, and routing and heartbeats
        // need not wait for it. In registry order (then by key), which every gateway reading the same registry sees
        // alike: first published, first pick; sorted here, not on every placement pass.
        var byKey = models.ToDictionary(m => m.Key, StringComparer.Ordinal);
        var byName = models.GroupBy(m => m.Published.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        var names = byName.Keys.Order(StringComparer.Ordinal).ToArray();
        IReadOnlyList<PlacementModel> order = [.. models.OrderBy(m => m.Published.RegistryIndex ?? long.MaxValue).ThenBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new PlacementModel(m.Key, m.Manifest.Resources) { Seed = Placement.SeedOf(m.Key, m.Published.ImageDigest) })];
        lock (_gate)
        {
            // Placement runs only when the versions (or their registry order) changed.
            var same = models.Count == _models.Count && models.Select(m => (m.Key, m.Published.RegistryIndex)).SequenceEqual(_models.Select(m => (m.Key, m.Published.RegistryIndex)));
            _models = models;
            _byKey = byKey;
            _byName = byName;
            _names = names;
            if (!same) _placementOrder = order;

            // Traffic of versions no longer served goes with them (a yanked version's samples are not kept forever).
            foreach (var gone in _traffic.Keys.Where(k => !_byKey.ContainsKey(k)).ToList()) _traffic.Remove(gone);
            if (!same) Replace();
        }
    }

    /// <summary>
    /// Admits a node. A new id gets a credential bound to it (the one the node presents when <see cref="MeshToken.IsProposable"/>,
    /// else a new one), and is bound to <paramref name="key"/> when the node has one.
    /// A known id registers again with its credential (<paramref name="presented"/>) or, when bound to a key, with a
    /// registration signed by that key at <paramref name="signedAt"/> (checked by the caller), newer than the last one
    /// accepted: a node cannot take another's id, and a key-bound id never changes key. A key holds one id: a new id with
    /// a key bound to an online node is <see cref="Admission.KeyInUse"/>; bound to one offline, the key moves to the new id.
    /// </summary>
    public (Admission Outcome, string? Credential) Register(NodeRegistration registration, string? presented, InfraMind.Signing.PublicKey? key = null, long signedAt = 0)
    {
        lock (_gate)
        {
            ForgetLongOffline();
            var known = _nodes.TryGetValue(registration.NodeId, out var existing);
            if (existing?.Key is { } bound)
            {
                if (key is null || !bound.Equals(key)) return (Admission.KeyMismatch, null);
                if (signedAt <= existing.LastSigned) return (Admission.Replayed, null);
            }
            else if (known && !existing!.Holds(presented))
            {
                return (Admission.IdTaken, null);
            }

            // One key, one node: a key's nodes would share its rank (Placement.IdentityOf) and take a version's
            // replicas side by side. A key bound to another node that is online is refused; one whose node is offline
            // or left moves to this id (a node restarted under another --id), and the old id goes. Its standing moves
            // with the key, as a restart keeps it: the key, not the id, is the node; else a node suspended for a lost
            // spot check would leave, come back under a new id a moment later and be served again at once.
            KeptStanding? moved = null;
            if (key is not null && _keyHolders.TryGetValue(key.Fingerprint, out var holderId) && holderId != registration.NodeId)
            {
                var holder = _nodes[holderId];
                if (IsOnline(holder)) return (Admission.KeyInUse, null);
                if (signedAt <= holder.LastSigned) return (Admission.Replayed, null);
                moved = StandingToKeep(holder);
                Forget(holderId);
                log.LogInformation("node {Old} forgotten: its key {Key} registered again as node {Node}, which takes its standing", holderId, key.Fingerprint, registration.NodeId);
            }

            // A key the gateway forgot with its node (offline too long) takes back the standing it had then.
            var forgotten = key is not null && moved is null && _forgottenKeys.TryGetValue(key.Fingerprint, out var f) ? f : null;
            if (known)
            {
                existing!.Registration = registration;
                existing.LastBeat = time.GetUtcNow();
                existing.Left = false;
                if (existing.Key is null && key is not null)
                {
                    existing.Key = key;
                    _keyHolders[key.Fingerprint] = registration.NodeId;
                }

                if (key is not null) existing.LastSigned = signedAt;
                if (moved is not null) TakeStanding(existing, moved);
                if (forgotten is not null) TakeForgotten(existing, forgotten);
                log.LogInformation("node {Node} registered again at {Address}", registration.NodeId, registration.Address);
                Rebound();
                Joined(registration.NodeId);
                return (Admission.Registered, existing.Credential);
            }

            if (_nodes.Count >= options.MaxNodes) return (Admission.Full, null);
            // The node's own proposal when it made one (so a retry after a lost answer presents the credential bound here), else ours.
            var credential = presented is not null && MeshToken.IsProposable(presented) ? presented : MeshToken.Create();
            Bind(registration, credential, time.GetUtcNow(), key, key is null ? 0 : signedAt);
            if (moved is not null) TakeStanding(_nodes[registration.NodeId], moved);
            if (forgotten is not null) TakeForgotten(_nodes[registration.NodeId], forgotten);
            log.LogInformation("node {Node} registered at {Address}{Key}", registration.NodeId, registration.Address, key is null ? "" : $" with key {key.Fingerprint}");
            Rebound();
            Joined(registration.NodeId);
            return (Admission.Registered, credential);
        }
    }

    /// <summary>
    /// A new id's record, with a fresh standing, bound to its credential and (when it has one) its key: the one place a
    /// registration (<see cref="Register"/>) and a binding kept from before a restart (<see cref="Restore"/>) become a
    /// node. Caller holds the lock and has checked that neither the id nor the key is bound.
    /// </summary>
    private void Bind(NodeRegistration registration, string credential, DateTimeOffset lastBeat, InfraMind.Signing.PublicKey? key, long lastSigned)
    {
        _nodes[registration.NodeId] = new NodeRecord(registration, credential, lastBeat, new Reputation(time, options.FailurePenalty, options.ReputationRecovery))
        {
            Key = key,
            LastSigned = lastSigned,
        };
        if (key is not null) _keyHolders[key.Fingerprint] = registration.NodeId;
    }

    /// <summary>
    /// Node <paramref name="n"/> takes the standing its key had under another id (<see cref="Register"/>), as a restart
    /// takes back a kept one. An id that had a standing of its own (a keyless node taking the key) keeps the lower
    /// reputation of the two, and a suspension of its own running unless the key's ends later. Caller holds the lock.
    /// </summary>
    private void TakeStanding(NodeRecord n, KeptStanding moved)
    {
        var own = n.Reputation.Kept;
        var ownValue = n.Reputation.Value;
        // Its own suspensions, by version, with their ends: one the key's does not outlast stays as it is.
        var ownUntil = _standings.Where(e => e.Key.Node == n.Registration.NodeId && e.Value.Suspension.Until is not null)
            .ToDictionary(e => e.Key.Model, e => e.Value.Suspension.Until!.Value.ToUnixTimeMilliseconds(), StringComparer.Ordinal);
        var outlasting = (moved.Suspensions ?? []).Where(k => !ownUntil.TryGetValue(k.Model, out var until) || k.Until > until).ToList();
        RestoreStanding(n, moved with { Suspensions = outlasting }, time.GetUtcNow());
        if (ownValue < n.Reputation.Value) n.Reputation.Restore(own.Score, own.At);
        while (n.Evidence.Count > EvidencePerNode) n.Evidence.Dequeue();
    }

    /// <summary>Whether <paramref name="presented"/> is the credential of node <paramref name="id"/>.</summary>
    public NodeAuth Authenticate(string id, string? presented)
    {
        lock (_gate) return !_nodes.TryGetValue(id, out var n) ? NodeAuth.Unknown : n.Holds(presented) ? NodeAuth.Ok : NodeAuth.Forbidden;
    }

    /// <summary>
    /// Nodes offline for longer than <see cref="GatewayOptions.ForgetOfflineNodesAfter"/> go, with their standing; a
    /// keyed node's standing stays with its key (<see cref="RememberStanding"/>). Caller holds the lock.
    /// </summary>
    private void ForgetLongOffline()
    {
        var now = time.GetUtcNow();
        ExpireForgottenStandings(now);
        foreach (var gone in _nodes.Values.Where(n => !IsOnline(n) && now - n.LastBeat > options.ForgetOfflineNodesAfter).ToList())
        {
            RememberStanding(gone, now);
            Forget(gone.Registration.NodeId);
            log.LogInformation("node {Node} forgotten: offline for more than {Minutes} min", gone.Registration.NodeId, options.ForgetOfflineNodesAfter.TotalMinutes);
        }
    }

    /// <summary>Node <paramref name="gone"/> and its standing go; placement runs without it at the next pass. Caller holds the lock.</summary>
    private void Forget(string gone)
    {
        if (_nodes.Remove(gone, out var record))
        {
            if (record.Key is { } bound) _keyHolders.Remove(bound.Fingerprint);
            Rebound();
        }

        foreach (var key in _standings.Keys.Where(k => k.Node == gone).ToList()) _standings.Remove(key);
        metrics.Forget(gone);
    }

    /// <summary>The id of the node bound to <paramref name="key"/>, if any.</summary>
    public string? HolderOf(InfraMind.Signing.PublicKey key)
    {
        lock (_gate) return _keyHolders.GetValueOrDefault(key.Fingerprint);
    }

    public bool IsOnline(NodeRecord n) =>
        !n.Left && time.GetUtcNow() - n.LastBeat <= n.Registration.HeartbeatInterval * options.MissedBeatsOffline;

    /// <summary>
    /// Node <paramref name="id"/> (authenticated by the caller) is leaving: offline now, its versions placed elsewhere,
    /// its attempts in flight left to finish (the node drains them before it stops its containers), no failure counted.
    /// False for an unknown node.
    /// </summary>
    public bool Leave(string id)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(id, out var n)) return false;
            if (!n.Left)
            {
                n.Left = true;
                n.OfflineSince ??= time.GetUtcNow();
                log.LogInformation("node {Node} is leaving: no new jobs go there; its jobs in flight finish", id);
                PlaceFor(n);
            }

            return true;
        }
    }

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
            node.Left = false;
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
                // A node may report any name and version: only those the catalog serves get a standing, or made-up ones,
                // new in every heartbeat, would each keep one for as long as the node stays.
                if (!_byKey.ContainsKey(key)) continue;
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
                {
                    Rebound();
                    log.LogInformation("node {Node} re-admitted for {Model}: pre-flight passed", beat.NodeId, key);
                }
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
                PlaceFor(node);
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

    /// <summary>How many (node, version) standings the gateway holds: at most its nodes times the catalog's versions.</summary>
    internal int StandingCount
    {
        get
        {
            lock (_gate) return _standings.Count;
        }
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
            var now = time.GetUtcNow();
            foreach (var id in placedOn)
            {
                if (exclude.Contains(id) || !Takes(id, key, out var n, out var s)) continue;
                list.Add(new Candidate(id, s.Latency.At(now), n.Reputation.Value, Volatile.Read(ref n.InFlight), s.BusyUntil > now));
            }

            return list;
        }
    }

    /// <summary>Whether some node could take a job of version <paramref name="key"/> now (<see cref="Candidates"/> is not empty), without listing them.</summary>
    public bool HasCandidate(string key)
    {
        lock (_gate)
        {
            if (!_placedOn.TryGetValue(key, out var placedOn)) return false;
            foreach (var id in placedOn)
            {
                if (Takes(id, key, out _, out _)) return true;
            }

            return false;
        }
    }

    /// <summary>Whether node <paramref name="id"/>, where <paramref name="key"/> is placed, may take a job of it now: online, ready, not suspended. Caller holds the lock.</summary>
    private bool Takes(string id, string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NodeRecord? node, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Standing? standing)
    {
        standing = null;
        if (!_nodes.TryGetValue(id, out node) || !IsOnline(node) || !node.Reports.TryGetValue(key, out var r) || r.State != ModelState.Ready) return false;
        standing = StandingOf(id, key);
        return !standing.Suspension.IsSuspended;
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

    /// <summary>
    /// An attempt on <paramref name="node"/> begins: its load count goes up. Hand Load to <see cref="End"/>, and Number
    /// (this gateway's attempts in the order they began, from 1) to <see cref="RecordSuccess"/> or <see cref="RecordBusy"/>.
    /// </summary>
    public (NodeRecord? Load, long Number) Begin(string node)
    {
        lock (_gate)
        {
            var number = ++_attempts;
            if (!_nodes.TryGetValue(node, out var n)) return (null, number);
            Interlocked.Increment(ref n.InFlight);
            n.LastJob = time.GetUtcNow();
            return (n, number);
        }
    }

    /// <summary>
    /// An attempt ended (whatever its outcome): the load count of the record it began on goes down. Never looked up by
    /// id again: a node forgotten meanwhile and registered anew has a record of its own, which this attempt never loaded.
    /// </summary>
    public static void End(NodeRecord? attempt)
    {
        if (attempt is not null) Interlocked.Decrement(ref attempt.InFlight);
    }

    /// <summary>
    /// An attempt on <paramref name="node"/> answered. Counted (standing, traffic, the attempts series) only while the
    /// gateway still knows the node: an attempt that ends after its node was forgotten brings back no standing and no
    /// series of it (checked under the lock that forgetting takes). It ends the node's busy window for the version
    /// when the attempt (number <paramref name="attempt"/>, <see cref="Begin"/>) began after every attempt a busy
    /// answer came from (<see cref="Standing.BusyAttempt"/>): the node's gate admits oldest first, so a job sent after
    /// the refused one got its slot only after the refused one had left, which shows room the busy answer did not
    /// know of. An older attempt's answer does not end it, even when it arrives after the busy one: that job was ahead
    /// of the refused one (or already done at the node) and its slot may be the very one the refused job did not get.
    /// </summary>
    public void RecordSuccess(string node, string key, string model, double ms, long attempt)
    {
        lock (_gate)
        {
            if (!_nodes.ContainsKey(node)) return;
            metrics.Attempt(model, node, "ok");
            var s = StandingOf(node, key);
            s.Latency.Record(ms, time.GetUtcNow());
            TrafficOf(key).Answered(ms);
            s.Successes++;
            s.Suspension.RecordSuccess();
            if (attempt > s.BusyAttempt) s.BusyUntil = null;
        }
    }

    /// <summary>An attempt on <paramref name="node"/> failed with <paramref name="verdict"/>: its series, while the gateway still knows the node (as <see cref="RecordSuccess"/>).</summary>
    public void RecordFailedAttempt(string node, string model, Verdict verdict)
    {
        lock (_gate)
        {
            if (!_nodes.ContainsKey(node)) return;
            metrics.Attempt(model, node, "failed");
            metrics.Failure(model, node, verdict);
        }
    }

    /// <summary>
    /// Node <paramref name="node"/> answered busy for version <paramref name="key"/> (its container's JobGate was full),
    /// saying <paramref name="retryAfter"/> (null: nothing usable): it is put behind the nodes that did not for
    /// <see cref="NodeChoice.BusyWindow"/> (a few seconds at most), from now, so the requests that follow go elsewhere
    /// while it has no room. Its reputation and suspension are not touched (busy is load, not failure). Recorded at once,
    /// not when the request settles: requests in flight at the same time choose by it too. A good answer to an attempt
    /// that began after <paramref name="attempt"/> (and after every other attempt that met a busy answer) ends the
    /// window early (<see cref="RecordSuccess"/>): the node has room again.
    /// </summary>
    public void RecordBusy(string node, string key, TimeSpan? retryAfter, long attempt)
    {
        lock (_gate)
        {
            if (!_nodes.ContainsKey(node) || !_byKey.ContainsKey(key)) return;
            var s = StandingOf(node, key);
            s.BusyUntil = time.GetUtcNow() + NodeChoice.BusyWindow(retryAfter);
            // The newest refused attempt: a busy answer of an older one arriving late must not let a job sent before
            // the newer refusal end the window.
            s.BusyAttempt = Math.Max(s.BusyAttempt, attempt);
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
                // A busy node refused the job before its model saw it: load, held against no one (JobGate).
                if (verdict == Verdict.NodeBusy) continue;
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
        Rebound();
        metrics.Suspended(node, model);
        log.LogWarning("node {Node} suspended for {Model} for {Seconds} s after {Verdict}", node, key, period.TotalSeconds, verdict);
    }

    /// <summary>The highest version without a pre-release part.</summary>
    public static ServedModel? Latest(IEnumerable<ServedModel> versions) =>
        versions.Where(m => !m.Published.Version.IsPrerelease).OrderByDescending(m => m.Published.Version, SemVersion.PrecedenceComparer).FirstOrDefault();
}

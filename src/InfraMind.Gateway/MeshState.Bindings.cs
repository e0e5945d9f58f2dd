using InfraMind.Gateway.Routing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway;

/// <summary>What the gateway keeps of its nodes' identities across its restarts (<see cref="NodeBindings"/>).</summary>
internal sealed partial class MeshState
{
    /// <summary>
    /// Changes to what is bound (an id admitted, re-registered, bound to a key, forgotten) and to a node's suspensions
    /// (suspended, re-admitted) and evidence (a spot check lost) since the start; under the lock. A reputation's change is not one: it is written with
    /// the nodes' times, every <see cref="GatewayOptions.NodeBindingsRefresh"/>.
    /// </summary>
    private long _bindingChanges;

    /// <summary>Something bound changed: the next write of the bindings file is due at once. Caller holds the lock.</summary>
    private void Rebound() => _bindingChanges++;

    /// <summary>
    /// How long the standing of a keyed node the gateway forgot (offline for
    /// <see cref="GatewayOptions.ForgetOfflineNodesAfter"/>) is kept for its key. Without it, a node that waited that
    /// long came back, under any id, with a full reputation, no lost spot checks and its suspensions counted from none
    /// (its next one 30 s, not longer each time). With an admit list, where a key is what a stranger cannot make more
    /// of, that was a way to wash a record; without one, a new key is a new node anyway.
    /// </summary>
    internal static readonly TimeSpan ForgottenStandingsKept = TimeSpan.FromDays(1);

    /// <summary>
    /// The standings of forgotten keyed nodes, by key fingerprint (<see cref="ForgottenStandingsKept"/>): at most
    /// <see cref="GatewayOptions.MaxNodes"/>, the longest forgotten going first when more are, and only those with
    /// something against them (<see cref="OutlivesAbsence"/>). Under the lock.
    /// </summary>
    private readonly Dictionary<string, ForgottenStanding> _forgottenKeys = new(StringComparer.Ordinal);

    /// <summary>
    /// Keeps keyed node <paramref name="n"/>'s standing for its key as it is forgotten (the caller forgets it, which is
    /// a change to what is bound). Caller holds the lock.
    /// </summary>
    /// <remarks>Within the count: when it is reached, the longest forgotten goes.</remarks>
    private void RememberStanding(NodeRecord n, DateTimeOffset now)
    {
        if (n.Key is not { } key || StandingToKeep(n) is not { } standing || !OutlivesAbsence(standing)) return;
        if (_forgottenKeys.Count >= options.MaxNodes && !_forgottenKeys.ContainsKey(key.Fingerprint))
            _forgottenKeys.Remove(_forgottenKeys.Values.MinBy(f => f.ForgottenAt)!.Key);
        _forgottenKeys[key.Fingerprint] = new ForgottenStanding(key.Fingerprint, now.ToUnixTimeMilliseconds(), standing);
    }

    /// <summary>
    /// Whether a standing says anything once its node was away long enough to be forgotten: a suspension counted or a
    /// spot check lost. A reputation alone does not: it is whole again within minutes of its last fall.
    /// </summary>
    private static bool OutlivesAbsence(KeptStanding standing) => standing.Suspensions is { Count: > 0 } || standing.Evidence is { Count: > 0 };

    /// <summary>Forgotten standings older than <see cref="ForgottenStandingsKept"/> go. Caller holds the lock.</summary>
    private void ExpireForgottenStandings(DateTimeOffset now)
    {
        var oldest = (now - ForgottenStandingsKept).ToUnixTimeMilliseconds();
        foreach (var key in _forgottenKeys.Values.Where(f => f.ForgottenAt < oldest).Select(f => f.Key).ToList())
        {
            _forgottenKeys.Remove(key);
            Rebound();
        }
    }

    /// <summary>
    /// Node <paramref name="n"/>, which registered with the key of <paramref name="forgotten"/>, takes its standing
    /// back (the caller's registration is a change to what is bound). Caller holds the lock.
    /// </summary>
    private void TakeForgotten(NodeRecord n, ForgottenStanding forgotten)
    {
        _forgottenKeys.Remove(forgotten.Key);
        TakeStanding(n, forgotten.Standing);
        log.LogInformation("node {Node} takes back the standing its key {Key} had when its node was forgotten", n.Registration.NodeId, forgotten.Key);
    }

    /// <summary>
    /// Takes back the bindings an earlier run of this gateway kept, before it listens: each id keeps its credential, its
    /// key and its replay guard, so only its own node registers it again (or sends its heartbeats at once, as if the
    /// gateway had never gone). A binding's node counts from the time it was last seen: offline unless it was seen within
    /// its missed beats, and forgotten <see cref="GatewayOptions.ForgetOfflineNodesAfter"/> after that, as before the
    /// restart; one seen longer ago is not taken back, nor one the admit list of this run does not admit, nor any when
    /// the gateway runs with another key than the one it kept them with. A binding's standing comes back with it
    /// (<see cref="RestoreStanding"/>), and so do the forgotten keys' standings (<see cref="ForgottenStandingsKept"/>),
    /// with those of keyed bindings forgotten while the gateway was down. Returns how many bindings were taken back.
    /// </summary>
    public int Restore(KeptBindings kept)
    {
        if (kept.GatewayKey != options.Identity?.PublicKey.Fingerprint)
        {
            log.LogWarning("no node binding taken back: they were kept by this gateway with key {Before}, and it runs with {Now}; every node registers again",
                kept.GatewayKey ?? "(none)", options.Identity?.PublicKey.Fingerprint ?? "(none)");
            return 0;
        }

        lock (_gate)
        {
            var now = time.GetUtcNow();
            var restored = 0;
            var forgotten = new List<ForgottenStanding>();
            foreach (var b in kept.Nodes ?? [])
            {
                var seen = DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(b.LastSeen, 0, now.ToUnixTimeMilliseconds()));
                var key = b.Key is null ? null : InfraMind.Signing.PublicKey.FromBase64(b.Key);
                if (now - seen > options.ForgetOfflineNodesAfter)
                {
                    // Forgotten meanwhile, as it would have been had the gateway run on: a keyed node's standing stays with its key.
                    if (key is not null && b.Standing is { } left && OutlivesAbsence(left))
                        forgotten.Add(new ForgottenStanding(key.Fingerprint, (seen + options.ForgetOfflineNodesAfter).ToUnixTimeMilliseconds(), left));
                    continue;
                }

                if (_nodes.Count >= options.MaxNodes || _nodes.ContainsKey(b.Registration.NodeId)) continue;
                if (key is not null && _keyHolders.ContainsKey(key.Fingerprint)) continue;
                // Admitted by the rules of this run, not the last one's: with an admit list (perhaps new, perhaps
                // shorter), a node whose key is not listed, or that has none, is not taken back. It would register
                // again to be admitted (IM6043), and a binding must not let it beat on without that.
                if (options.AdmitNodeKeys is { } admitted && (key is null || !admitted.Contains(key.Fingerprint))) continue;
                Bind(b.Registration, b.Credential, seen, key, b.LastSigned);
                if (b.Standing is { } standing) RestoreStanding(_nodes[b.Registration.NodeId], standing, now);
                restored++;
            }

            if (restored > 0)
            {
                log.LogInformation("{Count} node binding(s) taken back from before the restart: those ids register (or beat) again only with their own credential or key", restored);
                _dirty = true;
            }

            // The forgotten keys' standings still kept, the latest forgotten first; none for a key bound to a node now.
            foreach (var f in (kept.Forgotten ?? []).Concat(forgotten).OrderByDescending(f => f.ForgottenAt))
            {
                var at = DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(f.ForgottenAt, now.ToUnixTimeMilliseconds()));
                if (now - at > ForgottenStandingsKept || _keyHolders.ContainsKey(f.Key) || _forgottenKeys.ContainsKey(f.Key) || _forgottenKeys.Count >= options.MaxNodes) continue;
                _forgottenKeys[f.Key] = f with { ForgottenAt = at.ToUnixTimeMilliseconds() };
            }

            if (_forgottenKeys.Count > 0)
                log.LogInformation("{Count} forgotten key(s)' standing taken back from before the restart: a node registering with one of those keys takes it back", _forgottenKeys.Count);

            return restored;
        }
    }

    /// <summary>
    /// Takes back a node's standing kept before the restart: its reputation recovers from when it was last set, and a
    /// suspension still running stays until its end (a lost spot check's until then whatever the node reports; one
    /// after failures until a fresh pre-flight); one whose period ended while the gateway was down asks for a pre-flight
    /// at the node's next heartbeat. The spot checks it lost come back with their receipts. Caller holds the lock.
    /// </summary>
    private void RestoreStanding(NodeRecord n, KeptStanding standing, DateTimeOffset now)
    {
        var node = n.Registration.NodeId;
        n.Reputation.Restore(standing.Reputation, DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(standing.ReputationAt, now.ToUnixTimeMilliseconds())));
        foreach (var k in standing.Suspensions ?? [])
        {
            var s = StandingOf(node, k.Model);
            // An end further off than the longest period is not one this gateway set: it is held to that.
            DateTimeOffset? until = k.Until is { } u ? DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(u, (now + options.MaxSuspension).ToUnixTimeMilliseconds())) : null;
            s.Suspension.Restore(k.Count, until, k.Generation, k.WaitsOutPeriod);
            s.LastFault = k.Reason;
        }

        // The evidence behind it, as it was: the receipts are signed by their nodes, whatever kept them.
        foreach (var d in (standing.Evidence ?? []).TakeLast(EvidencePerNode))
            n.Evidence.Enqueue(new Disagreement(DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(d.At, now.ToUnixTimeMilliseconds())), d.Model, d.RequestId, d.Receipts));
    }

    /// <summary>What is bound now, as the file keeps it, with the count of changes it reflects (a writer compares it with the last one written).</summary>
    public (long Changes, KeptBindings Kept) Bindings()
    {
        lock (_gate)
        {
            // The suspended standings, by node, in one pass: not a pass over every standing for each node (at 10,000
            // nodes that was quadratic, under the lock routing waits on).
            var suspended = _standings.Where(e => e.Value.Suspension.Count > 0).ToLookup(e => e.Key.Node, StringComparer.Ordinal);
            return (_bindingChanges, new KeptBindings(NodeBindings.Version, options.Identity?.PublicKey.Fingerprint,
                [.. _nodes.Values.Select(n => new NodeBinding(n.Registration, n.Credential, n.Key?.SubjectPublicKeyInfoBase64, n.LastSigned, n.LastBeat.ToUnixTimeMilliseconds(),
                    StandingToKeep(n, suspended[n.Registration.NodeId])))],
                [.. _forgottenKeys.Values.OrderByDescending(f => f.ForgottenAt)]));
        }
    }

    /// <summary>Node <paramref name="n"/>'s standing as the file keeps it (<see cref="StandingToKeep(NodeRecord, IEnumerable{KeyValuePair{ValueTuple{string, string}, Standing}})"/>). Caller holds the lock.</summary>
    private KeptStanding? StandingToKeep(NodeRecord n) =>
        StandingToKeep(n, _standings.Where(e => e.Key.Node == n.Registration.NodeId && e.Value.Suspension.Count > 0));

    /// <summary>
    /// A node's standing as the file keeps it, from its reputation, its <paramref name="suspended"/> standings (those
    /// suspended at least once) and the spot checks it lost: null while it has nothing to keep (a full reputation, never
    /// suspended, no spot check lost).
    /// </summary>
    private static KeptStanding? StandingToKeep(NodeRecord n, IEnumerable<KeyValuePair<(string Node, string Model), Standing>> suspended)
    {
        var (score, at) = n.Reputation.Kept;
        List<KeptSuspension> suspensions = [.. suspended
            .OrderByDescending(e => e.Value.Suspension.Until ?? DateTimeOffset.MinValue).ThenBy(e => e.Key.Model, StringComparer.Ordinal)
            .Take(NodeBindings.MaxSuspensionsKept)
            .Select(e => new KeptSuspension(e.Key.Model, e.Value.Suspension.Count, e.Value.Suspension.Until?.ToUnixTimeMilliseconds(),
                e.Value.Suspension.GenerationAtSuspension, e.Value.Suspension.WaitsOutPeriod, e.Value.LastFault))];
        return score >= 1 && suspensions.Count == 0 && n.Evidence.Count == 0
            ? null
            : new KeptStanding(score, at.ToUnixTimeMilliseconds(), suspensions,
                n.Evidence.Count == 0 ? null : [.. n.Evidence.Select(d => new KeptDisagreement(d.At.ToUnixTimeMilliseconds(), d.Model, d.RequestId, d.Receipts))]);
    }

    /// <summary>The count of changes to what is bound, without a copy of it.</summary>
    public long BindingChanges
    {
        get
        {
            lock (_gate) return _bindingChanges;
        }
    }
}

using InfraMind.Serving;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway;

/// <summary>What the gateway keeps of nodes' identities: their keys' last signatures, their receipts, and the evidence of spot checks.</summary>
internal sealed partial class MeshState
{
    /// <summary>The key node <paramref name="id"/> is bound to, and the time of its last accepted signature; (null, 0) without one.</summary>
    public (InfraMind.Signing.PublicKey? Key, long LastSigned) KeyOf(string id)
    {
        lock (_gate) return _nodes.TryGetValue(id, out var n) ? (n.Key, n.LastSigned) : (null, 0);
    }

    /// <summary>
    /// Takes a signed request of node <paramref name="id"/> made at <paramref name="signedAt"/>: false when it is not
    /// newer than the last one taken (a replay, or two requests raced).
    /// </summary>
    public bool TakeSigned(string id, long signedAt)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(id, out var n) || signedAt <= n.LastSigned) return false;
            n.LastSigned = signedAt;
            return true;
        }
    }

    /// <summary>Keeps a verified receipt of node <paramref name="id"/>: the last <see cref="GatewayOptions.ReceiptsPerNode"/>.</summary>
    public void KeepReceipt(string id, string receipt)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(id, out var n) || options.ReceiptsPerNode == 0) return;
            n.Receipts.Enqueue(receipt);
            while (n.Receipts.Count > options.ReceiptsPerNode) n.Receipts.Dequeue();
        }
    }

    /// <summary>GET /mesh/v1/nodes/{id}/receipts: the node's key and its last receipts, newest last; null for an unknown node.</summary>
    public object? ReceiptsOf(string id)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(id, out var n)
                ? new { node = id, key = n.Key?.Fingerprint, kept = options.ReceiptsPerNode, receipts = n.Receipts.ToList(), disagreements = n.Evidence.ToList() }
                : null;
        }
    }

    /// <summary>
    /// GET /mesh/v1/keys/{fingerprint}: the node a key is bound to now, or the standing a forgotten node left to it
    /// (<see cref="ForgottenStandingsKept"/>): when it was forgotten, its reputation then, its suspensions (how often,
    /// until when, for what) and the spot checks it lost with their receipts, as <c>/nodes/{id}/receipts</c> shows them.
    /// Null when neither is known.
    /// </summary>
    public object? KeyStanding(string fingerprint)
    {
        lock (_gate)
        {
            if (_keyHolders.TryGetValue(fingerprint, out var holder)) return new { key = fingerprint, node = holder };
            if (!_forgottenKeys.TryGetValue(fingerprint, out var f)) return null;
            var standing = f.Standing;
            return new
            {
                key = fingerprint,
                node = (string?)null,
                forgottenAt = DateTimeOffset.FromUnixTimeMilliseconds(f.ForgottenAt),
                reputation = standing.Reputation,
                suspensions = (standing.Suspensions ?? []).Select(k => new
                {
                    model = k.Model,
                    count = k.Count,
                    until = k.Until is { } u ? DateTimeOffset.FromUnixTimeMilliseconds(u) : (DateTimeOffset?)null,
                    reason = k.Reason?.WireName,
                }).ToList(),
                disagreements = (standing.Evidence ?? []).Select(d => new Disagreement(DateTimeOffset.FromUnixTimeMilliseconds(d.At), d.Model, d.RequestId, d.Receipts)).ToList(),
            };
        }
    }

    /// <summary>Most disagreements kept per node (each with the receipts of the answers compared).</summary>
    internal const int EvidencePerNode = 8;

    /// <summary>Most answers a spot check compares: the first, a second, and a third when those two differ.</summary>
    internal const int SpotCheckAnswers = 3;

    /// <summary>
    /// A spot check found <paramref name="node"/>'s answer to <paramref name="key"/> different from the one two other
    /// nodes agree on: the node loses reputation and is suspended for the version now (not after consecutive failures),
    /// unless half the version's nodes are suspended already; <paramref name="evidence"/> (each node's receipt) is kept.
    /// </summary>
    public void Disagreed(string node, string key, string model, string requestId, IReadOnlyDictionary<string, string?> evidence)
    {
        lock (_gate)
        {
            if (!_nodes.TryGetValue(node, out var n)) return;
            var s = StandingOf(node, key);
            s.Failures++;
            s.LastFault = Verdict.AnswerDisagrees;
            n.Reputation.Penalise();
            metrics.Reputation(node, n.Reputation.Value);
            metrics.Failure(model, node, Verdict.AnswerDisagrees);
            TrafficOf(key).Failed(Verdict.AnswerDisagrees.WireName);
            // To the millisecond, as the bindings file keeps it: the evidence shown after a restart is the same.
            n.Evidence.Enqueue(new Disagreement(DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds()), key, requestId, evidence));
            while (n.Evidence.Count > EvidencePerNode) n.Evidence.Dequeue();
            // The evidence is written with the standing at once, whether or not the node is suspended for it now.
            Rebound();
            var placed = _placedOn.TryGetValue(key, out var on) ? on : [];
            if (s.Suspension.IsSuspended || placed.Count(p => StandingOf(p, key).Suspension.IsSuspended) + 1 > placed.Count / 2)
            {
                log.LogWarning("node {Node} disagreed on {Model} (request {Request}) but is not suspended: it is already, or half the version's nodes are", node, key, requestId);
                return;
            }

            // A node that lied within the schema waits out its period: a pre-flight it reports passing proves nothing.
            var period = s.Suspension.Suspend(n.Reports.TryGetValue(key, out var r) ? r.PreflightGeneration : 0, waitOutPeriod: true);
            metrics.Suspended(node, model);
            log.LogWarning("node {Node} suspended for {Model} for {Seconds} s: its answer to request {Request} differs from two other nodes'", node, key, period.TotalSeconds, requestId);
        }
    }
}

/// <summary>A spot check a node lost: when, which version and request, and each compared node's receipt (null: the node has no key).</summary>
internal sealed record Disagreement(DateTimeOffset At, string Model, string RequestId, IReadOnlyDictionary<string, string?> Receipts);

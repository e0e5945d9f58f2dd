using InfraMind.Serving;

namespace InfraMind.Gateway.Routing;

/// <summary>
/// A node's reputation in (0, 1]: each failure multiplies it by a penalty; with time it returns toward 1 along
/// 1 − (1 − r)·e^(−t/τ), so an old failure weighs less than a new one.
/// </summary>
internal sealed class Reputation(TimeProvider time, double penalty, TimeSpan recovery)
{
    private const double Floor = 0.01;
    private double _score = 1;
    private DateTimeOffset _at = time.GetUtcNow();

    public double Value
    {
        get
        {
            var elapsed = (time.GetUtcNow() - _at).TotalSeconds;
            if (elapsed <= 0) return _score;
            return 1 - ((1 - _score) * Math.Exp(-elapsed / recovery.TotalSeconds));
        }
    }

    public void Penalise()
    {
        _score = Math.Max(Floor, Value * penalty);
        _at = time.GetUtcNow();
    }

    /// <summary>The score as last set and when (what <see cref="Value"/> recovers from): what a restart keeps.</summary>
    public (double Score, DateTimeOffset At) Kept => (_score, _at);

    /// <summary>
    /// Takes back a score kept before a restart: it recovers from <paramref name="at"/> as if the gateway had never
    /// stopped. Clamped to [0.01, 1] and to no later than now.
    /// </summary>
    public void Restore(double score, DateTimeOffset at)
    {
        _score = Math.Clamp(score, Floor, 1);
        var now = time.GetUtcNow();
        _at = at < now ? at : now;
    }
}

/// <summary>
/// A node's standing for one model version: consecutive failures suspend it for a growing period (step × n, capped);
/// after the period the gateway asks for a pre-flight, and a passing pre-flight re-admits it.
/// </summary>
internal sealed class Suspension(TimeProvider time, int suspendAfter, TimeSpan step, TimeSpan max)
{
    public int ConsecutiveFailures { get; private set; }

    /// <summary>How often this node was suspended for this model: the period grows with it.</summary>
    public int Count { get; private set; }

    public DateTimeOffset? Until { get; private set; }

    public bool IsSuspended => Until is not null;

    /// <summary>The pre-flight generation the node had reported when suspended; a higher one is a fresh pass.</summary>
    public long GenerationAtSuspension { get; private set; }

    /// <summary>The period is over: the node must pass a pre-flight to come back.</summary>
    public bool PreflightDue => Until is { } u && time.GetUtcNow() >= u;

    public bool PreflightRequested { get; set; }

    public void RecordSuccess() => ConsecutiveFailures = 0;

    /// <summary>Counts a failure; true when the node has now failed often enough to be suspended.</summary>
    public bool RecordFailure() => ++ConsecutiveFailures >= suspendAfter && !IsSuspended;

    // Whether this suspension is readmitted only after its period (a lost spot check), not at a fresh pre-flight.
    private bool _waitsOutPeriod;

    /// <param name="generation">The pre-flight generation the node reports now: only a higher one readmits.</param>
    /// <param name="waitOutPeriod">Readmit only after the period (a disagreement), not at a fresh pre-flight.</param>
    public TimeSpan Suspend(long generation, bool waitOutPeriod = false)
    {
        _waitsOutPeriod = waitOutPeriod;
        Count++;
        var period = TimeSpan.FromTicks(Math.Min(step.Ticks * Count, max.Ticks));
        Until = time.GetUtcNow() + period;
        GenerationAtSuspension = generation;
        ConsecutiveFailures = 0;
        PreflightRequested = false;
        return period;
    }

    /// <summary>Whether the suspension is readmitted only after its period (a lost spot check): what a restart keeps.</summary>
    public bool WaitsOutPeriod => _waitsOutPeriod;

    /// <summary>
    /// Takes back a suspension kept before a restart: its count, its end (null: not suspended now), the generation
    /// the node had reported and whether it waits out its period. A pre-flight is asked for again once the period is
    /// over; the failures in a row start from none.
    /// </summary>
    public void Restore(int count, DateTimeOffset? until, long generation, bool waitOutPeriod)
    {
        Count = count;
        Until = until;
        GenerationAtSuspension = generation;
        _waitsOutPeriod = waitOutPeriod && until is not null;
        ConsecutiveFailures = 0;
        PreflightRequested = false;
    }

    /// <summary>
    /// A pre-flight passed after the suspension began: back in service (the count stays, so a relapse waits longer).
    /// After failures, at once: a node whose container crashed restarts it and pre-flights it, and is back without
    /// waiting out the period (a wrong answer is caught on every answer anyway). After a disagreement (a spot check it
    /// lost: an answer within the schema that two other nodes contradict), only once the period has run: the
    /// generation is the node's word, and a node suspended for lying could otherwise come back at its next heartbeat
    /// by counting one up. A generation other than the one reported at the suspension is a fresh pass: higher, a pass
    /// since; lower, a new instance of the container (the node restarted and counts from none), which passed its own.
    /// </summary>
    public bool TryReadmit(long generation)
    {
        if (!IsSuspended || generation == GenerationAtSuspension || (_waitsOutPeriod && !PreflightDue)) return false;
        Until = null;
        PreflightRequested = false;
        ConsecutiveFailures = 0;
        return true;
    }
}

/// <summary>
/// Retries limited to a share of traffic: each request deposits <c>ratio</c> tokens, each retry takes one; a reserve
/// lets a quiet gateway re-route too. Keeps a sick mesh from being flooded by its own retries.
/// </summary>
internal sealed class RetryBudget(double ratio, int reserve)
{
    private readonly object _gate = new();
    private readonly double _cap = Math.Max(reserve, 1);
    private double _tokens = reserve;

    public void RecordRequest()
    {
        lock (_gate) _tokens = Math.Min(_cap, _tokens + ratio);
    }

    /// <summary>Whether a retry would be allowed now (taking none): the budget may be spent by others before one is tried.</summary>
    public bool CanRetry
    {
        get
        {
            lock (_gate) return _tokens >= 1;
        }
    }

    public bool TryRetry()
    {
        lock (_gate)
        {
            if (_tokens < 1) return false;
            _tokens -= 1;
            return true;
        }
    }
}

/// <summary>Exponentially weighted moving average of a node's latency for one model.</summary>
internal sealed class LatencyEwma(double alpha = 0.3)
{
    /// <summary>How fast an estimate no new sample confirms goes back to "unmeasured": half of the way every 5 s.</summary>
    public static readonly TimeSpan HalfLife = TimeSpan.FromSeconds(5);

    private DateTimeOffset _at;

    public double? Milliseconds { get; private set; }

    public void Record(double ms, DateTimeOffset at)
    {
        Milliseconds = Milliseconds is { } m ? m + (alpha * (ms - m)) : ms;
        _at = at;
    }

    /// <summary>
    /// The estimate node choice uses at <paramref name="now"/>: the EWMA, drifting back towards the cost of an
    /// unmeasured node the longer no request confirms it. Otherwise a node measured slow once (a cold start, a
    /// busy moment) would lose every comparison and never be measured again: starved for as long as the mesh runs.
    /// </summary>
    public double? At(DateTimeOffset now)
    {
        if (Milliseconds is not { } m) return null;
        var age = Math.Max(0, (now - _at).TotalSeconds);
        var kept = Math.Pow(0.5, age / HalfLife.TotalSeconds);
        return (m * kept) + (NodeChoice.UnmeasuredMs * (1 - kept));
    }
}

/// <summary>A node that may take the next attempt; <paramref name="Busy"/>: it answered node-busy for the version within its busy window.</summary>
internal sealed record Candidate(string NodeId, double? LatencyMs, double Reputation, int InFlight, bool Busy = false);

/// <summary>
/// Power of two choices: two distinct random candidates, the one with the lower cost wins. Cost is latency (EWMA)
/// times load, divided by reputation, so a fast but unreliable node loses to a slower reliable one. A node that just
/// answered busy (<see cref="Candidate.Busy"/>) is put behind the others: it is chosen only when every candidate is
/// busy, so a full container is not sent the next request too, and a model whose every node is full is still tried.
/// </summary>
internal static class NodeChoice
{
    /// <summary>What an unmeasured node's latency counts as: a fast one's, so it gets traffic and a measurement.</summary>
    public const double UnmeasuredMs = 1;

    /// <summary>The longest a busy answer puts its node behind the others, whatever Retry-After it said.</summary>
    public static readonly TimeSpan MaxBusyWindow = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a busy answer puts its node behind the others: the Retry-After the node said
    /// (<see cref="RetryAfterHeader.Read"/>: delta-seconds, at least 1), at most <see cref="MaxBusyWindow"/>; without
    /// one (a node that sent none or an unusable one, or a container of this process whose gate was full),
    /// <see cref="JobGate.RetryAfter"/>, what a node says.
    /// </summary>
    public static TimeSpan BusyWindow(TimeSpan? retryAfter) =>
        retryAfter is { } said && said > TimeSpan.Zero ? (said < MaxBusyWindow ? said : MaxBusyWindow) : JobGate.RetryAfter;

    public static double Cost(Candidate c)
    {
        var latency = c.LatencyMs ?? UnmeasuredMs;
        return (latency + 1) * (c.InFlight + 1) / Math.Max(c.Reputation, 0.01);
    }

    public static Candidate? Choose(IReadOnlyList<Candidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(random);
        if (candidates.Count == 0) return null;
        // Busy nodes only when every candidate is busy: behind the others, never excluded.
        var busy = 0;
        foreach (var c in candidates)
        {
            if (c.Busy) busy++;
        }

        if (busy > 0 && busy < candidates.Count) candidates = [.. candidates.Where(c => !c.Busy)];
        if (candidates.Count == 1) return candidates[0];
        var a = random.Next(candidates.Count);
        var b = random.Next(candidates.Count - 1);
        if (b >= a) b++;
        return Cost(candidates[b]) < Cost(candidates[a]) ? candidates[b] : candidates[a];
    }
}

/// <summary>
/// Tells a broken model version from a broken node: when several nodes fail one version with the same verdict of the
/// model's doing (<see cref="Fault.Model"/>) inside a window, the version is quarantined (not served) and the nodes are
/// not punished for it.
/// </summary>
internal sealed class QuarantineTracker(TimeProvider time, int nodes, TimeSpan window, TimeSpan duration)
{
    private readonly List<(string Node, Verdict Verdict, DateTimeOffset At)> _failures = [];

    public DateTimeOffset? Until { get; private set; }

    public Verdict? Verdict { get; private set; }

    public IReadOnlyList<string> Nodes { get; private set; } = [];

    public bool IsQuarantined
    {
        get
        {
            if (Until is { } u && time.GetUtcNow() >= u)
            {
                Until = null;
                Verdict = null;
                Nodes = [];
                _failures.Clear();
            }

            return Until is not null;
        }
    }

    /// <summary>Records a failure; true when it is (now) the version's fault rather than the node's.</summary>
    public bool Observe(string node, Verdict verdict)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        if (IsQuarantined) return true;
        // Only the model's doing (Verdict.Fault) says anything about the version; the rest is about the node.
        if (verdict.Fault != Fault.Model) return false;
        var now = time.GetUtcNow();
        _failures.RemoveAll(f => now - f.At > window);
        _failures.Add((node, verdict, now));
        var same = _failures.Where(f => ReferenceEquals(f.Verdict, verdict)).Select(f => f.Node).Distinct(StringComparer.Ordinal).ToList();
        if (same.Count < nodes) return false;
        Until = now + duration;
        Verdict = verdict;
        Nodes = same;
        return true;
    }
}

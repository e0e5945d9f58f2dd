using InfraMind.Gateway.Routing;
using InfraMind.Serving;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests.Routing;

public sealed class ReputationTests
{
    [Fact]
    public void A_failure_lowers_it_and_time_brings_it_back_toward_good()
    {
        var time = new FakeTimeProvider();
        var r = new Reputation(time, 0.5, TimeSpan.FromSeconds(60));
        Assert.Equal(1, r.Value);
        r.Penalise();
        Assert.Equal(0.5, r.Value, 6);
        r.Penalise();
        Assert.Equal(0.25, r.Value, 6);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(1 - (0.75 * Math.Exp(-1)), r.Value, 6);
        time.Advance(TimeSpan.FromMinutes(30));
        Assert.True(r.Value > 0.999);
    }

    [Fact]
    public void It_never_reaches_zero()
    {
        var r = new Reputation(new FakeTimeProvider(), 0.1, TimeSpan.FromSeconds(60));
        for (var i = 0; i < 50; i++) r.Penalise();
        Assert.True(r.Value > 0);
    }

    /// <summary>
    /// A failure long after the reputation was made (or after the last failure) counts in full, and the recovery runs
    /// from that failure: measured from an older instant, the penalty would be all but gone the moment it was given.
    /// </summary>
    [Fact]
    public void A_failure_long_after_the_last_counts_in_full_and_recovers_from_then()
    {
        var time = new FakeTimeProvider();
        var r = new Reputation(time, 0.5, TimeSpan.FromSeconds(60));
        time.Advance(TimeSpan.FromMinutes(30));
        r.Penalise();
        Assert.Equal(0.5, r.Value, 6);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(1 - (0.5 * Math.Exp(-1)), r.Value, 6);
    }

    /// <summary>
    /// Right after a failure the reputation is exactly the penalty times what it was: read at that instant it is the
    /// score itself, not the recovery formula at t = 0, whose 1 − (1 − 0.1) is 0.09999999999999998.
    /// </summary>
    [Fact]
    public void Right_after_a_failure_it_is_exactly_the_penalty_times_what_it_was()
    {
        var time = new FakeTimeProvider();
        var r = new Reputation(time, 0.1, TimeSpan.FromSeconds(60));
        r.Penalise();
        Assert.Equal(0.1, r.Value);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(r.Value > 0.1);
    }
}

public sealed class SuspensionTests
{
    [Fact]
    public void Consecutive_failures_suspend_and_a_success_resets_the_count()
    {
        var s = new Suspension(new FakeTimeProvider(), 3, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2));
        Assert.False(s.RecordFailure());
        Assert.False(s.RecordFailure());
        s.RecordSuccess();
        Assert.False(s.RecordFailure());
        Assert.False(s.RecordFailure());
        Assert.True(s.RecordFailure());
    }

    [Fact]
    public void The_period_grows_by_step_and_is_capped()
    {
        var time = new FakeTimeProvider();
        var s = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(75));
        Assert.Equal(TimeSpan.FromSeconds(30), s.Suspend(1));
        Assert.True(s.TryReadmit(2));
        Assert.Equal(TimeSpan.FromSeconds(60), s.Suspend(2));
        Assert.True(s.TryReadmit(3));
        Assert.Equal(TimeSpan.FromSeconds(75), s.Suspend(3));
    }

    /// <summary>
    /// Found by an audit: a node suspended for a lost spot check (an answer within the schema that two others
    /// contradicted) came back at its next heartbeat by reporting a higher pre-flight generation, its own word. It now
    /// waits out the period; a node suspended after failures (a crashed container, restarted and pre-flighted) does not.
    /// </summary>
    [Fact]
    public void A_node_that_lost_a_spot_check_waits_out_its_period_and_one_that_failed_comes_back_at_a_fresh_preflight()
    {
        var time = new FakeTimeProvider();
        var liar = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        liar.Suspend(generation: 4, waitOutPeriod: true);
        Assert.False(liar.TryReadmit(5));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(liar.TryReadmit(6));
        Assert.True(liar.IsSuspended);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(liar.TryReadmit(6));

        var crashed = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        crashed.Suspend(generation: 4);
        Assert.False(crashed.TryReadmit(4));
        Assert.True(crashed.TryReadmit(5));
        // The next suspension after failures is readmitted at once again, whatever the one before it was.
        liar.Suspend(generation: 7);
        Assert.True(liar.TryReadmit(8));
    }

    /// <summary>
    /// A node that restarts counts its pre-flights from none: the pass of its new container, reported with a lower
    /// generation than the one at the suspension, is a fresh pass too. Before, such a node stayed suspended until its
    /// count had climbed past the old one, and the one pre-flight the gateway asks for after the period did not get it there.
    /// </summary>
    [Fact]
    public void A_restarted_nodes_pass_counted_from_none_readmits_it_and_the_same_generation_does_not()
    {
        var time = new FakeTimeProvider();
        var s = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        s.Suspend(generation: 9);
        Assert.False(s.TryReadmit(9));
        Assert.True(s.TryReadmit(1));

        var liar = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        liar.Suspend(generation: 9, waitOutPeriod: true);
        Assert.False(liar.TryReadmit(1));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(liar.TryReadmit(1));
    }

    [Fact]
    public void After_the_period_a_preflight_is_due_and_only_a_fresh_pass_readmits()
    {
        var time = new FakeTimeProvider();
        var s = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        s.Suspend(generation: 4);
        Assert.True(s.IsSuspended);
        Assert.False(s.PreflightDue);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(s.PreflightDue);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(s.PreflightDue);
        Assert.False(s.TryReadmit(4));
        Assert.True(s.IsSuspended);
        Assert.True(s.TryReadmit(5));
        Assert.False(s.IsSuspended);
    }

    /// <summary>A pre-flight asked for during one suspension is not taken as asked for the next: each period asks anew.</summary>
    [Fact]
    public void A_new_suspension_asks_for_its_own_preflight()
    {
        var time = new FakeTimeProvider();
        var s = new Suspension(time, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10));
        s.Suspend(generation: 4);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(s.PreflightDue);
        s.PreflightRequested = true; // the gateway asked
        s.Suspend(generation: 4); // and it failed again meanwhile (a spot check lost)
        Assert.False(s.PreflightRequested);
        Assert.False(s.PreflightDue);
    }
}

public sealed class NodeChoiceTests
{
    [Fact]
    public void Of_two_it_takes_the_cheaper()
    {
        var fast = new Candidate("fast", 5, 1, 0);
        var slow = new Candidate("slow", 50, 1, 0);
        for (var seed = 0; seed < 20; seed++)
            Assert.Equal("fast", NodeChoice.Choose([fast, slow], new Random(seed))!.NodeId);
    }

    /// <summary>
    /// The two compared are two distinct candidates, wherever the cheaper stands in the list: compared with itself, the
    /// first one drawn would win by default, the dearer as often as not.
    /// </summary>
    [Fact]
    public void Of_two_it_takes_the_cheaper_whichever_comes_first()
    {
        var fast = new Candidate("fast", 5, 1, 0);
        var slow = new Candidate("slow", 50, 1, 0);
        for (var seed = 0; seed < 20; seed++)
        {
            Assert.Equal("fast", NodeChoice.Choose([slow, fast], new Random(seed))!.NodeId);
            Assert.Equal("fast", NodeChoice.Choose([fast, slow], new Random(seed))!.NodeId);
        }
    }

    [Fact]
    public void A_fast_node_with_a_bad_reputation_loses_to_a_slower_reliable_one()
    {
        Assert.True(NodeChoice.Cost(new Candidate("liar", 2, 0.05, 0)) > NodeChoice.Cost(new Candidate("honest", 10, 1, 0)));
    }

    [Fact]
    public void Load_counts()
    {
        Assert.True(NodeChoice.Cost(new Candidate("busy", 5, 1, 9)) > NodeChoice.Cost(new Candidate("idle", 5, 1, 0)));
    }

    /// <summary>The cost's weights: (latency + 1) × (in flight + 1) / reputation, an unmeasured node at 1 ms, reputation floored at 0.01.</summary>
    [Theory]
    [InlineData(9.0, 0.5, 1, 40.0)]
    [InlineData(9.0, 1.0, 0, 10.0)]
    [InlineData(0.0, 1.0, 3, 4.0)]
    [InlineData(null, 1.0, 0, 2.0)] // unmeasured: NodeChoice.UnmeasuredMs
    [InlineData(null, 0.25, 1, 16.0)]
    [InlineData(9.0, 0.01, 0, 1000.0)] // at the floor
    [InlineData(9.0, 0.001, 0, 1000.0)] // below it: counted as the floor
    [InlineData(9.0, 0.0, 0, 1000.0)]
    public void The_cost_is_latency_times_load_over_reputation(double? latencyMs, double reputation, int inFlight, double cost) =>
        Assert.Equal(cost, NodeChoice.Cost(new Candidate("n", latencyMs, reputation, inFlight)), 9);

    [Fact]
    public void Choosing_without_candidates_or_a_random_is_an_argument_error()
    {
        Assert.Equal("candidates", Assert.Throws<ArgumentNullException>(() => NodeChoice.Choose(null!, new Random(1))).ParamName);
        Assert.Equal("random", Assert.Throws<ArgumentNullException>(() => NodeChoice.Choose([], null!)).ParamName);
    }

    /// <summary>An EWMA of weight 0.3 by default: each sample moves the estimate that share of the way.</summary>
    [Fact]
    public void A_latency_is_an_exponentially_weighted_average_of_its_samples()
    {
        var t0 = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var e = new LatencyEwma();
        Assert.Null(e.Milliseconds);
        Assert.Null(e.At(t0));
        e.Record(10, t0);
        Assert.Equal(10, e.Milliseconds);
        e.Record(20, t0);
        Assert.Equal(13, e.Milliseconds!.Value, 9);
        e.Record(0, t0);
        Assert.Equal(9.1, e.Milliseconds!.Value, 9);
        Assert.Equal(9.1, e.At(t0)!.Value, 9);

        var half = new LatencyEwma(0.5);
        half.Record(10, t0);
        half.Record(30, t0);
        Assert.Equal(20, half.Milliseconds!.Value, 9);
    }

    [Fact]
    public void The_worst_of_many_is_never_chosen_and_every_other_one_is()
    {
        var nodes = Enumerable.Range(0, 5).Select(i => new Candidate($"n{i}", 10 * (i + 1), 1, 0)).ToList();
        var random = new Random(7);
        var chosen = Enumerable.Range(0, 2000).Select(_ => NodeChoice.Choose(nodes, random)!.NodeId).ToList();
        Assert.DoesNotContain("n4", chosen);
        Assert.Equal(4, chosen.Distinct().Count());
        Assert.True(chosen.Count(c => c == "n0") > chosen.Count(c => c == "n3"));
    }

    [Fact]
    public void None_or_one()
    {
        Assert.Null(NodeChoice.Choose([], new Random(1)));
        Assert.Equal("a", NodeChoice.Choose([new Candidate("a", null, 1, 0)], new Random(1))!.NodeId);
    }
}

public sealed class RetryBudgetTests
{
    [Fact]
    public void The_reserve_then_a_share_of_requests()
    {
        var b = new RetryBudget(0.2, 2);
        Assert.True(b.TryRetry());
        Assert.True(b.TryRetry());
        Assert.False(b.TryRetry());
        for (var i = 0; i < 4; i++) b.RecordRequest();
        Assert.False(b.TryRetry());
        b.RecordRequest();
        Assert.True(b.TryRetry());
        Assert.False(b.TryRetry());
    }

    [Fact]
    public void Quiet_time_does_not_save_up_more_than_the_reserve()
    {
        var b = new RetryBudget(0.5, 3);
        for (var i = 0; i < 100; i++) b.RecordRequest();
        Assert.Equal(3, Enumerable.Range(0, 10).Count(_ => b.TryRetry()));
    }

    /// <summary>CanRetry says what TryRetry would do now (the queue wait of an attempt depends on it): a whole token is a retry, half of one is not.</summary>
    [Fact]
    public void Can_retry_is_true_exactly_when_a_whole_token_is_left()
    {
        var b = new RetryBudget(0.5, 1);
        Assert.True(b.CanRetry);
        Assert.True(b.TryRetry());
        Assert.False(b.CanRetry);
        b.RecordRequest();
        Assert.False(b.CanRetry);
        b.RecordRequest();
        Assert.True(b.CanRetry);
        Assert.True(b.TryRetry());
    }
}

public sealed class QuarantineTests
{
    /// <summary>The verdict of that wire name; a name no verdict has fails the test instead of passing as Unknown.</summary>
    [Fact]
    public void A_latency_no_request_confirms_drifts_back_so_a_node_measured_slow_once_is_tried_again()
    {
        var t0 = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var slow = new LatencyEwma();
        slow.Record(50, t0);
        Assert.Equal(50, slow.At(t0));
        Assert.Equal(25.5, slow.At(t0 + LatencyEwma.HalfLife)!.Value, 6);
        Assert.InRange(slow.At(t0 + TimeSpan.FromMinutes(1))!.Value, 1, 1.02);

        // Against a node answering in 5 ms: right after its slow sample the slow node loses every comparison; a while
        // later without traffic it wins one, and so gets the request that measures it again.
        var fast = new Candidate("fast", 5, 1, 0);
        Assert.Same(fast, NodeChoice.Choose([fast, new Candidate("slow", slow.At(t0), 1, 0)], new Random(1)));
        var later = new Candidate("slow", slow.At(t0 + TimeSpan.FromSeconds(30)), 1, 0);
        Assert.Same(later, NodeChoice.Choose([fast, later], new Random(1)));
    }

    internal static Verdict Known(string wireName) => Verdict.TryFromWireName(wireName, out var v) ? v : throw new ArgumentException($"no verdict is named {wireName}");

    [Fact]
    public void The_same_verdict_on_two_nodes_quarantines_the_version()
    {
        var time = new FakeTimeProvider();
        var q = new QuarantineTracker(time, 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        Assert.False(q.Observe("a", Known("output-schema-violation")));
        Assert.False(q.Observe("a", Known("output-schema-violation")));
        Assert.False(q.Observe("b", Known("request-timeout")));
        Assert.True(q.Observe("b", Known("output-schema-violation")));
        Assert.True(q.IsQuarantined);
        Assert.Equal("output-schema-violation", q.Verdict?.WireName);
        Assert.Equal(["a", "b"], q.Nodes);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(q.IsQuarantined);
    }

    /// <summary>
    /// Two nodes failing one version each in its own way (both the model's doing) are not the same failure: a version
    /// is quarantined when its nodes agree on what is wrong with it, not when several things go wrong at once.
    /// </summary>
    [Fact]
    public void Different_verdicts_of_the_model_do_not_add_up()
    {
        var q = new QuarantineTracker(new FakeTimeProvider(), 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        Assert.False(q.Observe("a", Known("output-schema-violation")));
        Assert.False(q.Observe("b", Known("response-not-json")));
        Assert.False(q.IsQuarantined);
        Assert.True(q.Observe("c", Known("response-not-json")));
        Assert.Equal(["b", "c"], q.Nodes);
    }

    [Fact]
    public void Failures_outside_the_window_do_not_add_up()
    {
        var time = new FakeTimeProvider();
        var q = new QuarantineTracker(time, 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        q.Observe("a", Known("response-not-json"));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(q.Observe("b", Known("response-not-json")));
    }

    /// <summary>The window holds a failure exactly its length old; one tick older, it is gone.</summary>
    [Fact]
    public void A_failure_exactly_the_window_old_still_adds_up()
    {
        var time = new FakeTimeProvider();
        var q = new QuarantineTracker(time, 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        q.Observe("a", Known("response-not-json"));
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.True(q.Observe("b", Known("response-not-json")));

        var later = new QuarantineTracker(time, 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        later.Observe("a", Known("response-not-json"));
        time.Advance(TimeSpan.FromSeconds(60) + TimeSpan.FromTicks(1));
        Assert.False(later.Observe("b", Known("response-not-json")));
    }

    /// <summary>
    /// While a version is quarantined every failure of it is its own, whatever the verdict (its nodes are not punished
    /// for serving a version known broken); when the quarantine ends, counting starts afresh: the failures that led to
    /// it do not add up with the next one, even within the window.
    /// </summary>
    [Fact]
    public void During_quarantine_every_failure_is_the_versions_and_after_it_counting_starts_afresh()
    {
        var time = new FakeTimeProvider();
        var q = new QuarantineTracker(time, 2, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1));
        q.Observe("a", Known("output-schema-violation"));
        Assert.True(q.Observe("b", Known("output-schema-violation")));
        Assert.True(q.Observe("c", Known("connection-failed")));
        Assert.True(q.Observe("d", Known("request-timeout")));
        Assert.Equal(["a", "b"], q.Nodes);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(q.IsQuarantined);
        Assert.Empty(q.Nodes);
        Assert.Null(q.Verdict);
        Assert.False(q.Observe("c", Known("output-schema-violation")));
        Assert.True(q.Observe("d", Known("output-schema-violation")));
        Assert.Equal(["c", "d"], q.Nodes);
    }

    [Fact]
    public void Observing_no_verdict_is_an_argument_error() =>
        Assert.Equal("verdict", Assert.Throws<ArgumentNullException>(() => new QuarantineTracker(new FakeTimeProvider(), 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5))
            .Observe("a", null!)).ParamName);

    [Theory]
    [InlineData("connection-failed")]
    [InlineData("request-timeout")]
    [InlineData("container-exited")]
    [InlineData("model-not-ready")]
    public void Node_side_failures_never_quarantine(string verdict)
    {
        var q = new QuarantineTracker(new FakeTimeProvider(), 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        Assert.False(q.Observe("a", Known(verdict)));
        Assert.False(q.Observe("b", Known(verdict)));
        Assert.False(q.Observe("c", Known(verdict)));
        Assert.False(q.IsQuarantined);
    }

    public static TheoryData<string> AllVerdicts() => [.. Verdict.All.Select(v => v.WireName)];

    [Theory]
    [MemberData(nameof(AllVerdicts))]
    public void A_verdict_quarantines_exactly_when_it_is_the_models_fault(string wireName)
    {
        var verdict = Known(wireName);
        var q = new QuarantineTracker(new FakeTimeProvider(), 2, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
        q.Observe("a", verdict);
        Assert.Equal(verdict.Fault == Fault.Model, q.Observe("b", verdict));
        Assert.Equal(verdict.Fault == Fault.Model, q.IsQuarantined);
    }
}

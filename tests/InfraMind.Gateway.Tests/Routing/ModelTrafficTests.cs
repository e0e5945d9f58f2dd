using InfraMind.Gateway.Routing;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests.Routing;

public sealed class ModelTrafficTests
{
    [Fact]
    public void The_last_five_minutes_with_nearest_rank_percentiles_and_failures_by_verdict()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var traffic = new ModelTraffic(time);
        traffic.Answered(1000); // leaves the window below
        time.Advance(TimeSpan.FromMinutes(6));
        for (var ms = 1; ms <= 100; ms++) traffic.Answered(ms);
        traffic.Failed("output-schema-violation");
        traffic.Failed("output-schema-violation");
        traffic.Failed("request-timeout");

        var s = traffic.Snapshot();
        Assert.Equal(100, s.Answers);
        Assert.Equal(20, s.AnswersPerMinute);
        Assert.Equal(50, s.P50Ms);
        Assert.Equal(99, s.P99Ms);
        Assert.Equal(3, s.FailedAttempts);
        Assert.Equal(new Dictionary<string, int> { ["output-schema-violation"] = 2, ["request-timeout"] = 1 }, s.FailuresByVerdict);

        time.Advance(ModelTraffic.Window + TimeSpan.FromSeconds(1));
        var empty = traffic.Snapshot();
        Assert.Equal(0, empty.Answers);
        Assert.Null(empty.P50Ms);
        Assert.Empty(empty.FailuresByVerdict);
    }

    [Fact]
    public void Memory_is_bounded_whatever_the_traffic()
    {
        var traffic = new ModelTraffic(new FakeTimeProvider(DateTimeOffset.UnixEpoch));
        for (var i = 0; i < ModelTraffic.Capacity * 3; i++) traffic.Answered(i);
        var s = traffic.Snapshot();
        Assert.Equal(ModelTraffic.Capacity, s.Answers);
        Assert.Equal((ModelTraffic.Capacity * 2) + (ModelTraffic.Capacity / 2) - 1, s.P50Ms!.Value, 0); // the oldest went first
    }

    /// <summary>A sample exactly <see cref="ModelTraffic.Window"/> old is in the window; one tick older, it is not.</summary>
    [Fact]
    public void A_sample_exactly_the_window_old_counts_and_one_tick_older_does_not()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var traffic = new ModelTraffic(time);
        traffic.Answered(7);
        traffic.Failed("request-timeout");
        time.Advance(ModelTraffic.Window);
        var edge = traffic.Snapshot();
        Assert.Equal(1, edge.Answers);
        Assert.Equal(1, edge.FailedAttempts);
        time.Advance(TimeSpan.FromTicks(1));
        var past = traffic.Snapshot();
        Assert.Equal(0, past.Answers);
        Assert.Equal(0, past.FailedAttempts);
    }

    /// <summary>Failures by verdict come in the verdicts' ordinal order, not in the order they happened: the state document reads the same on every gateway.</summary>
    [Fact]
    public void Failures_by_verdict_are_in_the_verdicts_order()
    {
        var traffic = new ModelTraffic(new FakeTimeProvider(DateTimeOffset.UnixEpoch));
        foreach (var verdict in new[] { "request-timeout", "connection-failed", "output-schema-violation", "connection-failed" }) traffic.Failed(verdict);
        var s = traffic.Snapshot();
        Assert.Equal(["connection-failed", "output-schema-violation", "request-timeout"], s.FailuresByVerdict.Keys);
        Assert.Equal([2, 1, 1], s.FailuresByVerdict.Values);
        Assert.Equal(4, s.FailedAttempts);
    }
}

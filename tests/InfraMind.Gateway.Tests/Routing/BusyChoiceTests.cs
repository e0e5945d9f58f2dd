using InfraMind.Gateway.Routing;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests.Routing;

/// <summary>How a busy answer weighs in node choice (pure logic; BusyNodeTests has it end to end on a real gateway).</summary>
public sealed class BusyChoiceTests
{
    [Fact]
    public void A_busy_node_is_chosen_only_when_every_candidate_is_busy()
    {
        // The busy one is the cheaper by cost: without the busy mark it would win every comparison.
        var busy = new Candidate("busy", null, 1, 0, Busy: true);
        var slow = new Candidate("slow", 500, 0.5, 3);
        var other = new Candidate("other", 400, 0.5, 3);
        var random = new Random(7);
        for (var i = 0; i < 200; i++) Assert.NotEqual("busy", NodeChoice.Choose([busy, slow, other], random)!.NodeId);
        Assert.Equal("slow", NodeChoice.Choose([busy, slow], random)!.NodeId);
        // Every one busy: behind no one, chosen by cost as before; never excluded.
        Assert.Equal("busy", NodeChoice.Choose([busy], random)!.NodeId);
        Assert.Equal("busy", NodeChoice.Choose([busy, slow with { Busy = true }], random)!.NodeId);
    }

    [Theory]
    [InlineData(null, 1000)] // nothing usable said: JobGate.RetryAfter
    [InlineData(0, 1000)] // no wait said is no usable one
    [InlineData(-3, 1000)]
    [InlineData(1, 1000)]
    [InlineData(3, 3000)]
    [InlineData(5, 5000)]
    [InlineData(6, 5000)] // bounded: NodeChoice.MaxBusyWindow
    [InlineData(86400, 5000)]
    public void The_window_is_the_retry_after_said_bounded(int? seconds, int ms)
    {
        Assert.Equal(JobGate.RetryAfter, TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), NodeChoice.BusyWindow(seconds is { } s ? TimeSpan.FromSeconds(s) : null));
    }

    [Theory]
    [InlineData("2", 2)]
    [InlineData("0", null)] // not a wait
    [InlineData("-1", null)]
    [InlineData("soon", null)]
    [InlineData("Wed, 21 Oct 2099 07:28:00 GMT", null)] // a date needs two clocks to agree
    public void A_peers_retry_after_is_read_as_delta_seconds_of_at_least_one(string value, int? seconds)
    {
        using var response = new HttpResponseMessage();
        response.Headers.TryAddWithoutValidation("Retry-After", value);
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, RetryAfterHeader.Read(response.Headers.RetryAfter));
    }

    [Theory]
    [InlineData(0, "1")]
    [InlineData(0.2, "1")]
    [InlineData(1, "1")]
    [InlineData(1.2, "2")]
    [InlineData(5, "5")]
    public void A_wait_is_written_as_whole_seconds_rounded_up_at_least_one(double seconds, string header) =>
        Assert.Equal(header, RetryAfterHeader.Format(TimeSpan.FromSeconds(seconds)));
}

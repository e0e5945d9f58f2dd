using InfraMind.Serving;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Node.Tests;

/// <summary>
/// How long a node lets a job wait for one of its container's slots: half the job's time limit, or less when the
/// gateway's <see cref="MeshHeaders.QueueWaitMs"/> says so; never more, and a value it cannot read changes nothing.
/// </summary>
public sealed class QueueWaitHeaderTests
{
    private static TimeSpan Wait(TimeSpan timeout, params string[] values)
    {
        var headers = new HeaderDictionary();
        if (values.Length > 0) headers[MeshHeaders.QueueWaitMs] = values;
        return NodeAgent.QueueWait(headers, timeout);
    }

    [Fact]
    public void Without_the_header_a_job_waits_half_its_time_limit() => Assert.Equal(TimeSpan.FromSeconds(5), Wait(TimeSpan.FromSeconds(10)));

    [Theory]
    [InlineData("250", 250)]
    [InlineData("0", 0)] // no wait at all: a full container says busy at once
    [InlineData("4999", 4999)]
    public void A_shorter_wait_the_gateway_asks_for_is_taken(string value, int ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), Wait(TimeSpan.FromSeconds(10), value));

    [Theory]
    [InlineData("5000")] // the half itself
    [InlineData("60000")] // more than the half: never longer than a job always waited
    [InlineData("99999999999999999999")] // beyond a long
    [InlineData("-1")]
    [InlineData("+250")]
    [InlineData(" 250")]
    [InlineData("250ms")]
    [InlineData("2.5")]
    [InlineData("")]
    public void A_longer_or_unreadable_wait_is_the_half(string value) => Assert.Equal(TimeSpan.FromSeconds(5), Wait(TimeSpan.FromSeconds(10), value));

    [Fact]
    public void Two_values_are_not_read() => Assert.Equal(TimeSpan.FromSeconds(5), Wait(TimeSpan.FromSeconds(10), "100", "200"));
}

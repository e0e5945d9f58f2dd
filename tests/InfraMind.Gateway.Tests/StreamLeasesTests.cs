using System.Net;
using InfraMind.Gateway.Ingress;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The counts under health watches and reflection streams: per connection, per client address (an IPv6 /64 as one,
/// all its connections together) and in all, each refusal naming its limit, and every place given back.
/// </summary>
public sealed class StreamLeasesTests
{
    [Fact]
    public void One_address_cannot_take_every_stream_by_opening_more_connections()
    {
        var leases = new StreamLeases("health watches", perConnection: 2, perAddress: 3, total: 5);
        var one = IPAddress.Parse("192.0.2.7");
        var held = new List<IDisposable>
        {
            leases.Enter("c1", one, out _)!,
            leases.Enter("c1", one, out _)!,
            leases.Enter("c2", one, out _)!,
        };
        Assert.All(held, Assert.NotNull);

        Assert.Null(leases.Enter("c3", one, out var refusal));
        Assert.Equal("your address (192.0.2.7) already runs 3 health watches, the gateway's limit per address; cancel one", refusal);
        Assert.Null(leases.Enter("c1", IPAddress.Parse("192.0.2.8"), out refusal));
        Assert.StartsWith("this connection already runs 2 health watches, the gateway's limit per connection", refusal, StringComparison.Ordinal);

        // Other addresses take what is left of the total, and no more.
        held.Add(leases.Enter("c4", IPAddress.Parse("192.0.2.8"), out _)!);
        held.Add(leases.Enter("c5", IPAddress.Parse("192.0.2.9"), out _)!);
        Assert.All(held, Assert.NotNull);
        Assert.Null(leases.Enter("c6", IPAddress.Parse("192.0.2.10"), out refusal));
        Assert.Equal("the gateway already runs 5 health watches, its limit; try again later", refusal);

        // A lease given back (twice: counted once) frees its place for its address.
        held[0].Dispose();
        held[0].Dispose();
        Assert.Equal(4, leases.Count);
        using var again = leases.Enter("c3", one, out refusal);
        Assert.NotNull(again);
        Assert.Null(refusal);
    }

    [Fact]
    public void An_IPv6_slash_64_is_one_address()
    {
        var leases = new StreamLeases("reflection streams", perConnection: 16, perAddress: 2, total: 100);
        using var a = leases.Enter("c1", IPAddress.Parse("2001:db8:1:2::1"), out _);
        using var b = leases.Enter("c2", IPAddress.Parse("2001:db8:1:2:ffff::9"), out _);
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(leases.Enter("c3", IPAddress.Parse("2001:db8:1:2:abcd::1"), out var refusal));
        Assert.Equal("your address (2001:db8:1:2::/64) already runs 2 reflection streams, the gateway's limit per address; cancel one", refusal);
        using var other = leases.Enter("c4", IPAddress.Parse("2001:db8:1:3::1"), out _);
        Assert.NotNull(other);
    }

    [Fact]
    public async Task A_reflection_stream_reset_at_its_lifetime_gives_its_place_back_before_the_reset_goes_out()
    {
        // The caller that sees the reset may open another stream at once; its handler may still be winding down
        // (here: it never ends by itself), so the place cannot wait for the handler.
        var leases = new StreamLeases("reflection streams", perConnection: 1, perAddress: 1, total: 1);
        var http = new DefaultHttpContext();
        http.Connection.Id = "c1";
        http.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        var abort = new RecordingAbort(leases);
        http.Features.Set<IHttpRequestLifetimeFeature>(abort);
        var handlerEnds = new TaskCompletionSource();

        var stream = ReflectionStreams.AdmitAsync(leases, TimeSpan.FromMilliseconds(50), http, _ => handlerEnds.Task);
        Assert.Equal(0, await abort.CountAtAbort.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(stream.IsCompleted);
        using var again = leases.Enter("c1", IPAddress.Parse("192.0.2.7"), out _);
        Assert.NotNull(again);

        // The handler's end gives nothing back twice: the new stream still holds the only place.
        handlerEnds.SetResult();
        await stream;
        Assert.Equal(1, leases.Count);
    }

    /// <summary>Records how many streams held a lease when the stream was reset.</summary>
    private sealed class RecordingAbort(StreamLeases leases) : IHttpRequestLifetimeFeature
    {
        public TaskCompletionSource<int> CountAtAbort { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken RequestAborted { get; set; }

        public void Abort() => CountAtAbort.TrySetResult(leases.Count);
    }
}

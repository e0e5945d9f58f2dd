using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// grpc.health.v1 Health/Watch on the gateway's gRPC ingress, called with Grpc.Net.Client over real h2c: the status at
/// once, a new message on each change (a node reporting the model ready, then not), SERVICE_UNKNOWN for a name no model
/// has without ending the stream, the end on the caller's cancellation, the limits per connection and in all, and
/// UNAVAILABLE when the gateway stops. Server reflection streams, long-lived too, are bounded by the same numbers
/// (counted apart) and reset after their lifetime.
/// </summary>
public sealed class HealthWatchTests : IAsyncLifetime
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly List<GrpcChannel> _channels = [];
    private GatewayHost? _gateway;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _gateway = await GatewayHost.StartAsync(new GatewayOptions
        {
            NodeToken = _token,
            Replicas = 1,
            GrpcListenUrl = "http://127.0.0.1:0",
            HealthWatchInterval = TimeSpan.FromMilliseconds(50),
            MaxHealthWatchesPerConnection = 2,
            MaxHealthWatches = 3,
            ReflectionStreamLifetime = TimeSpan.FromSeconds(1),
        }, _catalog, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _channels) c.Dispose();
        if (_gateway is not null) await _gateway.DisposeAsync();
    }

    /// <summary>A client on its own HTTP/2 connection (one channel, one connection: no multiple connections).</summary>
    private Health.HealthClient Connection()
    {
        var channel = GrpcChannel.ForAddress(_gateway!.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        _channels.Add(channel);
        return new Health.HealthClient(channel);
    }

    private static async Task<ServingStatus> NextAsync(AsyncServerStreamingCall<HealthCheckResponse> call, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        Assert.True(await call.ResponseStream.MoveNext(timeout.Token), "the watch ended instead of sending a status");
        return call.ResponseStream.Current.Status;
    }

    [Fact]
    public async Task Watch_sends_the_status_at_once_and_again_on_every_change_until_cancelled()
    {
        var health = Connection();
        using var server = health.Watch(new HealthCheckRequest());
        Assert.Equal(ServingStatus.Serving, await NextAsync(server, TimeSpan.FromSeconds(10)));

        using var cancel = new CancellationTokenSource();
        using var model = health.Watch(new HealthCheckRequest { Service = "echo" }, cancellationToken: cancel.Token);
        // Published, on no node yet.
        Assert.Equal(ServingStatus.NotServing, await NextAsync(model, TimeSpan.FromSeconds(10)));

        await using var node = new FakeNode(_gateway!.Url, _token);
        using (var r = await node.RegisterAsync("fake")) r.EnsureSuccessStatusCode();
        await node.ReadyAsync("fake");
        Assert.Equal(ServingStatus.Serving, await NextAsync(model, TimeSpan.FromSeconds(10)));

        // The node no longer has it: a heartbeat without the model.
        using (var r = await node.BeatAsync("fake", "[]", node.Credential)) r.EnsureSuccessStatusCode();
        Assert.Equal(ServingStatus.NotServing, await NextAsync(model, TimeSpan.FromSeconds(10)));

        // Nothing changes: nothing is sent (several looks at 50 ms go by).
        var quiet = model.ResponseStream.MoveNext(CancellationToken.None);
        Assert.NotSame(quiet, await Task.WhenAny(quiet, Task.Delay(500)));

        // The caller cancels: the stream ends (Cancelled on the client), and the watch's place is free again.
        await cancel.CancelAsync();
        var ended = await Assert.ThrowsAsync<RpcException>(() => quiet);
        Assert.Equal(StatusCode.Cancelled, ended.StatusCode);
    }

    [Fact]
    public async Task Watch_of_a_name_no_model_has_is_service_unknown_and_goes_on_watching()
    {
        var health = Connection();
        using var cancel = new CancellationTokenSource();
        using var call = health.Watch(new HealthCheckRequest { Service = "no-such-model" }, cancellationToken: cancel.Token);
        Assert.Equal(ServingStatus.ServiceUnknown, await NextAsync(call, TimeSpan.FromSeconds(10)));
        var next = call.ResponseStream.MoveNext(CancellationToken.None);
        Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(300)));

        // Check keeps the health protocol's other rule: NOT_FOUND for the unknown name.
        var check = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no-such-model" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, check.StatusCode);
        await cancel.CancelAsync();
        await Assert.ThrowsAsync<RpcException>(() => next);

        // A service name longer than any model name can be is refused, not held open.
        var huge = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var big = health.Watch(new HealthCheckRequest { Service = new string('a', 64 * 1024) });
            await big.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.Equal(StatusCode.ResourceExhausted, huge.StatusCode);
    }

    [Fact]
    public async Task Watches_are_bounded_per_connection_and_in_all()
    {
        var first = Connection();
        var calls = new List<(AsyncServerStreamingCall<HealthCheckResponse> Call, CancellationTokenSource Cancel)>();
        async Task<AsyncServerStreamingCall<HealthCheckResponse>> WatchAsync(Health.HealthClient client)
        {
            var cancel = new CancellationTokenSource();
            var call = client.Watch(new HealthCheckRequest(), cancellationToken: cancel.Token);
            calls.Add((call, cancel));
            Assert.Equal(ServingStatus.Serving, await NextAsync(call, TimeSpan.FromSeconds(10)));
            return call;
        }

        async Task<RpcException> RefusedAsync(Health.HealthClient client)
        {
            using var call = client.Watch(new HealthCheckRequest());
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
            return e;
        }

        try
        {
            await WatchAsync(first);
            await WatchAsync(first);
            var perConnection = await RefusedAsync(first);
            Assert.Contains("already runs 2 health watches, the gateway's limit per connection", perConnection.Status.Detail, StringComparison.Ordinal);

            // Another connection may still watch, up to the total of 3.
            var second = Connection();
            await WatchAsync(second);
            var total = await RefusedAsync(second);
            Assert.Contains("already runs 3 health watches, its limit", total.Status.Detail, StringComparison.Ordinal);
            var third = Connection();
            await RefusedAsync(third);
            // Check is no watch: it answers whatever the watches.
            Assert.Equal(ServingStatus.Serving, (await third.CheckAsync(new HealthCheckRequest())).Status);

            // A watch cancelled by its caller gives its place back.
            await calls[0].Cancel.CancelAsync();
            var clock = Stopwatch.StartNew();
            while (true)
            {
                using var retry = first.Watch(new HealthCheckRequest());
                try
                {
                    Assert.Equal(ServingStatus.Serving, await NextAsync(retry, TimeSpan.FromSeconds(10)));
                    break;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && clock.Elapsed < TimeSpan.FromSeconds(10))
                {
                    await Task.Delay(50);
                }
            }
        }
        finally
        {
            foreach (var (call, cancel) in calls)
            {
                await cancel.CancelAsync();
                call.Dispose();
                cancel.Dispose();
            }
        }
    }

    [Fact]
    public async Task Reflection_streams_are_bounded_per_connection_and_reset_after_their_lifetime()
    {
        var channel = GrpcChannel.ForAddress(_gateway!.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        _channels.Add(channel);
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(channel);

        // Two streams that list the services once (so both are admitted), then send nothing, as a stranger holding them would.
        async Task<AsyncDuplexStreamingCall<Grpc.Reflection.V1Alpha.ServerReflectionRequest, Grpc.Reflection.V1Alpha.ServerReflectionResponse>> IdleAsync()
        {
            var call = reflection.ServerReflectionInfo();
            await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            return call;
        }

        var clock = Stopwatch.StartNew();
        using var first = await IdleAsync();
        using var second = await IdleAsync();
        using (var third = reflection.ServerReflectionInfo())
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => third.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("this connection already runs 2 reflection streams, the gateway's limit per connection", refused.Status.Detail, StringComparison.Ordinal);
        }

        // Reset once open for their lifetime (1 s here), though their caller never ended them; the connection serves on.
        foreach (var idle in new[] { first, second })
        {
            var ended = await Assert.ThrowsAsync<RpcException>(() => idle.ResponseStream.MoveNext(CancellationToken.None));
            Assert.NotEqual(StatusCode.OK, ended.StatusCode);
        }

        Assert.True(clock.Elapsed is { TotalSeconds: >= 0.9 and < 15 }, $"{clock.Elapsed.TotalSeconds:0.0} s");
        using var after = await IdleAsync();
    }

    [Fact]
    public async Task A_stopping_gateway_ends_its_watches_with_unavailable_at_once()
    {
        var health = Connection();
        using var call = health.Watch(new HealthCheckRequest());
        Assert.Equal(ServingStatus.Serving, await NextAsync(call, TimeSpan.FromSeconds(10)));
        var next = call.ResponseStream.MoveNext(CancellationToken.None);
        var clock = Stopwatch.StartNew();
        await _gateway!.DisposeAsync();
        _gateway = null;
        // Kestrel would wait its whole shutdown timeout (30 s) for a stream that never ends by itself.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the gateway took {clock.Elapsed.TotalSeconds:0.0} s to stop");
        var e = await Assert.ThrowsAsync<RpcException>(() => next);
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
    }
}

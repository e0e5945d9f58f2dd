using Grpc.Core;
using Grpc.Health.V1;
using InfraMind.Gateway.Inference;
using Microsoft.Extensions.Hosting;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// grpc.health.v1.Health on the ingress: service "" is the gateway (SERVING while it runs), a model's name is that
/// model's latest released version (SERVING when a node has it ready, else NOT_SERVING). Check answers NOT_FOUND for
/// any other name; Watch, as the health protocol says, streams SERVICE_UNKNOWN for it and goes on watching (the name
/// may be published later). Watch sends the status at once and again whenever it changes (looked at every
/// <see cref="GatewayOptions.HealthWatchInterval"/>), until the caller cancels; while the gateway stops, it ends with
/// UNAVAILABLE. Watches are bounded per HTTP/2 connection and in all (<see cref="HealthWatches"/>): beyond either
/// limit a Watch is refused with RESOURCE_EXHAUSTED, naming the limit.
/// </summary>
[BindServiceMethod(typeof(StrictRequests), nameof(StrictRequests.BindHealth))]
internal sealed class GrpcIngressHealth(InferenceCore core, HealthWatches watches, IHostApplicationLifetime lifetime) : Health.HealthBase
{
    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (request.Service.Length == 0) return Task.FromResult(new HealthCheckResponse { Status = ServingStatus.Serving });
        if (core.Resolve(request.Service, null, out var model) is { } problem)
            throw new RpcException(new Status(StatusCode.NotFound, $"{problem.Title}: {problem.Detail}"), GrpcIngress.Trailers(problem.Code));
        return Task.FromResult(new HealthCheckResponse { Status = core.IsReady(model!) ? ServingStatus.Serving : ServingStatus.NotServing });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        using var lease = watches.Enter(context.GetHttpContext().Connection.Id, out var refusal)
                          ?? throw new RpcException(new Status(StatusCode.ResourceExhausted, refusal!));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var service = request.Service;
        ServingStatus? sent = null;
        try
        {
            while (true)
            {
                var now = StatusOf(service);
                if (now != sent)
                {
                    await responseStream.WriteAsync(new HealthCheckResponse { Status = now }, stop.Token);
                    sent = now;
                }

                await Task.Delay(core.Options.HealthWatchInterval, core.Mesh.Time, stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The caller cancelled (or left): the watch simply ends. The gateway stopping is said as UNAVAILABLE.
            if (!context.CancellationToken.IsCancellationRequested)
                throw new RpcException(new Status(StatusCode.Unavailable, "the gateway is stopping; watch again once it is back"));
        }
    }

    private ServingStatus StatusOf(string service)
    {
        if (service.Length == 0) return ServingStatus.Serving;
        return core.Resolve(service, null, out var model) is not null ? ServingStatus.ServiceUnknown
            : core.IsReady(model!) ? ServingStatus.Serving : ServingStatus.NotServing;
    }
}

/// <summary>
/// How many health Watch streams run, per HTTP/2 connection and in all: each holds a call open for as long as its caller
/// likes and is looked at on a timer, so neither one connection nor many may hold more than the limits
/// (<see cref="GatewayOptions.MaxHealthWatchesPerConnection"/>, <see cref="GatewayOptions.MaxHealthWatches"/>).
/// </summary>
internal sealed class HealthWatches(int perConnection, int total)
{
    private readonly Dictionary<string, int> _byConnection = new(StringComparer.Ordinal);
    private int _total;

    /// <summary>Running watches in all.</summary>
    public int Count
    {
        get
        {
            lock (_byConnection) return _total;
        }
    }

    /// <summary>A lease on one watch of <paramref name="connection"/>, or null and why not.</summary>
    public IDisposable? Enter(string connection, out string? refusal)
    {
        lock (_byConnection)
        {
            var mine = _byConnection.GetValueOrDefault(connection);
            refusal = mine >= perConnection
                ? $"this connection already runs {mine} health watches, the gateway's limit per connection; cancel one, or open another connection"
                : _total >= total
                    ? $"the gateway already runs {_total} health watches, its limit; try again later"
                    : null;
            if (refusal is not null) return null;
            _byConnection[connection] = mine + 1;
            _total++;
        }

        return new Lease(this, connection);
    }

    private void Leave(string connection)
    {
        lock (_byConnection)
        {
            _total--;
            var left = _byConnection[connection] - 1;
            if (left == 0) _byConnection.Remove(connection);
            else _byConnection[connection] = left;
        }
    }

    private sealed class Lease(HealthWatches watches, string connection) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) watches.Leave(connection);
        }
    }
}

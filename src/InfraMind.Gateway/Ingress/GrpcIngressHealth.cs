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
/// UNAVAILABLE. Watches are bounded per HTTP/2 connection, per client address and in all (<see cref="StreamLeases"/>):
/// beyond a limit a Watch is refused with RESOURCE_EXHAUSTED, naming the limit.
/// </summary>
[BindServiceMethod(typeof(StrictRequests), nameof(StrictRequests.BindHealth))]
internal sealed class GrpcIngressHealth(InferenceCore core, StreamLeases watches, IHostApplicationLifetime lifetime) : Health.HealthBase
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
        var connection = context.GetHttpContext().Connection;
        using var lease = watches.Enter(connection.Id, connection.RemoteIpAddress, out var refusal)
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


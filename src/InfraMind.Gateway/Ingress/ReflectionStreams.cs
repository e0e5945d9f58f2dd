using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// The bounds of the ingress's server reflection streams (grpc.reflection v1 and v1alpha, what grpcurl-style tools
/// open): a stream takes a lease of <see cref="StreamLeases"/> (per connection, per address, in all) before
/// grpc-aspnetcore reads it, refused with RESOURCE_EXHAUSTED beyond a limit, and is reset once it has been open
/// <see cref="GatewayOptions.ReflectionStreamLifetime"/>. A reflection stream is a bidirectional stream, for which
/// grpc-aspnetcore turns Kestrel's minimum data rate off: without these, one that never sends a byte stays open for
/// as long as its caller likes.
/// </summary>
internal static class ReflectionStreams
{
    /// <summary>Whether <paramref name="method"/> is a method of a server reflection service.</summary>
    public static bool Serves(GrpcMethodMetadata method) =>
        method.Method.ServiceName.StartsWith("grpc.reflection.", StringComparison.Ordinal);

    public static async Task AdmitAsync(StreamLeases leases, TimeSpan lifetime, HttpContext http, RequestDelegate next)
    {
        using var lease = leases.Enter(http.Connection.Id, http.Connection.RemoteIpAddress, out var refusal);
        if (lease is null)
        {
            GrpcIngress.TrailersOnly(http.Response, StatusCode.ResourceExhausted, refusal!);
            return;
        }

        using var expiry = new CancellationTokenSource(lifetime);
        // Reset (RST_STREAM): the caller sees the stream end; its connection and other streams go on. The place is given
        // back before the reset goes out, so a caller that sees it may open another stream at once (the handler itself
        // may take a moment longer to wind down, holding nothing the caller can reach).
        using var reset = expiry.Token.Register(() =>
        {
            lease.Dispose();
            http.Abort();
        });
        await next(http);
    }
}

using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace InfraMind.Hosting;

/// <summary>
/// How every InfraMind server (gateway, its gRPC ingress, node, the registry) makes
/// its ASP.NET Core host: the content root is the program's own directory and configuration is never reloaded. The
/// builder's default content root is the working directory, from which it would read an <c>appsettings.json</c> (a
/// stranger's directory must not configure Kestrel) and which it would watch recursively for changes: started from a
/// large tree (a checkout with node_modules, $HOME, /tmp) that took 0.3-5 s per server and an inotify watch per
/// directory.
/// <para>
/// A host that stops waits at most <see cref="StopGraceSeconds"/> for the requests in flight, then aborts them (their
/// RequestAborted fires). ASP.NET Core's default is 30 s, longer than the 20 s the CLI gives a command to clean up after
/// Ctrl-C or SIGTERM: one request held open (a slow body, a stalled fetch) kept a stopping server past that, and the
/// process was ended before it removed its containers and scratch areas.
/// </para>
/// <para>
/// Every host's Kestrel gets the limits of <see cref="ServerLimits"/> (<see cref="Limit"/>): what a stranger's
/// connections may hold, set explicitly rather than left to ASP.NET Core's defaults (the connection count was unlimited).
/// </para>
/// </summary>
public static class ServerOptions
{
    /// <summary>The seconds a stopping server gives the requests in flight before it aborts them.</summary>
    public const int StopGraceSeconds = 3;

    public static WebApplicationOptions Web => new()
    {
        ContentRootPath = AppContext.BaseDirectory,
        Args = ["--hostBuilder:reloadConfigOnChange=false", $"--shutdownTimeoutSeconds={StopGraceSeconds}"],
    };

    /// <summary>
    /// A server's host builder, as every InfraMind server makes it: <see cref="Web"/>'s options, listening on
    /// <paramref name="url"/>, its Kestrel limited (<see cref="Limit"/>) by the connection caps returned (the server
    /// exports them with its metrics), HTTPS with <paramref name="certificate"/> where one is given (the slim builder
    /// leaves HTTPS out; the server serves its own self-signed certificate, which its peers pin), and no logging
    /// provider: each server adds its own.
    /// </summary>
    public static (WebApplicationBuilder Builder, ConnectionCaps Connections) CreateBuilder(
        string url, ServerLimits limits, X509Certificate2? certificate, HttpProtocols? protocols = null)
    {
        var builder = WebApplication.CreateSlimBuilder(Web);
        builder.WebHost.UseUrls(url);
        var connections = new ConnectionCaps(limits);
        builder.WebHost.ConfigureKestrel(k => Limit(k, connections, protocols));
        if (certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(https => https.ServerCertificate = certificate));
        }

        builder.Logging.ClearProviders();
        return (builder, connections);
    }

    /// <summary>
    /// Sets every limit of <paramref name="caps"/>' <see cref="ServerLimits"/> on a host's Kestrel, the one mapping of
    /// them for every server (ServerLimitsMappingTests proves each value reaches Kestrel, ConnectionLimitsTests what they
    /// do on the running servers), and the connection caps themselves (in all and per address) first on each of its
    /// endpoints: one count per server, shared by its endpoints. <paramref name="protocols"/>: the endpoints' HTTP versions
    /// (null: Kestrel's default, HTTP/1.1 and HTTP/2), set here because Kestrel keeps one endpoint-defaults callback, so a
    /// host setting its own would drop the caps.
    /// </summary>
    public static void Limit(KestrelServerOptions kestrel, ConnectionCaps caps, HttpProtocols? protocols = null)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ArgumentNullException.ThrowIfNull(caps);
        var limits = caps.Limits;
        var k = kestrel.Limits;
        // Both connection caps are ConnectionCaps' (below): Kestrel's own would refuse first and log every refusal.
        k.MaxConcurrentConnections = null;
        k.MaxConcurrentUpgradedConnections = limits.MaxUpgradedConnections;
        k.RequestHeadersTimeout = limits.RequestHeadersTimeout;
        k.KeepAliveTimeout = limits.KeepAliveTimeout;
        k.MaxRequestHeadersTotalSize = limits.MaxRequestHeadersTotalSize;
        k.MaxRequestHeaderCount = limits.MaxRequestHeaderCount;
        k.MaxRequestLineSize = limits.MaxRequestLineSize;
        k.MaxRequestBodySize = limits.MaxRequestBodySize;
        k.MaxRequestBufferSize = limits.MaxRequestBufferSize;
        k.MaxResponseBufferSize = limits.MaxResponseBufferSize;
        k.MinRequestBodyDataRate = new MinDataRate(limits.MinRequestBodyBytesPerSecond, limits.MinDataRateGrace);
        k.MinResponseDataRate = new MinDataRate(limits.MinResponseBytesPerSecond, limits.MinDataRateGrace);
        k.Http2.MaxStreamsPerConnection = limits.Http2MaxStreamsPerConnection;
        k.Http2.MaxRequestHeaderFieldSize = limits.Http2MaxRequestHeaderFieldSize;
        k.Http2.HeaderTableSize = limits.Http2HeaderTableSize;
        k.Http2.MaxFrameSize = limits.Http2MaxFrameSize;
        k.Http2.InitialConnectionWindowSize = limits.Http2InitialConnectionWindowSize;
        k.Http2.InitialStreamWindowSize = limits.Http2InitialStreamWindowSize;
        kestrel.ConfigureEndpointDefaults(endpoint =>
        {
            if (protocols is { } p) endpoint.Protocols = p;
            endpoint.Use(caps.For(endpoint.ApplicationServices));
        });
    }
}

using System.Text.Json;
using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Inference;
using InfraMind.Gateway.Ingress;
using InfraMind.Hosting;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InfraMind.Gateway;

/// <summary>A running gateway on Kestrel: inference API, node registration and heartbeats, /healthz, /metrics and the /dashboard.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication? _grpc;
    private readonly CancellationTokenSource _stop;
    private readonly Task _refresh;
    private readonly NodeClients _nodes;
    private readonly ModelChannels _channels;
    private readonly InferenceAdmission _admission;
    private readonly IModelCatalog _catalog;
    private readonly EventHandler _changed;
    private readonly NodeBindingsWriter? _bindings;

    private GatewayHost(WebApplication app, WebApplication? grpc, MeshState mesh, Uri url, CancellationTokenSource stop, Task refresh, NodeClients nodes, ModelChannels channels,
        InferenceAdmission admission, IModelCatalog catalog, EventHandler changed, NodeBindingsWriter? bindings)
    {
        _bindings = bindings;
        _app = app;
        _grpc = grpc;
        GrpcUrl = grpc is null ? null : BoundUrl(grpc);
        Mesh = mesh;
        Url = url;
        _stop = stop;
        _refresh = refresh;
        _nodes = nodes;
        _channels = channels;
        _admission = admission;
        _catalog = catalog;
        _changed = changed;
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:40123/.</summary>
    public Uri Url { get; }

    /// <summary>The V2 gRPC ingress's bound address (h2c), e.g. http://127.0.0.1:40124/; null when it is off.</summary>
    public Uri? GrpcUrl { get; }

    internal MeshState Mesh { get; }

    public static Task<GatewayHost> StartAsync(GatewayOptions options, IModelCatalog catalog, CancellationToken cancellationToken) =>
        StartAsync(options, catalog, TimeProvider.System, null, cancellationToken);

    public static async Task<GatewayHost> StartAsync(
        GatewayOptions options, IModelCatalog catalog, TimeProvider time, Action<ILoggingBuilder>? logging, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        var errors = options.Validate();
        if (errors.Count > 0) throw new InfraMindException(MeshErrorCodes.GatewayOptionInvalid, string.Join("; ", errors));
        // Read before anything listens: a file that cannot be read stops the start (IM6052), it is not half believed.
        var bindings = options.NodeBindingsFile is { } bindingsFile ? NodeBindings.Load(bindingsFile, options.MaxNodes) : null;
        var (builder, connections) = ServerOptions.CreateBuilder(options.ListenUrl, options.Limits, options.TlsCertificate);
        logging?.Invoke(builder.Logging);
        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfraMind.Gateway");
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(options, time, metrics, log);
        if (bindings is not null) mesh.Restore(bindings);
        var writer = options.NodeBindingsFile is { } file ? new NodeBindingsWriter(file, mesh, options, time, log) : null;
        var nodes = new NodeClients(options.ConnectTimeout, options.MaxNodes);
        var channels = new ModelChannels(options.MaxResponseBytes);
        var admission = new InferenceAdmission(options.MaxInferencesInFlight, options.MaxInferencesInFlightPerAddress);
        metrics.InFlight(admission);
        connections.Export(metrics.Registry, "gateway");
        var core = new InferenceCore(mesh, options, metrics, admission, new InferenceAttempts(mesh, options, nodes, channels),
            new InferenceLog(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfraMind.Gateway.Inference"), options.LogPayloads));
        var inference = new InferenceEndpoint(core);

        // What routing answers without a body (no route for the path: 404; routes for other methods: 405 with Allow)
        // gets a problem document with its code, in this one place; an endpoint's own answers are left as they are.
        app.UseStatusCodePages(context => Unrouted.AnswerAsync(context, MeshProblems.Of));

        // What a node's signature may name: the advertised URL, and the bound one once known (set right after the start).
        Uri[] audiences = options.Audience is { } advertised ? [advertised] : [];
        NodeApi.Map(app, options, mesh, () => Volatile.Read(ref audiences));
        app.MapPost("/inference/v1/{name}", (HttpContext context, string name, CancellationToken ct) => inference.HandleAsync(context, name, null, ct));
        app.MapPost("/inference/v1/{name}/versions/{version}", (HttpContext context, string name, string version, CancellationToken ct) =>
            inference.HandleAsync(context, name, version, ct));
        // Every build of either document, whole or filtered (?filter=TEXT), one at a time and paced: however many ask and
        // however often, the mesh's lock is held for one build at a time, at most a quarter of the time (BuildPacer).
        var builds = new BuildPacer(TimeProvider.System);
        MapStateDocument(app, "/inference/v1", mesh.Describe, builds);
        MapStateDocument(app, Dashboard.DashboardEndpoints.StatePath, mesh.DashboardView, builds);
        app.MapGet("/inference/v1/{name}/openapi.json", (string name, string? version) =>
        {
            var versions = mesh.VersionsOf(name);
            var model = version is null ? MeshState.Latest(versions) ?? (versions.Count > 0 ? versions[0] : null) : versions.FirstOrDefault(m => m.Published.Version.ToString() == version);
            return model is null
                ? MeshProblems.Of(MeshErrorCodes.ModelNotFound, $"no published model {InferenceProblem.Quote(name)}{(version is null ? "" : " version " + InferenceProblem.Quote(version))}", 404)
                : Results.Text(OpenApiDocument.For(model).ToJsonString(), "application/json");
        });
        app.MapGet("/healthz", () =>
        {
            var summaries = mesh.NodeSummaries();
            metrics.Nodes(summaries);

            return Results.Ok(new { status = "ok", models = mesh.Models.Count, nodes = summaries.Count, online = summaries.Count(s => s.Online) });
        });
        app.MapMetrics("/metrics", metrics.Registry);
        Dashboard.DashboardEndpoints.Map(app);

        var loader = new CatalogLoader(catalog, mesh);
        await loader.LoadAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
        var url = BoundUrl(app);
        Volatile.Write(ref audiences, [.. audiences, url]);
        WebApplication? grpc = null;
        if (options.GrpcListenUrl is { } grpcUrl)
        {
            (grpc, var grpcConnections) = GrpcIngressApp(grpcUrl, options, core, logging);
            grpcConnections.Export(metrics.Registry, "grpc-ingress");
            try
            {
                await grpc.StartAsync(cancellationToken);
            }
            catch (Exception e)
            {
                await grpc.DisposeAsync();
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
                nodes.Dispose();
                channels.Dispose();
                admission.Dispose();
                if (e is IOException)
                    throw new InfraMindException(MeshErrorCodes.ListenFailed, $"the gateway's gRPC ingress cannot listen on {grpcUrl}: {NetworkFailure.Describe(e)}",
                        "choose another --grpc-port, or --grpc-port 0 to serve no gRPC ingress", e);
                throw;
            }
        }

        var stop = new CancellationTokenSource();
        var signal = new Wakeup();
        EventHandler changed = (_, _) => signal.Raise();
        catalog.Changed += changed;
        var refresh = Task.WhenAll(
            Task.Run(() => RefreshLoopAsync(loader, mesh, metrics, options, time, signal, log, stop.Token), CancellationToken.None),
            Task.Run(() => LivenessLoopAsync(mesh, metrics, options, time, log, stop.Token), CancellationToken.None),
            writer is null ? Task.CompletedTask : Task.Run(() => writer.RunAsync(stop.Token), CancellationToken.None));
        return new GatewayHost(app, grpc, mesh, url, stop, refresh, nodes, channels, admission, catalog, changed, writer);
    }

    /// <summary>The most bytes of a grpc.health.v1 request (one service name).</summary>

    /// <summary>What the gateway answers a request no endpoint takes (404 IM6028, 405 IM6029 with Allow).</summary>

    /// <summary>
    /// GET <paramref name="path"/>: a state document, the whole one coalesced (<see cref="CoalescedDocument"/>), a
    /// filtered one (?filter=TEXT) built for its request, each build in its turn (<paramref name="builds"/>); gzipped
    /// for a client that accepts it.
    /// </summary>
    private static void MapStateDocument(WebApplication app, string path, Func<string?, object> describe, BuildPacer builds)
    {
        byte[] Build(string? filter) => JsonSerializer.SerializeToUtf8Bytes(describe(filter), MeshJson.Options);
        var whole = new CoalescedDocument(() => builds.RunAsync(() => Build(null), CancellationToken.None));
        app.MapGet(path, async (HttpContext context) =>
        {
            var document = context.Request.Query[StateFilter.Parameter] is { Count: > 0 } given && given[0] is { Length: > 0 } filter
                ? new BuiltDocument(await builds.RunAsync(() => Build(filter), context.RequestAborted))
                : await whole.GetAsync();
            // Gzipped or not by Accept-Encoding: a cache between must keep the two apart.
            context.Response.Headers.Vary = "Accept-Encoding";
            var (body, encoding) = document.For(context.Request.Headers.AcceptEncoding);
            if (encoding is not null) context.Response.Headers.ContentEncoding = encoding;
            return Results.Bytes(body, "application/json; charset=utf-8");
        });
    }
    private static readonly UnroutedAnswers Unrouted = new(MeshErrorCodes.NoSuchPath, MeshErrorCodes.MethodNotAllowed,
        "the gateway serves POST /inference/v1/NAME and POST /inference/v1/NAME/versions/VERSION (inference), GET /inference/v1 " +
        "(its models and nodes), GET /inference/v1/NAME/openapi.json, GET /healthz, GET /metrics and GET /dashboard")
    {
        MethodAdvice = (path, allow) => path.StartsWith("/inference/v1/", StringComparison.Ordinal) && allow == HttpMethods.Post
            ? "an inference request is a POST with the input as its JSON body"
            : null,
    };

    /// <summary>
    /// The V2 gRPC ingress on its own Kestrel: HTTP/2 only, since gRPC callers speak it with prior knowledge over
    /// cleartext (an Http1AndHttp2 endpoint without TLS speaks HTTP/1.1 only). Messages are bounded by the gateway's
    /// MaxRequestBytes (received) and MaxResponseBytes (sent), each plus the envelope; every other request (a health
    /// check, ModelMetadata …) names at most a model and a version: over <see cref="StrictRequests.SmallRequestBytes"/>
    /// it is refused before it is read, so neither the calls that take no inference slot nor the watches a caller holds
    /// open can pin large messages. Server reflection (v1 and v1alpha) lets grpcurl-style tools list and call the
    /// services without the .proto. Its Kestrel has the limits of the REST API
    /// (<see cref="GatewayOptions.Limits"/>), counted apart: HTTP/2 streams per connection bound what one connection holds.
    /// </summary>
    private static (WebApplication App, ConnectionCaps Connections) GrpcIngressApp(string url, GatewayOptions options, InferenceCore core, Action<ILoggingBuilder>? logging)
    {
        var (builder, connections) = ServerOptions.CreateBuilder(url, options.Limits, certificate: null, HttpProtocols.Http2);
        logging?.Invoke(builder.Logging);
        // A caller's mistake is the gateway's one request line (Inference[6100], with its status and code). grpc-aspnetcore
        // would log it again at Information, with its stack trace ("Error reading message" for a message that is not
        // protobuf, "Service method … canceled" for a caller that left, "Error status code …" for every status the
        // ingress answers); a fault of the server's own (an unhandled exception in a handler) it logs at Error.
        builder.Logging.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Warning);
        builder.Services.AddSingleton(core);
        builder.Services.AddSingleton(new StreamLeases("health watches", options.MaxHealthWatchesPerConnection, options.MaxHealthWatchesPerAddress, options.MaxHealthWatches));
        var reflections = new StreamLeases("reflection streams", options.MaxHealthWatchesPerConnection, options.MaxHealthWatchesPerAddress, options.MaxHealthWatches);
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = (int)Math.Min(int.MaxValue, options.MaxRequestBytes + GatewayOptions.GrpcEnvelopeBytes);
            o.MaxSendMessageSize = (int)Math.Min(int.MaxValue, options.MaxResponseBytes + GatewayOptions.GrpcEnvelopeBytes);
        })
            .AddServiceOptions<GrpcIngressQueries>(o => o.MaxReceiveMessageSize = StrictRequests.SmallRequestBytes)
            .AddServiceOptions<GrpcIngressHealth>(o => o.MaxReceiveMessageSize = StrictRequests.SmallRequestBytes);
        // The services reflection lists, named here: found from the endpoints, the V2 service would be listed twice, as
        // it is bound in two parts (StrictRequests). AddGrpcReflection keeps an implementation registered before it.
        Google.Protobuf.Reflection.ServiceDescriptor[] listed =
        [
            InfraMind.Serving.Grpc.V2.GRPCInferenceService.Descriptor, Grpc.Health.V1.Health.Descriptor,
            Grpc.Reflection.V1Alpha.ServerReflection.Descriptor, Grpc.Reflection.V1.ServerReflection.Descriptor,
        ];
        builder.Services.AddSingleton(new Grpc.Reflection.ReflectionServiceImpl(listed));
        builder.Services.AddSingleton(new Grpc.Reflection.ReflectionV1ServiceImpl(listed));
        builder.Services.AddGrpcReflection();
        var app = builder.Build();
        // A ModelInfer takes its slot before grpc-aspnetcore reads its message, as the REST face does before its body. Known by
        // the endpoint routing matched (its gRPC method), not by the path's text: routing ignores the path's case.
        // Reflection streams take a lease of their own and have a lifetime (ReflectionStreams).
        app.Use((http, next) => http.GetEndpoint()?.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>() switch
        {
            { Method.Name: nameof(GrpcIngress.ModelInfer) } method when method.ServiceType == typeof(GrpcIngress) => GrpcIngress.AdmitAsync(core, http, next),
            { } method when ReflectionStreams.Serves(method) => ReflectionStreams.AdmitAsync(reflections, options.ReflectionStreamLifetime, http, next),
            _ => next(http),
        });
        app.MapGrpcService<GrpcIngress>();
        app.MapGrpcService<GrpcIngressQueries>();
        app.MapGrpcService<GrpcIngressHealth>();
        app.MapGrpcReflectionService();
        return (app, connections);
    }

    private static Uri BoundUrl(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }

    private static async Task RefreshLoopAsync(CatalogLoader loader, MeshState mesh, GatewayMetrics metrics, GatewayOptions options, TimeProvider time,
        Wakeup signal, ILogger log, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var delay = Task.Delay(options.CatalogRefresh, time, tick.Token);
                var changed = signal.WaitAsync(tick.Token);
                await Task.WhenAny(delay, changed);
                await tick.CancelAsync();
                ct.ThrowIfCancellationRequested();
                await loader.LoadAsync(ct);
                metrics.Nodes(mesh.NodeSummaries());
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The catalog is someone else's service; keep serving what we have and try again next tick.
                log.LogWarning(e, "catalog refresh failed");
            }
        }
    }

    /// <summary>
    /// Every <see cref="GatewayOptions.LivenessCheck"/>: a node that missed its beats is offline at once, not at the next
    /// heartbeat of some other node: its versions are placed elsewhere and its attempts in flight are cut short, so
    /// their requests move on to another node (<see cref="MeshState.CheckLiveness"/>). A pass that fails is logged and
    /// the next tick tries again: the loop never ends before the gateway does.
    /// </summary>
    private static async Task LivenessLoopAsync(MeshState mesh, GatewayMetrics metrics, GatewayOptions options, TimeProvider time, ILogger log, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.LivenessCheck, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    foreach (var node in mesh.CheckLiveness()) metrics.Online(node, false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    log.LogError(e, "liveness check failed; trying again at the next tick");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _catalog.Changed -= _changed;
        await _stop.CancelAsync();
        await _refresh;
        if (_grpc is not null)
        {
            await _grpc.StopAsync(CancellationToken.None);
            await _grpc.DisposeAsync();
        }

        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        // Last, once no registration or heartbeat can come: the times the next start counts from.
        _bindings?.Write();
        _nodes.Dispose();
        _channels.Dispose();
        _admission.Dispose();
        _stop.Dispose();
    }
}

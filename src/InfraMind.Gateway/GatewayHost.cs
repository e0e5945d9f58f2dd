using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InfraMind.Gateway;

/// <summary>A running gateway on Kestrel: inference API, node registration and heartbeats, /healthz, /metrics and the /dashboard.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stop;
    private readonly Task _refresh;
    private readonly HttpClient _nodes;
    private readonly IModelCatalog _catalog;
    private readonly EventHandler _changed;

    private GatewayHost(WebApplication app, MeshState mesh, Uri url, CancellationTokenSource stop, Task refresh, HttpClient nodes, IModelCatalog catalog, EventHandler changed)
    {
        _app = app;
        Mesh = mesh;
        Url = url;
        _stop = stop;
        _refresh = refresh;
        _nodes = nodes;
        _catalog = catalog;
        _changed = changed;
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:40123/.</summary>
    public Uri Url { get; }

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
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(options.ListenUrl);
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfraMind.Gateway");
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(options, time, metrics, log);
        var nodes = JobHttp.CreateClient();
        var inference = new InferenceEndpoint(mesh, options, metrics, nodes,
            new InferenceLog(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("InfraMind.Gateway.Inference"), options.LogPayloads));

        NodeApi.Map(app, options, mesh);
        app.MapPost("/inference/v1/{name}", (HttpContext context, string name, CancellationToken ct) => inference.HandleAsync(context, name, null, ct));
        app.MapPost("/inference/v1/{name}/versions/{version}", (HttpContext context, string name, string version, CancellationToken ct) =>
            inference.HandleAsync(context, name, version, ct));
        app.MapGet("/inference/v1", () => Results.Json(mesh.Describe(), MeshJson.Options));
        app.MapGet("/inference/v1/{name}/openapi.json", (string name, string? version) =>
        {
            var versions = mesh.Models.Where(m => m.Published.Name == name).ToList();
            var model = version is null ? MeshState.Latest(versions) ?? versions.FirstOrDefault() : versions.FirstOrDefault(m => m.Published.Version.ToString() == version);
            return model is null
                ? MeshProblems.Of(MeshErrorCodes.ModelNotFound, $"no published model '{name}'{(version is null ? "" : " version " + version)}", 404)
                : Results.Text(OpenApiDocument.For(model).ToJsonString(), "application/json");
        });
        app.MapGet("/healthz", () =>
        {
            var summaries = mesh.NodeSummaries();
            foreach (var (node, reputation, online) in summaries)
            {
                metrics.Reputation(node, reputation);
                metrics.Online(node, online);
            }

            return Results.Ok(new { status = "ok", models = mesh.Models.Count, nodes = summaries.Count, online = summaries.Count(s => s.Online) });
        });
        app.MapMetrics("/metrics", metrics.Registry);
        Dashboard.DashboardEndpoints.Map(app);

        await LoadCatalogAsync(catalog, mesh, cancellationToken);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(address.EndsWith('/') ? address : address + "/");

        var stop = new CancellationTokenSource();
        var signal = new SemaphoreSlim(0, 1);
        EventHandler changed = (_, _) =>
        {
            if (signal.CurrentCount == 0) signal.Release();
        };
        catalog.Changed += changed;
        var refresh = Task.Run(() => RefreshLoopAsync(catalog, mesh, metrics, options, time, signal, log, stop.Token), CancellationToken.None);
        return new GatewayHost(app, mesh, url, stop, refresh, nodes, catalog, changed);
    }

    private static async Task RefreshLoopAsync(IModelCatalog catalog, MeshState mesh, GatewayMetrics metrics, GatewayOptions options, TimeProvider time,
        SemaphoreSlim signal, ILogger log, CancellationToken ct)
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
                await LoadCatalogAsync(catalog, mesh, ct);
                foreach (var (node, reputation, online) in mesh.NodeSummaries())
                {
                    metrics.Reputation(node, reputation);
                    metrics.Online(node, online);
                }
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

    /// <summary>The catalog's versions, newest first per name. Their manifests come validated and typed: nothing is parsed here.</summary>
    private static async Task LoadCatalogAsync(IModelCatalog catalog, MeshState mesh, CancellationToken ct)
    {
        var published = await catalog.GetModelsAsync(ct);
        mesh.SetModels([.. published.OrderBy(p => p.Name, StringComparer.Ordinal).ThenByDescending(p => p.Version, Semver.SemVersion.PrecedenceComparer)
            .Select(p => new ServedModel(p))]);
    }

    public async ValueTask DisposeAsync()
    {
        _catalog.Changed -= _changed;
        await _stop.CancelAsync();
        await _refresh;
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _nodes.Dispose();
        _stop.Dispose();
    }
}

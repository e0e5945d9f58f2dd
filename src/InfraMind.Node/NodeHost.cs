using InfraMind.Containers;
using InfraMind.Hosting;
using InfraMind.Node.Images;
using InfraMind.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InfraMind.Node;

/// <summary>A running node agent with its job API on Kestrel. Disposing it removes every container it started.</summary>
public sealed class NodeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NodeHost(WebApplication app, NodeAgent agent, Uri url)
    {
        _app = app;
        Agent = agent;
        Url = url;
    }

    public NodeAgent Agent { get; }

    /// <summary>What a node answers a request no endpoint of its job API takes (404 IM6030, 405 IM6031 with Allow).</summary>
    private static readonly UnroutedAnswers Unrouted = new(MeshErrorCodes.NodeNoSuchPath, MeshErrorCodes.NodeMethodNotAllowed,
        "the node serves POST /jobs/NAME/VERSION (jobs from its gateway), GET /healthz, GET /models and GET /metrics; inference requests go to the gateway")
    {
        MethodAdvice = (path, allow) => path.StartsWith("/jobs/", StringComparison.Ordinal) && allow == HttpMethods.Post
            ? "a job is a POST from the node's gateway; inference requests go to the gateway"
            : null,
    };

    /// <summary>The bound job API, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Url { get; }

    public static async Task<NodeHost> StartAsync(NodeOptions options, ContainerEngine engine, IModelImageSource imageSource, CancellationToken cancellationToken) =>
        await StartAsync(options, engine, imageSource, TimeProvider.System, null, cancellationToken);

    public static async Task<NodeHost> StartAsync(
        NodeOptions options, ContainerEngine engine, IModelImageSource imageSource, TimeProvider time, Action<ILoggingBuilder>? logging,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (builder, connections) = ServerOptions.CreateBuilder(options.ListenUrl, options.Limits, options.TlsCertificate);
        logging?.Invoke(builder.Logging);
        var app = builder.Build();
        var agent = new NodeAgent(options, engine, imageSource, time, new NodeLogger(app.Services.GetRequiredService<ILogger<NodeAgent>>(), options.NodeId));
        // What routing answers without a body (no route for the path: 404; routes for other methods: 405 with Allow) gets
        // a problem document with its code; the endpoints' own answers are left as they are.
        app.UseStatusCodePages(context => Unrouted.AnswerAsync(context, MeshProblems.Of));
        app.MapPost("/jobs/{name}/{version}", (HttpContext context, string name, string version, CancellationToken ct) => agent.HandleJobAsync(context, name, version, ct));
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok", node = options.NodeId }));
        app.MapGet("/models", () => Results.Json(agent.Reports(), MeshJson.Options));
        agent.Metrics.Registry.AddBeforeCollectCallback(agent.ObserveMetrics);
        connections.Export(agent.Metrics.Registry, "node");
        app.MapMetrics("/metrics", agent.Metrics.Registry);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(address.EndsWith('/') ? address : address + "/");
        await agent.StartAsync(options.Advertise ?? url, cancellationToken);
        return new NodeHost(app, agent, url);
    }

    public async ValueTask DisposeAsync()
    {
        await Agent.DisposeAsync();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}

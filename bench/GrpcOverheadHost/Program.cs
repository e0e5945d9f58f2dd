using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// The serving side of bench/GrpcOverhead, started by it (usage: GrpcOverheadHost <run label>): in a process of its
// own, as `infra mesh up` runs them — a gRPC echo model (a
// Python grpcio V2 server in a container) published to a gateway whose node is in the same process (jobs sent
// straight to the container over h2c; keys and receipts only with RECEIPTS=1) — and the floor's bare proxy. Prints one
// line "ready {json}" (where to call, the container and model), then serves until its standard input closes, and
// removes everything it started (containers carry the run label).
if (args.Length != 1) { Console.Error.WriteLine("usage: GrpcOverheadHost <run label>"); return 2; }
var label = new Dictionary<string, string> { ["org.inframind.bench"] = args[0] };
using var packageDir = new PackageCopy(Path.Combine(AppContext.BaseDirectory, "echo-grpc-model"));
var package = packageDir.Path;
var manifest = ManifestReader.Validate(package).Manifest ?? throw new InvalidOperationException("echo-grpc-model/model.yaml is invalid");
var version = manifest.Version.ToString();

using var engine = await Engines.ConnectAsync();
if (engine is null) return 1;
var catalog = new InMemoryModelCatalog();
catalog.Publish(manifest, "sha256:" + new string('0', 64));
var local = new LocalNodes();
// RECEIPTS=1: keys for the gateway and the node, as `infra mesh up` gives them, so every answer is signed (a receipt).
var receipts = Environment.GetEnvironmentVariable("RECEIPTS") == "1";
using var gatewayKey = receipts ? SigningKey.CreateEphemeral("bench-gateway") : null;
using var nodeKey = receipts ? SigningKey.CreateEphemeral("bench-node") : null;
await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0", LocalNodes = local, Identity = gatewayKey }, catalog, CancellationToken.None);
var source = new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [ModelKey.Of(manifest.Name, version)] = package });
var node = await NodeHost.StartAsync(new NodeOptions
{
    NodeId = "bench-node",
    Gateway = gateway.Url,
    Capacity = new NodeCapacity(4000, 4L << 30, 0),
    // Offline after three missed beats: at 200 ms (600 ms), a run with the gateway's process alone on a saturated CPU
    // (PIN=1) once lost its node mid-run; at 1 s the node is seen ready soon enough and stays so.
    HeartbeatInterval = TimeSpan.FromSeconds(1),
    ContainerLabels = label,
    LocalNodes = local,
    Identity = nodeKey,
}, engine, source, CancellationToken.None);
try
{
    var container = await BenchNodes.ReadyContainerAsync(node, manifest.Name, version);
    await Task.Delay(2500); // a few heartbeats, so the gateway sees the node ready

    // The floor's proxy has its own HTTP/2 connection to the container, as the gateway has (ModelChannels).
    using var upstream = GrpcChannel.ForAddress("http://model.invalid", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { UseProxy = false, ConnectCallback = container.Connector.ConnectAsync },
    });
    await using var floor = await BareProxy.StartAsync(new GRPCInferenceService.GRPCInferenceServiceClient(upstream));
    Console.WriteLine("ready " + JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["gateway"] = gateway.Url.ToString(),
        ["grpc"] = gateway.GrpcUrl!.ToString(),
        ["floor"] = floor.Url.ToString(),
        ["container"] = container.Id,
        ["port"] = container.ContainerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["model"] = manifest.Name,
        ["version"] = version,
    }));
    Console.Out.Flush();
    // Serves until the bench closes this process's standard input (or ends, which closes it too).
    // Its input is read on a thread of its own: Console.In's async reads run synchronously, and awaiting
    // ReadToEndAsync here blocked a thread-pool worker for the whole run (with what that worker had queued left for
    // others to steal): the process ran a worker short, and with a CPU of its own (PIN=1) stalled for up to a second
    // at a time, half its CPU idle. A line "jit" is answered "jit N", the methods this process has compiled so far
    // (the bench warms up until they stop changing); the end of the input ends the run.
    await Task.Factory.StartNew(() =>
    {
        while (Console.In.ReadLine() is { } line)
        {
            if (line == "jit") Console.Out.WriteLine($"jit {System.Runtime.JitInfo.GetCompiledMethodCount()}");
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    // How much of the run this process spent in garbage collection (its stalls land on every path through it).
    Console.Error.WriteLine($"gateway process: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2 collections, " +
                            $"{GC.GetTotalPauseDuration().TotalMilliseconds:0} ms paused in all, {GC.GetTotalAllocatedBytes() / 1048576.0:0} MiB allocated");
}
finally
{
    await node.DisposeAsync();
    var left = await engine.PruneAsync(label, null, CancellationToken.None);
    if (left.Containers.Count + left.Networks.Count > 0) Console.Error.WriteLine($"removed leftovers: {left.Containers.Count} containers, {left.Networks.Count} networks");
}

return 0;

/// <summary>
/// The floor: a V2 ModelInfer served by Kestrel (HTTP/2 only, cleartext) and grpc-aspnetcore, forwarded as it came to
/// the model through Grpc.Net.Client with a deadline, as the gateway's channel sends it; nothing else (no admission,
/// no schema, no routing, no receipt).
/// </summary>
internal sealed class BareProxy : GRPCInferenceService.GRPCInferenceServiceBase
{
    private readonly GRPCInferenceService.GRPCInferenceServiceClient _upstream;

    public BareProxy(GRPCInferenceService.GRPCInferenceServiceClient upstream) => _upstream = upstream;

    public override Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context) =>
        _upstream.ModelInferAsync(request, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: context.CancellationToken)).ResponseAsync;

    public static async Task<Host> StartAsync(GRPCInferenceService.GRPCInferenceServiceClient upstream)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(upstream);
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<BareProxy>();
        await app.StartAsync();
        return new Host(app, new Uri(app.Urls.First()));
    }

    internal sealed record Host(WebApplication App, Uri Url) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}

/// <summary>The echo package copied aside with InfraMind's protocol descriptors beside it (what `infra init` writes), removed at the end.</summary>
internal sealed class PackageCopy : IDisposable
{
    public PackageCopy(string source)
    {
        Path = Directory.CreateTempSubdirectory("im-bench-grpc-").FullName;
        foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
        File.WriteAllText(System.IO.Path.Combine(Path, ProtocolDescriptors.FileName), ProtocolDescriptors.Json());
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

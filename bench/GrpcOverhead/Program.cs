using System.Diagnostics;
using System.Text;
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
using static Measure;

// Usage: dotnet run -c Release --project bench/GrpcOverhead [-- requests concurrency]
// A gRPC echo model (a Python grpcio V2 server in a container) served as `infra mesh up` serves it (keys and receipts
// only with RECEIPTS=1): the node attached to the gateway's LocalNodes, so the gateway sends jobs straight to the
// container over h2c. Measured in one run:
//   direct   gRPC caller → the container (inside its network namespace, as its node reaches it): the baseline
//   rest-gw  REST caller → POST /inference/v1/<name> → gRPC model
//   grpc-gw  gRPC caller → the gateway's V2 ingress → gRPC model
//   floor    gRPC caller → a bare grpc-dotnet proxy (Kestrel h2c + grpc-aspnetcore in, Grpc.Net.Client out, the message
//            forwarded as it came, nothing else) → gRPC model: the stacks #14 builds the gateway on, without the gateway.
//            Its ratio is the most any gateway on them can reach on this machine.
//   control  the direct path again: its ratio to direct is what this machine's noise alone does to a ratio
// Bounded: a fixed count per phase and a 60 s cap on each; everything it starts carries a run label and is removed.
var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 40000;
var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
using var packageDir = new PackageCopy(Path.Combine(AppContext.BaseDirectory, "echo-grpc-model"));
var package = packageDir.Path;
var manifest = ManifestReader.Validate(package).Manifest ?? throw new InvalidOperationException("echo-grpc-model/model.yaml is invalid");
var version = manifest.Version.ToString();
var label = new Dictionary<string, string> { ["org.inframind.bench"] = Guid.NewGuid().ToString("N") };

ContainerEngine engine;
try
{
    engine = await ContainerEngine.ConnectAsync(CancellationToken.None);
}
catch (ContainerEngineException e)
{
    Console.Error.WriteLine($"no container engine: {e.Message}");
    return 1;
}

using var engineLease = engine;
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
    HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    ContainerLabels = label,
    LocalNodes = local,
    Identity = nodeKey,
}, engine, source, CancellationToken.None);
try
{
    var wait = Stopwatch.StartNew();
    RunningContainer? container = null;
    while (container is null && wait.Elapsed < TimeSpan.FromSeconds(120))
    {
        await Task.Delay(200);
        if (node.Agent.Reports().Any(r => r.State == ModelState.Ready)) container = node.Agent.ContainerOf(manifest.Name, version);
    }

    if (container is null)
        throw new InvalidOperationException("the echo model never got ready: " + string.Join("; ", node.Agent.Reports().Select(r => $"{r.State} {r.Verdict?.WireName} {r.Detail}")));
    await Task.Delay(1000); // a few heartbeats, so the gateway sees the node ready

    // Every client keeps its connections: one HTTP/2 connection per gRPC channel, `concurrency` HTTP/1.1 ones for REST.
    using var direct = GrpcChannel.ForAddress("http://model.invalid", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { UseProxy = false, ConnectCallback = container.Connector.ConnectAsync },
    });
    var directClient = new GRPCInferenceService.GRPCInferenceServiceClient(direct);
    using var ingress = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    var ingressClient = new GRPCInferenceService.GRPCInferenceServiceClient(ingress);
    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency }) { Timeout = TimeSpan.FromSeconds(10) };
    var viaGateway = new Uri(gateway.Url, $"inference/v1/{manifest.Name}");
    // The floor's proxy has its own HTTP/2 connection to the container, as the gateway has (ModelChannels).
    using var upstream = GrpcChannel.ForAddress("http://model.invalid", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { UseProxy = false, ConnectCallback = container.Connector.ConnectAsync },
    });
    await using var floor = await BareProxy.StartAsync(new GRPCInferenceService.GRPCInferenceServiceClient(upstream));
    using var floorChannel = GrpcChannel.ForAddress(floor.Url, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    var floorClient = new GRPCInferenceService.GRPCInferenceServiceClient(floorChannel);

    async Task GrpcAsync(GRPCInferenceService.GRPCInferenceServiceClient client, int i)
    {
        var answer = await client.ModelInferAsync(JsonTensor.Request(manifest.Name, version, "b", Encoding.UTF8.GetBytes($$"""{"text": "echo {{i}}"}""")));
        if (!JsonTensor.TryRead(answer, out _, out var problem)) throw new InvalidOperationException(problem);
    }

    async Task RestAsync(int i)
    {
        using var content = new StringContent($$"""{"text": "echo {{i}}"}""", Encoding.UTF8, "application/json");
        using var r = await http.PostAsync(viaGateway, content);
        _ = await r.Content.ReadAsByteArrayAsync();
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{viaGateway} answered {(int)r.StatusCode}");
    }

    // The mode is what the run says it is: with RECEIPTS=1 an answer through the gateway carries the node's receipt.
    using (var probe = ingressClient.ModelInferAsync(JsonTensor.Request(manifest.Name, version, "probe", """{"text": "probe"}"""u8)))
    {
        await probe;
        var receipt = (await probe.ResponseHeadersAsync).GetValue(MeshHeaders.Receipt.ToLowerInvariant());
        if ((receipt is not null) != receipts) throw new InvalidOperationException($"RECEIPTS={(receipts ? 1 : 0)} but the answer {(receipt is null ? "carries no" : "carries a")} receipt");
    }

    var paths = new List<(string Name, Func<int, Task> Send, string Note)>
    {
        ("direct", i => GrpcAsync(directClient, i), "  (gRPC caller → the container)"),
        ("rest-gw", RestAsync, "  (REST caller → gateway → gRPC model)"),
        ("grpc-gw", i => GrpcAsync(ingressClient, i), "  (gRPC caller → the gateway's V2 ingress → gRPC model)"),
        ("floor", i => GrpcAsync(floorClient, i), "  (gRPC caller → a bare grpc-dotnet proxy → gRPC model: the gateway's stacks alone)"),
        ("control", i => GrpcAsync(directClient, i), "  (control: the direct path again)"),
    };
    var warm = await WarmUpAsync(async () =>
    {
        foreach (var (_, send, _) in paths.Where(p => p.Name != "control")) await RunAsync(send, 500, concurrency);
    });
    Console.WriteLine($"warmed up in {warm.TotalSeconds:0} s; load average now {File.ReadAllText("/proc/loadavg").Trim()}");

    // Short interleaved rounds, each running every path back to back (in reverse order every other round): the ratio
    // is taken per round and the median reported, so a slow patch of the machine hits both sides of a ratio alike.
    const int Rounds = 20;
    var results = paths.ToDictionary(p => p.Name, _ => (Latencies: new List<double>(), Seconds: 0.0, Bench: 0.0, Container: 0.0));
    // The model container's context switches: voluntary ones are its threads waking for work (requests arriving one
    // by one cost more wake-ups than the same requests in a burst), involuntary ones its threads preempted.
    var switches = paths.ToDictionary(p => p.Name, _ => (Woke: 0L, Preempted: 0L));
    var segments = paths.ToDictionary(p => p.Name, _ => (In: 0L, Out: 0L));
    var ratios = paths.ToDictionary(p => p.Name, _ => new List<double>());
    for (var round = 0; round < Rounds; round++)
    {
        var rps = new Dictionary<string, double>();
        foreach (var (name, send, _) in round % 2 == 0 ? paths : Enumerable.Reverse(paths))
        {
            var (bench, model) = (ProcessCpu(), ContainerCpu(container.Id));
            var before = ContainerSwitches(container.Id);
            var segmentsBefore = ContainerSegments(container.Id);
            var (l, t) = await RunAsync(send, requests / Rounds, concurrency);
            var after = ContainerSwitches(container.Id);
            var segmentsAfter = ContainerSegments(container.Id);
            segments[name] = (segments[name].In + segmentsAfter.In - segmentsBefore.In, segments[name].Out + segmentsAfter.Out - segmentsBefore.Out);
            switches[name] = (switches[name].Woke + after.Voluntary - before.Voluntary, switches[name].Preempted + after.Involuntary - before.Involuntary);
            var r = results[name];
            r.Latencies.AddRange(l);
            results[name] = (r.Latencies, r.Seconds + t, r.Bench + ProcessCpu() - bench, r.Container + ContainerCpu(container.Id) - model);
            rps[name] = l.Count / t;
        }

        foreach (var (name, _, _) in paths) ratios[name].Add(rps[name] / rps["direct"]);
    }

    // One request at a time: the machine is not saturated, so this is the latency a hop adds by itself. In rounds too,
    // each path in turn (reversed every other round): one path after the other, a busy minute of the shared machine
    // lands on one path alone and moves its p50 by more than the hop costs.
    var measured = paths.Where(p => p.Name != "control").ToList();
    var single = measured.ToDictionary(p => p.Name, _ => new List<double>());
    for (var round = 0; round < Rounds; round++)
    {
        foreach (var (name, send, _) in round % 2 == 0 ? measured : Enumerable.Reverse(measured))
            single[name].AddRange((await RunAsync(send, requests / 4 / Rounds, 1)).Latencies);
    }

    Console.WriteLine($"requests per path: {results["direct"].Latencies.Count}, concurrency {concurrency}, {Environment.ProcessorCount} CPUs, " +
                      (receipts ? "receipts on (RECEIPTS=1: every answer through the gateway signed by the node)" : "receipts off (the node has no key; RECEIPTS=1 signs every answer, as mesh up does)"));
    foreach (var (name, _, note) in paths)
    {
        var r = results[name];
        var n = r.Latencies.Count;
        Console.WriteLine($"{name,-8}: {n / r.Seconds,6:0} req/s  p50 {P(r.Latencies, 0.50),6:0.000} ms  p99 {P(r.Latencies, 0.99),6:0.000} ms  " +
                          $"CPU per request: this process {r.Bench / n,4:0} us, model container {r.Container / n,4:0} us " +
                          $"({switches[name].Woke / (double)n:0.0} wake-ups, {switches[name].Preempted / (double)n:0.0} preemptions; " +
                          $"TCP segments in {segments[name].In / (double)n:0.00}, out {segments[name].Out / (double)n:0.00}){note}");
    }

    var d = results["direct"];
    var dRps = d.Latencies.Count / d.Seconds;
    foreach (var (name, what, target) in new[]
             {
                 ("rest-gw", "REST caller → gateway → gRPC model", true), ("grpc-gw", "gRPC caller → gateway → gRPC model", true),
                 ("floor", "a bare grpc-dotnet proxy: the most a gateway on these stacks reaches here", false), ("control", "noise, direct against itself", false),
             })
    {
        var r = results[name];
        Console.WriteLine($"{name} ratio {r.Latencies.Count / r.Seconds / dRps:0.00}x overall, {Median(ratios[name]):0.00}x median of {Rounds} rounds " +
                          $"({Spread(ratios[name])}{(target ? "; target ≥ 0.85x" : "")}; {what}); p50 {P(r.Latencies, 0.50) - P(d.Latencies, 0.50):+0.000;-0.000} ms, " +
                          $"p99 {P(r.Latencies, 0.99) - P(d.Latencies, 0.99):+0.000;-0.000} ms");
    }

    Console.WriteLine($"one at a time: direct p50 {P(single["direct"], 0.50):0.000} ms; " +
                      $"rest-gw p50 {P(single["rest-gw"], 0.50):0.000} ms: {P(single["rest-gw"], 0.50) - P(single["direct"], 0.50):+0.000;-0.000} ms; " +
                      $"grpc-gw p50 {P(single["grpc-gw"], 0.50):0.000} ms: {P(single["grpc-gw"], 0.50) - P(single["direct"], 0.50):+0.000;-0.000} ms; " +
                      $"floor p50 {P(single["floor"], 0.50):0.000} ms: {P(single["floor"], 0.50) - P(single["direct"], 0.50):+0.000;-0.000} ms (target ≤ +0.3 ms added p50)");
    Console.WriteLine($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
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

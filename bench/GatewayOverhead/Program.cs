using System.Diagnostics;
using System.Text;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Node.Protocol;

// Usage: dotnet run -c Release --project bench/GatewayOverhead [-- requests concurrency]
// Bounded: a fixed count per phase and a 60 s cap on each; everything it starts carries a run label and is removed.
var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 3000;
var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
var package = Path.Combine(AppContext.BaseDirectory, "echo-model");
var manifest = ManifestReader.Validate(package).Manifest ?? throw new InvalidOperationException("echo-model/model.yaml is invalid");
var label = new Dictionary<string, string> { ["org.inframind.bench"] = Guid.NewGuid().ToString("N") };

using var engine = await ContainerEngine.ConnectAsync(CancellationToken.None);
var catalog = new InMemoryModelCatalog();
catalog.Publish(manifest, "sha256:" + new string('0', 64));
await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1 }, catalog, CancellationToken.None);
var source = new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [ModelKey.Of(manifest.Name, manifest.Version.ToString())] = package });
var node = await NodeHost.StartAsync(new NodeOptions
{
    NodeId = "bench-node",
    Gateway = gateway.Url,
    Capacity = new NodeCapacity(4000, 4L << 30, 0),
    HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    ContainerLabels = label,
}, engine, source, CancellationToken.None);
try
{
    var wait = Stopwatch.StartNew();
    RunningContainer? container = null;
    while (container is null && wait.Elapsed < TimeSpan.FromSeconds(120))
    {
        await Task.Delay(200);
        if (node.Agent.Reports().Any(r => r.State == ModelState.Ready)) container = node.Agent.ContainerOf(manifest.Name, manifest.Version.ToString());
    }

    if (container is null) throw new InvalidOperationException("the echo model never got ready");
    await Task.Delay(1000); // a few heartbeats, so the gateway sees the node ready

    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency }) { Timeout = TimeSpan.FromSeconds(10) };
    var direct = container.BaseAddress;
    var viaGateway = new Uri(gateway.Url, $"inference/v1/{manifest.Name}");
    var viaNode = new Uri(node.Url, $"jobs/{manifest.Name}/{manifest.Version}");
    await RunAsync(http, direct, 300, concurrency);
    await RunAsync(http, viaGateway, 300, concurrency);
    await RunAsync(http, viaNode, 300, concurrency);
    // Interleaved rounds, so drift in the machine's load hits both paths alike.
    var d = new List<double>();
    var g = new List<double>();
    var n = new List<double>();
    double dTime = 0, gTime = 0, nTime = 0;
    for (var round = 0; round < 3; round++)
    {
        var (dl, dt) = await RunAsync(http, direct, requests / 3, concurrency);
        var (gl, gt) = await RunAsync(http, viaGateway, requests / 3, concurrency);
        var (nl, nt) = await RunAsync(http, viaNode, requests / 3, concurrency);
        n.AddRange(nl);
        nTime += nt;
        d.AddRange(dl);
        g.AddRange(gl);
        dTime += dt;
        gTime += gt;
    }

    var dRps = d.Count / dTime;
    var gRps = g.Count / gTime;
    Console.WriteLine($"requests per path: {d.Count}, concurrency {concurrency}, {Environment.ProcessorCount} CPUs");
    Console.WriteLine($"direct : {dRps,8:0} req/s  p50 {P(d, 0.50),6:0.000} ms  p99 {P(d, 0.99),6:0.000} ms");
    Console.WriteLine($"node   : {n.Count / nTime,8:0} req/s  p50 {P(n, 0.50),6:0.000} ms  p99 {P(n, 0.99),6:0.000} ms  (node job API only, no gateway)");
    Console.WriteLine($"gateway: {gRps,8:0} req/s  p50 {P(g, 0.50),6:0.000} ms  p99 {P(g, 0.99),6:0.000} ms");
    Console.WriteLine($"throughput ratio {gRps / dRps:0.00}x (target ≥ 0.85x); p50 +{P(g, 0.50) - P(d, 0.50):0.000} ms (target ≤ +0.3 ms); p99 +{P(g, 0.99) - P(d, 0.99):0.000} ms");
}
finally
{
    await node.DisposeAsync();
    var left = await engine.PruneAsync(label, null, CancellationToken.None);
    if (left.Containers.Count + left.Networks.Count > 0) Console.Error.WriteLine($"removed leftovers: {left.Containers.Count} containers, {left.Networks.Count} networks");
}

static double P(List<double> values, double q)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
}

static async Task<(List<double> Latencies, double Seconds)> RunAsync(HttpClient http, Uri target, int count, int concurrency)
{
    var latencies = new double[count];
    var next = -1;
    var cap = Stopwatch.StartNew();
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count && cap.Elapsed < TimeSpan.FromSeconds(60))
        {
            var t = Stopwatch.GetTimestamp();
            using var content = new StringContent($$"""{"text": "echo {{i}}"}""", Encoding.UTF8, "application/json");
            using var r = await http.PostAsync(target, content);
            _ = await r.Content.ReadAsByteArrayAsync();
            if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{target} answered {(int)r.StatusCode}");
            latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
    }));
    var done = Math.Min(count, next);
    return ([.. latencies.Take(done).Where(l => l > 0)], clock.Elapsed.TotalSeconds);
}

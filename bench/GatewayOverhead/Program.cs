using System.Diagnostics;
using System.Text;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using static Measure;

// Usage: dotnet run -c Release --project bench/GatewayOverhead [-- requests concurrency]
// Bounded: a fixed count per phase and a 60 s cap on each; everything it starts carries a run label and is removed.
var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 60000;
var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
var package = Path.Combine(AppContext.BaseDirectory, "echo-model");
var manifest = ManifestReader.Validate(package).Manifest ?? throw new InvalidOperationException("echo-model/model.yaml is invalid");
var label = new Dictionary<string, string> { ["org.inframind.bench"] = Guid.NewGuid().ToString("N") };

using var engine = await Engines.ConnectAsync();
if (engine is null) return 1;
var catalog = new InMemoryModelCatalog();
catalog.Publish(manifest, "sha256:" + new string('0', 64));
await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0" }, catalog, CancellationToken.None);
var source = new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [ModelKey.Of(manifest.Name, manifest.Version.ToString())] = package });
var node = await NodeHost.StartAsync(new NodeOptions
{
    NodeId = "bench-node",
    Gateway = gateway.Url,
    Capacity = new NodeCapacity(4000, 4L << 30, 0),
    HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    ContainerLabels = label,
}, engine, source, CancellationToken.None);
ReferenceProxy? nginx = null;
try
{
    var container = await BenchNodes.ReadyContainerAsync(node, manifest.Name, manifest.Version.ToString());
    await Task.Delay(1000); // a few heartbeats, so the gateway sees the node ready

    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency }) { Timeout = TimeSpan.FromSeconds(10) };
    // The model container has no network: "direct" is a connection made inside its network namespace (its connector),
    // as the node and `infra test` make them.
    using var directHttp = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency, ConnectCallback = container.Connector.ConnectAsync })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };
    var direct = container.Connector.BaseAddress;
    nginx = ReferenceProxy.TryStart(container.Id, container.ContainerPort);
    using var nginxHttp = nginx?.CreateClient(concurrency);
    var viaGateway = new Uri(gateway.Url, $"inference/v1/{manifest.Name}");
    var viaNode = new Uri(node.Url, $"jobs/{manifest.Name}/{manifest.Version}");
    // The gateway's V2 gRPC ingress in front of the same REST model: one HTTP/2 connection, as a gRPC client keeps.
    using var grpcChannel = Grpc.Net.Client.GrpcChannel.ForAddress(gateway.GrpcUrl!, new Grpc.Net.Client.GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    var grpcClient = new GRPCInferenceService.GRPCInferenceServiceClient(grpcChannel);
    var paths = new List<(string Name, Func<int, Task> Send, string Note)>
    {
        ("direct", i => PostAsync(directHttp, direct, i), ""),
        ("node", i => PostAsync(http, viaNode, i), "  (node job API only, no gateway)"),
        ("gateway", i => PostAsync(http, viaGateway, i), ""),
        ("grpc-gw", async i => await grpcClient.ModelInferAsync(JsonTensor.Request(manifest.Name, "", "b", Encoding.UTF8.GetBytes($$"""{"text": "echo {{i}}"}"""))),
            "  (gRPC caller → the gateway's V2 ingress → REST model)"),
    };
    if (nginx is not null) paths.Add(("nginx", i => PostAsync(nginxHttp!, ReferenceProxy.Url, i), "  (reference: nginx in the container's network namespace as a plain reverse proxy, no checks)"));
    // The control: the direct path once more in every round. Its ratio to the direct path is what this machine's noise
    // alone does to a ratio, so a gateway ratio is read against it.
    paths.Add(("control", i => PostAsync(directHttp, direct, i), "  (control: the direct path again)"));
    // Steady state, not start-up: warm every path until the JIT has nothing left to compile (tiered compilation
    // recompiles hot code twice in the background, and under full load that takes tens of seconds): at least 15 s,
    // then until a round compiles next to nothing, at most 60 s.
    var warm = await WarmUpAsync(async () =>
    {
        foreach (var (_, send, _) in paths.Where(p => p.Name != "control")) await RunAsync(send, 1000, concurrency);
    });
    Console.WriteLine($"warmed up in {warm.TotalSeconds:0} s");
    // Interleaved rounds, so drift in the machine's load hits every path alike.
    var results = paths.ToDictionary(p => p.Name, _ => (Latencies: new List<double>(), Seconds: 0.0, Cpu: new CpuUse()));
    // Short rounds, each running every path back to back: the ratio is taken per round and the median reported, so a
    // slow patch of the machine (this VM's speed drifts by tens of percent) hits both sides of a ratio alike.
    // Even rounds run the paths in one order, odd rounds in the reverse one, so a drift within a round favours no path.
    const int Rounds = 20;
    var roundRatios = new List<double>();
    var grpcRatios = new List<double>();
    var nginxRatios = new List<double>();
    var controlRatios = new List<double>();
    for (var round = 0; round < Rounds; round++)
    {
        var rps = new Dictionary<string, double>();
        foreach (var (name, send, _) in round % 2 == 0 ? paths : Enumerable.Reverse(paths))
        {
            var before = CpuUse.Now(container.Id, nginx);
            var (l, t) = await RunAsync(send, requests / Rounds, concurrency);
            var r = results[name];
            r.Latencies.AddRange(l);
            results[name] = (r.Latencies, r.Seconds + t, r.Cpu + (CpuUse.Now(container.Id, nginx) - before));
            rps[name] = l.Count / t;
        }

        roundRatios.Add(rps["gateway"] / rps["direct"]);
        grpcRatios.Add(rps["grpc-gw"] / rps["direct"]);
        controlRatios.Add(rps["control"] / rps["direct"]);
        if (nginx is not null) nginxRatios.Add(rps["nginx"] / rps["direct"]);
    }

    // One request at a time: the machine is not saturated, so this is the latency a hop adds by itself.
    var (d1, _) = await RunAsync(paths[0].Send, requests / 3, 1);
    var (g1, _) = await RunAsync(paths[2].Send, requests / 3, 1);

    Console.WriteLine($"requests per path: {results["direct"].Latencies.Count}, concurrency {concurrency}, {Environment.ProcessorCount} CPUs");
    foreach (var (name, _, note) in paths)
    {
        var r = results[name];
        var n = r.Latencies.Count;
        Console.WriteLine($"{name,-8}: {n / r.Seconds,6:0} req/s  p50 {P(r.Latencies, 0.50),6:0.000} ms  p99 {P(r.Latencies, 0.99),6:0.000} ms  " +
                          $"CPU per request: this process {r.Cpu.Bench / n,4:0} us, model container {r.Cpu.Container / n,4:0} us" +
                          (name == "nginx" ? $", nginx {r.Cpu.Nginx / n,4:0} us" : "") + note);
    }

    var dr = results["direct"];
    var gr = results["gateway"];
    var dRps = dr.Latencies.Count / dr.Seconds;
    var gRps = gr.Latencies.Count / gr.Seconds;
    Console.WriteLine($"throughput ratio {gRps / dRps:0.00}x overall, {Median(roundRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(roundRatios)}; target ≥ 0.85x); p50 +{P(gr.Latencies, 0.50) - P(dr.Latencies, 0.50):0.000} ms (target ≤ +0.3 ms); " +
                      $"p99 +{P(gr.Latencies, 0.99) - P(dr.Latencies, 0.99):0.000} ms");
    var grr = results["grpc-gw"];
    Console.WriteLine($"grpc ingress ratio {grr.Latencies.Count / grr.Seconds / dRps:0.00}x overall, {Median(grpcRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(grpcRatios)}; gRPC caller → gateway → REST model, against direct REST); p50 +{P(grr.Latencies, 0.50) - P(dr.Latencies, 0.50):0.000} ms");
    if (nginx is not null)
    {
        var nr = results["nginx"];
        Console.WriteLine($"reference: nginx {nr.Latencies.Count / nr.Seconds / dRps:0.00}x overall, {Median(nginxRatios):0.00}x median of {Rounds} rounds ({Spread(nginxRatios)}); " +
                          $"p50 +{P(nr.Latencies, 0.50) - P(dr.Latencies, 0.50):0.000} ms");
    }

    var cr = results["control"];
    Console.WriteLine($"noise (control: direct against itself): {cr.Latencies.Count / cr.Seconds / dRps:0.00}x overall, {Median(controlRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(controlRatios)})");
    Console.WriteLine($"one at a time: direct p50 {P(d1, 0.50):0.000} ms, gateway p50 {P(g1, 0.50):0.000} ms: +{P(g1, 0.50) - P(d1, 0.50):0.000} ms per request");
}
finally
{
    nginx?.Dispose();
    await node.DisposeAsync();
    var left = await engine.PruneAsync(label, null, CancellationToken.None);
    if (left.Containers.Count + left.Networks.Count > 0) Console.Error.WriteLine($"removed leftovers: {left.Containers.Count} containers, {left.Networks.Count} networks");
}

return 0;

static async Task PostAsync(HttpClient http, Uri target, int i)
{
    using var content = new StringContent($$"""{"text": "echo {{i}}"}""", Encoding.UTF8, "application/json");
    using var r = await http.PostAsync(target, content);
    _ = await r.Content.ReadAsByteArrayAsync();
    if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"{target} answered {(int)r.StatusCode}");
}

/// <summary>CPU time in microseconds: this process (load generator, gateway and node), the model's container, the reference nginx.</summary>
internal readonly record struct CpuUse(double Bench, double Container, double Nginx)
{
    public static CpuUse Now(string containerId, ReferenceProxy? nginx) => new(Measure.ProcessCpu(), Measure.ContainerCpu(containerId), nginx?.CpuMicroseconds() ?? 0);

    public static CpuUse operator +(CpuUse a, CpuUse b) => new(a.Bench + b.Bench, a.Container + b.Container, a.Nginx + b.Nginx);

    public static CpuUse operator -(CpuUse a, CpuUse b) => new(a.Bench - b.Bench, a.Container - b.Container, a.Nginx - b.Nginx);
}

/// <summary>
/// nginx (where installed) as a plain keep-alive reverse proxy in front of the same container: what a hop costs here at
/// best. The container has no network, so nginx runs in its network namespace (nsenter) and listens on a unix socket,
/// which the bench reaches from its own namespace.
/// </summary>
internal sealed class ReferenceProxy : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private ReferenceProxy(Process process, string dir) => (_process, _dir) = (process, dir);

    public static Uri Url { get; } = new("http://nginx.invalid/");

    private string Socket => Path.Combine(_dir, "nginx.sock");

    public HttpClient CreateClient(int concurrency) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        MaxConnectionsPerServer = concurrency,
        ConnectCallback = async (_, ct) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(Socket), ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        },
    })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    public static ReferenceProxy? TryStart(string containerId, int port)
    {
        if (!File.Exists("/usr/sbin/nginx") || !File.Exists("/usr/bin/nsenter")) return null;
        using var inspect = Process.Start(new ProcessStartInfo("docker", ["inspect", "-f", "{{.State.Pid}}", containerId]) { RedirectStandardOutput = true })!;
        var pid = inspect.StandardOutput.ReadToEnd().Trim();
        inspect.WaitForExit();
        if (inspect.ExitCode != 0) return null;
        var dir = Directory.CreateTempSubdirectory("im-bench-nginx-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            daemon off;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                upstream model { server 127.0.0.1:{{port}}; keepalive 16; }
                server {
                    listen unix:{{dir}}/nginx.sock;
                    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
                }
            }
            """);
        // Its output goes to pipes of ours, never to the terminal's: a worker outliving the bench would hold that open.
        // nsenter execs nginx: the process started is nginx's master, whose pid the CPU accounting follows.
        var process = Process.Start(new ProcessStartInfo("/usr/bin/nsenter", [$"--net=/proc/{pid}/ns/net", "/usr/sbin/nginx", .. Args(dir), "-e", Path.Combine(dir, "error.log")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        for (var i = 0; i < 50; i++)
        {
            try
            {
                using var c = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                c.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir, "nginx.sock")));
                return new ReferenceProxy(process, dir);
            }
            catch (System.Net.Sockets.SocketException)
            {
                Thread.Sleep(100);
            }
        }

        process.Kill();
        return null;
    }

    /// <summary>CPU time of nginx's master and workers, in microseconds.</summary>
    public double CpuMicroseconds()
    {
        var total = 0.0;
        foreach (var stat in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            string text;
            try
            {
                text = File.ReadAllText(stat);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            // pid (comm) state ppid ... utime(14) stime(15), in clock ticks; comm may hold spaces, so split after ')'.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            var pid = int.Parse(text[..text.IndexOf(' ')], System.Globalization.CultureInfo.InvariantCulture);
            if (pid != _process.Id && fields[1] != _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)) continue;
            total += (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) * 1e6 / 100;
        }

        return total;
    }

    private static string[] Args(string dir) => ["-p", dir + "/", "-c", Path.Combine(dir, "nginx.conf")];

    public void Dispose()
    {
        // "stop" makes the master end its workers too (a SIGKILL to the master would leave them running).
        using (var stop = Process.Start(new ProcessStartInfo("/usr/sbin/nginx", [.. Args(dir: _dir), "-s", "stop"]) { RedirectStandardError = true })!) stop.WaitForExit(5000);
        if (!_process.WaitForExit(5000)) _process.Kill(entireProcessTree: true);
        _process.Dispose();
        Directory.Delete(_dir, true);
    }
}

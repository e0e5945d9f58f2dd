using System.Diagnostics;
using System.Text;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;

// Usage: dotnet run -c Release --project bench/GatewayOverhead [-- requests concurrency]
// Bounded: a fixed count per phase and a 60 s cap on each; everything it starts carries a run label and is removed.
var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 18000;
var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
var package = Path.Combine(AppContext.BaseDirectory, "echo-model");
var manifest = ManifestReader.Validate(package).Manifest ?? throw new InvalidOperationException("echo-model/model.yaml is invalid");
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
await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1 }, catalog, CancellationToken.None);
// A second gateway that sends every job through its node's job API, as it must for a node on another machine: the
// path every multi-host job pays (gateway → node → container), measured against its own container called directly.
await using var gatewayViaNode = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1, DirectToLocalContainers = false }, catalog, CancellationToken.None);
var source = new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [ModelKey.Of(manifest.Name, manifest.Version.ToString())] = package });
var node = await StartNodeAsync("bench-node", gateway.Url);
var nodeB = await StartNodeAsync("bench-node-b", gatewayViaNode.Url);
ReferenceProxy? nginx = null;
try
{
    var container = await ReadyContainerAsync(node);
    var containerB = await ReadyContainerAsync(nodeB);
    await Task.Delay(1000); // a few heartbeats, so the gateways see their nodes ready

    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency }) { Timeout = TimeSpan.FromSeconds(10) };
    var direct = container.BaseAddress;
    nginx = ReferenceProxy.TryStart(direct);
    var viaGateway = new Uri(gateway.Url, $"inference/v1/{manifest.Name}");
    var viaNode = new Uri(node.Url, $"jobs/{manifest.Name}/{manifest.Version}");
    var directB = containerB.BaseAddress;
    var throughNode = new Uri(gatewayViaNode.Url, $"inference/v1/{manifest.Name}");
    var paths = new List<(string Name, Uri Target, string Note)>
    {
        ("direct", direct, ""),
        ("node", viaNode, "  (node job API only, no gateway)"),
        ("gateway", viaGateway, "  (gateway straight to a container on its own machine)"),
        ("direct-b", directB, "  (the second node's container: the baseline of via-node)"),
        ("via-node", throughNode, "  (gateway → node job API → container: every multi-host job)"),
    };
    if (nginx is not null) paths.Add(("nginx", nginx.Url, "  (reference: nginx as a plain reverse proxy, no checks)"));
    // The control: the direct path once more in every round. Its ratio to the direct path is what this machine's noise
    // alone does to a ratio, so a gateway ratio is read against it.
    paths.Add(("control", direct, "  (control: the direct path again)"));
    // Steady state, not start-up: warm every path until the JIT has nothing left to compile (tiered compilation
    // recompiles hot code twice in the background, and under full load that takes tens of seconds): at least 15 s,
    // then until a round compiles next to nothing, at most 60 s.
    var warm = Stopwatch.StartNew();
    long compiled;
    do
    {
        compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        foreach (var target in paths.Select(p => p.Target).Distinct()) await RunAsync(http, target, 1000, concurrency); // the control warms with direct
    }
    while ((warm.Elapsed < TimeSpan.FromSeconds(15) || System.Runtime.JitInfo.GetCompiledMethodCount() - compiled > 5) && warm.Elapsed < TimeSpan.FromSeconds(60));
    Console.WriteLine($"warmed up in {warm.Elapsed.TotalSeconds:0} s ({System.Runtime.JitInfo.GetCompiledMethodCount() - compiled} methods compiled in the last round)");
    // Interleaved rounds, so drift in the machine's load hits every path alike.
    var results = paths.ToDictionary(p => p.Name, _ => (Latencies: new List<double>(), Seconds: 0.0, Cpu: new CpuUse()));
    // Short rounds, each running every path back to back: the ratio is taken per round and the median reported, so a
    // slow patch of the machine (this VM's speed drifts by tens of percent) hits both sides of a ratio alike.
    // Even rounds run the paths in one order, odd rounds in the reverse one, so a drift within a round favours no path.
    const int Rounds = 20;
    var roundRatios = new List<double>();
    var viaNodeRatios = new List<double>();
    var nginxRatios = new List<double>();
    var controlRatios = new List<double>();
    for (var round = 0; round < Rounds; round++)
    {
        var rps = new Dictionary<string, double>();
        foreach (var (name, target, _) in round % 2 == 0 ? paths : Enumerable.Reverse(paths))
        {
            var before = CpuUse.Now([container.Id, containerB.Id], [container.HostPort, containerB.HostPort], nginx);
            var (l, t) = await RunAsync(http, target, requests / Rounds, concurrency);
            var r = results[name];
            r.Latencies.AddRange(l);
            results[name] = (r.Latencies, r.Seconds + t, r.Cpu + (CpuUse.Now([container.Id, containerB.Id], [container.HostPort, containerB.HostPort], nginx) - before));
            rps[name] = l.Count / t;
        }

        roundRatios.Add(rps["gateway"] / rps["direct"]);
        viaNodeRatios.Add(rps["via-node"] / rps["direct-b"]);
        controlRatios.Add(rps["control"] / rps["direct"]);
        if (nginx is not null) nginxRatios.Add(rps["nginx"] / rps["direct"]);
    }

    // One request at a time: the machine is not saturated, so this is the latency a hop adds by itself.
    var (d1, _) = await RunAsync(http, direct, requests / 3, 1);
    var (g1, _) = await RunAsync(http, viaGateway, requests / 3, 1);
    var (b1, _) = await RunAsync(http, directB, requests / 3, 1);
    var (n1, _) = await RunAsync(http, throughNode, requests / 3, 1);

    Console.WriteLine($"requests per path: {results["direct"].Latencies.Count}, concurrency {concurrency}, {Environment.ProcessorCount} CPUs");
    foreach (var (name, _, note) in paths)
    {
        var r = results[name];
        var n = r.Latencies.Count;
        Console.WriteLine($"{name,-8}: {n / r.Seconds,6:0} req/s  p50 {P(r.Latencies, 0.50),6:0.000} ms  p99 {P(r.Latencies, 0.99),6:0.000} ms  " +
                          $"CPU per request: this process {r.Cpu.Bench / n,4:0} us, model container {r.Cpu.Container / n,4:0} us, docker-proxy {r.Cpu.Proxy / n,4:0} us" +
                          (name == "nginx" ? $", nginx {r.Cpu.Nginx / n,4:0} us" : "") + note);
    }

    var dr = results["direct"];
    var gr = results["gateway"];
    var dRps = dr.Latencies.Count / dr.Seconds;
    var gRps = gr.Latencies.Count / gr.Seconds;
    Console.WriteLine($"throughput ratio {gRps / dRps:0.00}x overall, {Median(roundRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(roundRatios)}; target ≥ 0.85x); p50 +{P(gr.Latencies, 0.50) - P(dr.Latencies, 0.50):0.000} ms (target ≤ +0.3 ms); " +
                      $"p99 +{P(gr.Latencies, 0.99) - P(dr.Latencies, 0.99):0.000} ms");
    var br = results["direct-b"];
    var vr = results["via-node"];
    Console.WriteLine($"through the node {vr.Latencies.Count / vr.Seconds / (br.Latencies.Count / br.Seconds):0.00}x overall, {Median(viaNodeRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(viaNodeRatios)}; target ≥ 0.85x); p50 +{P(vr.Latencies, 0.50) - P(br.Latencies, 0.50):0.000} ms; " +
                      $"p99 +{P(vr.Latencies, 0.99) - P(br.Latencies, 0.99):0.000} ms (against the second node's container directly)");
    if (nginx is not null)
    {
        var nr = results["nginx"];
        Console.WriteLine($"reference: nginx {nr.Latencies.Count / nr.Seconds / dRps:0.00}x overall, {Median(nginxRatios):0.00}x median of {Rounds} rounds ({Spread(nginxRatios)}); " +
                          $"p50 +{P(nr.Latencies, 0.50) - P(dr.Latencies, 0.50):0.000} ms");
    }

    var cr = results["control"];
    Console.WriteLine($"noise (control: direct against itself): {cr.Latencies.Count / cr.Seconds / dRps:0.00}x overall, {Median(controlRatios):0.00}x median of {Rounds} rounds " +
                      $"({Spread(controlRatios)})");
    Console.WriteLine($"one at a time: direct p50 {P(d1, 0.50):0.000} ms, gateway p50 {P(g1, 0.50):0.000} ms: +{P(g1, 0.50) - P(d1, 0.50):0.000} ms per request; " +
                      $"through the node p50 {P(n1, 0.50):0.000} ms against {P(b1, 0.50):0.000} ms direct: +{P(n1, 0.50) - P(b1, 0.50):0.000} ms");
}
finally
{
    nginx?.Dispose();
    await node.DisposeAsync();
    await nodeB.DisposeAsync();
    var left = await engine.PruneAsync(label, null, CancellationToken.None);
    if (left.Containers.Count + left.Networks.Count > 0) Console.Error.WriteLine($"removed leftovers: {left.Containers.Count} containers, {left.Networks.Count} networks");
}

return 0;

async Task<NodeHost> StartNodeAsync(string id, Uri gatewayUrl) => await NodeHost.StartAsync(new NodeOptions
{
    NodeId = id,
    Gateway = gatewayUrl,
    Capacity = new NodeCapacity(4000, 4L << 30, 0),
    HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    ContainerLabels = label,
}, engine, source, CancellationToken.None);

async Task<RunningContainer> ReadyContainerAsync(NodeHost host)
{
    var wait = Stopwatch.StartNew();
    while (wait.Elapsed < TimeSpan.FromSeconds(120))
    {
        await Task.Delay(200);
        if (host.Agent.Reports().Any(r => r.State == ModelState.Ready) && host.Agent.ContainerOf(manifest.Name, manifest.Version.ToString()) is { } ready) return ready;
    }

    throw new InvalidOperationException("the echo model never got ready");
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return (sorted[(sorted.Count - 1) / 2] + sorted[sorted.Count / 2]) / 2;
}

// The middle half of the rounds and the whole range: per-round ratios swing widely on a shared 2-CPU VM.
static string Spread(List<double> values) =>
    $"middle half {P(values, 0.25):0.00}-{P(values, 0.75):0.00}, range {values.Min():0.00}-{values.Max():0.00}";

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

/// <summary>CPU time in microseconds: this process (load generator, gateway and node), the model's container, docker-proxy, the reference nginx.</summary>
internal readonly record struct CpuUse(double Bench, double Container, double Proxy, double Nginx)
{
    /// <summary>Now, with the model containers' CPU summed (a path exercises one of them; the other idles).</summary>
    public static CpuUse Now(string[] containerIds, int[] hostPorts, ReferenceProxy? nginx) => new(
        Process.GetCurrentProcess().TotalProcessorTime.TotalMicroseconds,
        // cgroup v1 (this machine); 0 where the file is elsewhere.
        containerIds.Sum(id => File.Exists($"/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage")
            ? long.Parse(File.ReadAllText($"/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage"), System.Globalization.CultureInfo.InvariantCulture) / 1000.0
            : 0),
        ProxyMicroseconds(hostPorts),
        nginx?.CpuMicroseconds() ?? 0);

    /// <summary>
    /// The docker-proxy processes of these host ports only (others' containers have theirs on a shared engine); one
    /// that exits while it is read counts nothing (other work on the engine stops containers at any time).
    /// </summary>
    private static double ProxyMicroseconds(int[] hostPorts)
    {
        var total = 0.0;
        foreach (var p in Process.GetProcessesByName("docker-proxy"))
        {
            using (p)
            {
                try
                {
                    var arguments = File.ReadAllText($"/proc/{p.Id}/cmdline").Split('\0');
                    var at = Array.IndexOf(arguments, "-host-port");
                    if (at < 0 || at + 1 >= arguments.Length || !hostPorts.Contains(int.Parse(arguments[at + 1], System.Globalization.CultureInfo.InvariantCulture))) continue;
                    total += p.TotalProcessorTime.TotalMicroseconds;
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception or FormatException)
                {
                }
            }
        }

        return total;
    }

    public static CpuUse operator +(CpuUse a, CpuUse b) => new(a.Bench + b.Bench, a.Container + b.Container, a.Proxy + b.Proxy, a.Nginx + b.Nginx);

    public static CpuUse operator -(CpuUse a, CpuUse b) => new(a.Bench - b.Bench, a.Container - b.Container, a.Proxy - b.Proxy, a.Nginx - b.Nginx);
}

/// <summary>nginx (where installed) as a plain keep-alive reverse proxy in front of the same container: what a hop costs here at best.</summary>
internal sealed class ReferenceProxy : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private ReferenceProxy(Process process, string dir, Uri url) => (_process, _dir, Url) = (process, dir, url);

    public Uri Url { get; }

    public static ReferenceProxy? TryStart(Uri target)
    {
        if (!File.Exists("/usr/sbin/nginx")) return null;
        // nginx cannot listen on port 0 and say which port it got: a free port is picked, and another one tried when
        // nginx exits because something took it meanwhile.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var dir = Directory.CreateTempSubdirectory("im-bench-nginx-").FullName;
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
            var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
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
                    upstream model { server {{target.Host}}:{{target.Port}}; keepalive 16; }
                    server {
                        listen 127.0.0.1:{{port}};
                        location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
                    }
                }
                """);
            // Its output goes to pipes of ours, never to the terminal's: a worker outliving the bench would hold that open.
            var process = Process.Start(new ProcessStartInfo("/usr/sbin/nginx", [.. Args(dir), "-e", Path.Combine(dir, "error.log")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var url = new Uri($"http://127.0.0.1:{port}/");
            for (var i = 0; i < 50 && !process.HasExited; i++)
            {
                try
                {
                    using var c = new System.Net.Sockets.TcpClient("127.0.0.1", port);
                    // Whoever answered, nginx must still be running: one that lost the port exits at once.
                    Thread.Sleep(100);
                    if (!process.HasExited) return new ReferenceProxy(process, dir, url);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    Thread.Sleep(100);
                }
            }

            if (!process.HasExited) process.Kill();
            process.Dispose();
            Directory.Delete(dir, true);
        }

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

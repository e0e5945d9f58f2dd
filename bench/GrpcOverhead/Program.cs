using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using InfraMind.Containers;
using InfraMind.Containers.Run;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using static Measure;

// Usage: dotnet run -c Release --project bench/GrpcOverhead [-- requests concurrency]
// A gRPC echo model (a Python grpcio V2 server in a container) served as `infra mesh up` serves it, by GrpcOverheadHost
// in a process of its own: the node attached to the gateway's LocalNodes, so the gateway sends jobs straight to the
// container over h2c (keys and receipts only with RECEIPTS=1). The callers are this process: a caller never shares the
// gateway's process (until 2026-12-03 they did, and their thread pool's work hid part of the hop). Measured in one run:
//   direct   gRPC caller → the container (this process enters its network namespace, as its node does): the baseline
//   rest-gw  REST caller → POST /inference/v1/<name> → gRPC model
//   grpc-gw  gRPC caller → the gateway's V2 ingress → gRPC model
//   floor    gRPC caller → a bare grpc-dotnet proxy (Kestrel h2c + grpc-aspnetcore in, Grpc.Net.Client out, the message
//            forwarded as it came, nothing else; in the gateway's process) → gRPC model: the stacks
//            #14 builds the gateway on, without the gateway. Its ratio is the most any gateway on them can reach here.
//   control  the direct path again: its ratio to direct is what this machine's noise alone does to a ratio
// Bounded: a fixed count per phase and a 60 s cap on each; everything it starts carries a run label and is removed.
var requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 40000;
var concurrency = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
var runLabel = Guid.NewGuid().ToString("N");

using var engine = await Engines.ConnectAsync();
if (engine is null) return 1;
var receipts = Environment.GetEnvironmentVariable("RECEIPTS") == "1";
// PIN=1 (bench/grpc-overhead.sh runs this process under `taskset -c 0` then): the callers and the model container on
// CPU 0, the gateway's process on CPU 1 — a gateway with a CPU of its own, as on a host of its own, instead of three
// parties sharing two CPUs, where every microsecond the gateway spends is taken from the model and its callers.
var pinned = Environment.GetEnvironmentVariable("PIN") == "1";
if (pinned && Process.GetCurrentProcess().ProcessorAffinity != 1)
{
    Console.Error.WriteLine("PIN=1 wants this process on CPU 0 alone: run it through bench/grpc-overhead.sh (taskset -c 0), on a machine of 2 CPUs or more");
    return 2;
}

// GATEWAY_ENV="NAME=VALUE ...": variables for the gateway's process alone (a runtime setting tried on the gateway, such
// as DOTNET_GCgen0size, without changing the callers and so the baseline).
var gatewayEnv = new List<KeyValuePair<string, string>>();
foreach (var assignment in (Environment.GetEnvironmentVariable("GATEWAY_ENV") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
{
    var equals = assignment.IndexOf('=', StringComparison.Ordinal);
    if (equals <= 0)
    {
        Console.Error.WriteLine($"GATEWAY_ENV: '{assignment}' is not NAME=VALUE; give space-separated assignments, e.g. GATEWAY_ENV=DOTNET_GCgen0size=0x4000000");
        return 2;
    }

    gatewayEnv.Add(new(assignment[..equals], assignment[(equals + 1)..]));
}

var hostDll = Path.Combine(AppContext.BaseDirectory, "GrpcOverheadHost.dll");
var start = new ProcessStartInfo(pinned ? "taskset" : "dotnet", pinned ? ["-c", "1", "dotnet", hostDll, runLabel] : [hostDll, runLabel])
{
    RedirectStandardInput = true,
    RedirectStandardOutput = true,
    UseShellExecute = false,
};
foreach (var (name, value) in gatewayEnv) start.Environment[name] = value;
using var host = Process.Start(start) ?? throw new InvalidOperationException("GrpcOverheadHost did not start");
try
{
    var ready = await ReadyAsync(host);
    var model = ready["model"];
    var version = ready["version"];
    var containerId = ready["container"];
    // The direct path's own way into the container, as a node has: a thread in its network namespace.
    var opened = await ContainerNamespace.OpenAsync(engine.Client, engine.Endpoint, containerId, CancellationToken.None);
    using var connector = new ContainerConnector(containerId, int.Parse(ready["port"], System.Globalization.CultureInfo.InvariantCulture), opened.Thread);
    var gatewayUrl = new Uri(ready["gateway"]);
    if (pinned)
        await engine.Client.Containers.UpdateContainerAsync(containerId, new Docker.DotNet.Models.ContainerUpdateParameters { CpusetCpus = "0" });

    // Every client keeps its connections: one HTTP/2 connection per gRPC channel, `concurrency` HTTP/1.1 ones for REST.
    using var direct = GrpcChannel.ForAddress("http://model.invalid", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler { UseProxy = false, ConnectCallback = connector.ConnectAsync },
    });
    var directClient = new GRPCInferenceService.GRPCInferenceServiceClient(direct);
    using var ingress = GrpcChannel.ForAddress(ready["grpc"], new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    var ingressClient = new GRPCInferenceService.GRPCInferenceServiceClient(ingress);
    using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = concurrency }) { Timeout = TimeSpan.FromSeconds(10) };
    var viaGateway = new Uri(gatewayUrl, $"inference/v1/{model}");
    using var floorChannel = GrpcChannel.ForAddress(ready["floor"], new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    var floorClient = new GRPCInferenceService.GRPCInferenceServiceClient(floorChannel);

    async Task GrpcAsync(GRPCInferenceService.GRPCInferenceServiceClient client, int i)
    {
        var answer = await client.ModelInferAsync(JsonTensor.Request(model, version, "b", Encoding.UTF8.GetBytes($$"""{"text": "echo {{i}}"}""")));
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
    // The first call also tells a gateway that is not serving yet: said on standard error with the gateway's view, and
    // tried again, at most five times a second apart.
    for (var attempt = 1; ; attempt++)
    {
        using var probe = ingressClient.ModelInferAsync(JsonTensor.Request(model, version, "probe", """{"text": "probe"}"""u8));
        try
        {
            await probe;
        }
        catch (Grpc.Core.RpcException e) when (attempt < 5)
        {
            Console.Error.WriteLine($"probe {attempt}: {e.Status.StatusCode} {e.Status.Detail}; the gateway's view: {await http.GetStringAsync(new Uri(gatewayUrl, "inference/v1"))}");
            await Task.Delay(1000);
            continue;
        }

        var receipt = (await probe.ResponseHeadersAsync).GetValue(MeshHeaders.Receipt.ToLowerInvariant());
        if ((receipt is not null) != receipts) throw new InvalidOperationException($"RECEIPTS={(receipts ? 1 : 0)} but the answer {(receipt is null ? "carries no" : "carries a")} receipt");
        break;
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
    }, async () =>
    {
        // The gateway's process compiles its hot paths again as they warm, as this one does: its count too.
        await host.StandardInput.WriteLineAsync("jit");
        await host.StandardInput.FlushAsync();
        while (true)
        {
            var line = await host.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("GrpcOverheadHost ended during the warm-up");
            if (line.StartsWith("jit ", StringComparison.Ordinal)) return long.Parse(line["jit ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Console.Error.WriteLine($"host: {line}");
        }
    });
    Console.WriteLine($"warmed up in {warm.TotalSeconds:0} s; load average now {File.ReadAllText("/proc/loadavg").Trim()}");

    // Short interleaved rounds, each running every path back to back (in reverse order every other round): the ratio
    // is taken per round and the median reported, so a slow patch of the machine hits both sides of a ratio alike.
    const int Rounds = 20;
    var results = paths.ToDictionary(p => p.Name, _ => (Latencies: new List<double>(), Seconds: 0.0, Bench: 0.0, Host: 0.0, Container: 0.0));
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
            var (bench, serving, inContainer) = (ProcessCpu(), ProcessCpu(host), ContainerCpu(containerId));
            var before = ContainerSwitches(containerId);
            var segmentsBefore = ContainerSegments(containerId);
            var (l, t) = await RunAsync(send, requests / Rounds, concurrency);
            var after = ContainerSwitches(containerId);
            var segmentsAfter = ContainerSegments(containerId);
            segments[name] = (segments[name].In + segmentsAfter.In - segmentsBefore.In, segments[name].Out + segmentsAfter.Out - segmentsBefore.Out);
            switches[name] = (switches[name].Woke + after.Voluntary - before.Voluntary, switches[name].Preempted + after.Involuntary - before.Involuntary);
            var r = results[name];
            r.Latencies.AddRange(l);
            results[name] = (r.Latencies, r.Seconds + t, r.Bench + ProcessCpu() - bench, r.Host + ProcessCpu(host) - serving, r.Container + ContainerCpu(containerId) - inContainer);
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

    Console.WriteLine($"requests per path: {results["direct"].Latencies.Count}, concurrency {concurrency}, " +
                      (pinned ? "pinned (PIN=1: callers and model on CPU 0, the gateway's process on CPU 1), " : $"{Environment.ProcessorCount} CPUs shared by all, ") +
                      (gatewayEnv.Count > 0 ? $"the gateway's process with {string.Join(" ", gatewayEnv.Select(kv => $"{kv.Key}={kv.Value}"))}, " : "") +
                      (receipts ? "receipts on (RECEIPTS=1: every answer through the gateway signed by the node)" : "receipts off (the node has no key; RECEIPTS=1 signs every answer, as mesh up does)"));
    foreach (var (name, _, note) in paths)
    {
        var r = results[name];
        var n = r.Latencies.Count;
        Console.WriteLine($"{name,-8}: {n / r.Seconds,6:0} req/s  p50 {P(r.Latencies, 0.50),6:0.000} ms  p99 {P(r.Latencies, 0.99),6:0.000} ms  " +
                          $"CPU per request: callers {r.Bench / n,4:0} us, gateway process {r.Host / n,4:0} us, model container {r.Container / n,4:0} us " +
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
    // The host removes what it started once its input closes; a host that died leaves containers the label finds.
    host.StandardInput.Close();
    if (!host.WaitForExit(60_000)) host.Kill(entireProcessTree: true);
    var left = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.bench"] = runLabel }, null, CancellationToken.None);
    if (left.Containers.Count + left.Networks.Count > 0) Console.Error.WriteLine($"removed leftovers: {left.Containers.Count} containers, {left.Networks.Count} networks");
}

return 0;

/// <summary>The host's "ready {json}" line (anything it printed before goes to standard error), or why it never came.</summary>
static async Task<Dictionary<string, string>> ReadyAsync(Process host)
{
    using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
    while (await host.StandardOutput.ReadLineAsync(limit.Token) is { } line)
    {
        if (line.StartsWith("ready ", StringComparison.Ordinal))
            return JsonSerializer.Deserialize<Dictionary<string, string>>(line["ready ".Length..]) ?? throw new InvalidOperationException("GrpcOverheadHost: an empty ready line");
        Console.Error.WriteLine($"host: {line}");
    }

    throw new InvalidOperationException($"GrpcOverheadHost ended before it was ready (exit {(host.WaitForExit(5000) ? host.ExitCode : -1)})");
}

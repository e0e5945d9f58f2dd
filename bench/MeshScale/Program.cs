using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

// The routing and failure-detection logic of one gateway (MeshState: registration, heartbeats, placement, candidates,
// node choice, offline detection) driven in-process at mesh sizes up to 10,000 nodes, on a fake clock: no sockets, no
// containers. What it prints is what one gateway process costs per node and per heartbeat on this machine, and how
// long a dead node keeps getting jobs. See docs/scale.md for the plan these figures support.
// Usage: dotnet run -c Release --project bench/MeshScale [-- nodes[,nodes…] [modelsPerNode] [replicas] [budgetSeconds]]
//        dotnet run -c Release --project bench/MeshScale -- catalog [versions[,versions…] [budgetSeconds] [input properties per schema]]  (CatalogScale.cs)
// Bounded: every phase stops at the budget (default 60 s) and says so; the sweep stops at the first size over it.
if (args.Length > 0 && args[0] == "catalog")
{
    return await CatalogScale.RunAsync(args.Length > 1 ? [.. args[1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : [1000, 5000],
        TimeSpan.FromSeconds(args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 120),
        args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1);
}

var sizes = args.Length > 0 ? args[0].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : [1000, 2500, 5000, 10000];
var versionsPerTenNodes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
var replicas = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
var budget = TimeSpan.FromSeconds(args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 60);
var beat = TimeSpan.FromSeconds(2);
const int MissedBeats = 3;

Console.WriteLine($"MeshScale: one gateway's MeshState, {versionsPerTenNodes} published version per 10 nodes, replicas {replicas}, heartbeat {beat.TotalSeconds} s, offline after {MissedBeats} missed beats, {Environment.ProcessorCount} CPUs, load {Load()}");
Console.WriteLine("nodes  versions  register/node  heartbeat p50/p99 (us)  cores for heartbeats  route p50 (us)  heap/node (KiB)  beat bytes  jobs to dead nodes (re-routed)  last one after (s)");
foreach (var n in sizes)
{
    var row = Simulate(n, Math.Max(1, n * versionsPerTenNodes / 10));
    Console.WriteLine(row);
    if (row.StartsWith("stopped", StringComparison.Ordinal)) break;
}

return 0;

string Simulate(int nodeCount, int versionCount)
{
    GC.Collect();
    GC.WaitForPendingFinalizers();
    var heapBefore = GC.GetTotalMemory(true);
    var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
    var options = new GatewayOptions { Replicas = replicas, MaxNodes = nodeCount, MissedBeatsOffline = MissedBeats };
    var mesh = new MeshState(options, time, new GatewayMetrics(), NullLogger.Instance);
    mesh.SetModels([.. Enumerable.Range(0, versionCount).Select(i => Served($"m{i}", "1.0.0"))]);

    // Registration: every node once, in order, as a mesh coming up: all of them within 10 s of each other.
    var credentials = new string[nodeCount];
    var joinStep = TimeSpan.FromTicks(TimeSpan.FromSeconds(10).Ticks / nodeCount);
    var watch = Stopwatch.StartNew();
    for (var i = 0; i < nodeCount; i++)
    {
        time.Advance(joinStep);
        var (outcome, credential) = mesh.Register(new NodeRegistration(Id(i), new Uri($"https://10.0.{i / 250}.{i % 250 + 1}:7070/"),
            new NodeCapacity(8000, 32L << 30, 0), new Dictionary<string, string>(), beat), null);
        if (outcome != Admission.Registered) throw new InvalidOperationException($"node {i}: {outcome}");
        credentials[i] = credential!;
        if (watch.Elapsed > budget) return $"stopped at {nodeCount} nodes: registering took {watch.Elapsed.TotalSeconds:0} s for {i + 1} nodes ({watch.Elapsed.TotalMilliseconds / (i + 1):0.0} ms each, growing with the mesh)";
    }

    var registerMs = watch.Elapsed.TotalMilliseconds / nodeCount;

    // Two rounds of heartbeats bring every assigned version to ready; the third is the steady state that is timed.
    var assigned = new List<ModelAssignment>[nodeCount];
    for (var i = 0; i < nodeCount; i++) assigned[i] = [];
    var samples = new List<double>(nodeCount);
    var beatBytes = 0L;
    for (var round = 0; round < 3; round++)
    {
        time.Advance(beat);
        for (var i = 0; i < nodeCount; i++)
        {
            var state = round == 0 ? ModelState.Starting : ModelState.Ready;
            var reports = assigned[i].Select(a => new ModelReport(a.Name, a.Version, state, null, null, 1, 0, 0, time.GetUtcNow())).ToList();
            var heartbeat = new NodeHeartbeat(Id(i), reports);
            if (round == 2 && i % 97 == 0) beatBytes = Math.Max(beatBytes, JsonSerializer.SerializeToUtf8Bytes(heartbeat, MeshJson.Options).Length);
            var t = Stopwatch.GetTimestamp();
            if (mesh.Heartbeat(heartbeat, credentials[i], out var reply) != NodeAuth.Ok) throw new InvalidOperationException("heartbeat refused");
            if (round == 2) samples.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
            assigned[i] = [.. reply!.Assignments];
            if (watch.Elapsed > budget * 2) return $"stopped at {nodeCount} nodes: heartbeat round {round + 1} not done after {watch.Elapsed.TotalSeconds:0} s (node {i}, last beat {Stopwatch.GetElapsedTime(t).TotalMilliseconds:0.0} ms)";
        }
    }

    samples.Sort();
    var beatP50 = samples[samples.Count / 2];
    var beatP99 = samples[(int)(samples.Count * 0.99)];
    // Every node beats once per interval: the share of one core the gateway spends on heartbeats alone.
    var cores = samples.Average() * nodeCount / beat.TotalMicroseconds;
    var placedVersions = Enumerable.Range(0, versionCount).Count(v => mesh.PlacedCount(ModelKey.Of($"m{v}", "1.0.0")) == replicas);
    if (placedVersions != versionCount) return $"stopped at {nodeCount} nodes: only {placedVersions} of {versionCount} versions on {replicas} nodes";

    // Routing: candidates and the power-of-two choice for requests spread over the versions.
    var random = new Random(20261130);
    var none = new HashSet<string>(StringComparer.Ordinal);
    var routes = new List<double>(20000);
    for (var r = 0; r < 20000; r++)
    {
        var key = ModelKey.Of($"m{random.Next(versionCount)}", "1.0.0");
        var t = Stopwatch.GetTimestamp();
        var pick = NodeChoice.Choose(mesh.Candidates(key, none), random) ?? throw new InvalidOperationException($"no candidate for {key}");
        routes.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
        _ = pick;
    }

    routes.Sort();
    var heap = (GC.GetTotalMemory(true) - heapBefore) / 1024.0 / nodeCount;

    // Failure detection: 1 % of nodes die just after a heartbeat; the rest keep beating. Requests arrive at 100 per
    // second per 100 nodes; count the jobs a dead node is still chosen for and when it stops being chosen.
    var dead = Enumerable.Range(0, nodeCount).Where(i => i % 100 == 7).Select(Id).ToHashSet(StringComparer.Ordinal);
    var deadJobs = 0;
    var lastDeadJob = TimeSpan.Zero;
    var rate = nodeCount; // requests per simulated second
    var step = TimeSpan.FromMilliseconds(100);
    var elapsed = TimeSpan.Zero;
    var nextBeat = new TimeSpan[nodeCount];
    for (var i = 0; i < nodeCount; i++) nextBeat[i] = TimeSpan.FromTicks(beat.Ticks * i / nodeCount);
    while (elapsed < beat * (MissedBeats + 2))
    {
        time.Advance(step);
        elapsed += step;
        mesh.CheckLiveness(); // as the gateway's liveness loop does every 100 ms
        for (var i = 0; i < nodeCount; i++)
        {
            if (nextBeat[i] > elapsed) continue;
            nextBeat[i] += beat;
            if (dead.Contains(Id(i))) continue;
            var reports = assigned[i].Select(a => new ModelReport(a.Name, a.Version, ModelState.Ready, null, null, 1, 0, 0, time.GetUtcNow())).ToList();
            mesh.Heartbeat(new NodeHeartbeat(Id(i), reports), credentials[i], out var reply);
            assigned[i] = [.. reply!.Assignments];
        }

        for (var r = 0; r < rate * step.TotalSeconds; r++)
        {
            var name = $"m{random.Next(versionCount)}";
            var key = ModelKey.Of(name, "1.0.0");
            // As InferenceAttempts does: an attempt on a dead node fails (connection-failed), the request is re-routed
            // to another candidate, and once it is answered the failure is the dead node's (reputation, suspension).
            var tried = new HashSet<string>(StringComparer.Ordinal);
            var failures = new List<(string, Verdict)>();
            while (NodeChoice.Choose(mesh.Candidates(key, tried), random) is { } c)
            {
                tried.Add(c.NodeId);
                if (!dead.Contains(c.NodeId))
                {
                    mesh.RecordSuccess(c.NodeId, key, name, 5, attempt: 0);
                    break;
                }

                deadJobs++;
                lastDeadJob = elapsed;
                failures.Add((c.NodeId, Verdict.ConnectionFailed));
            }

            if (failures.Count > 0) mesh.Settle(key, key, failures, answered: tried.Count > failures.Count);
        }

        if (watch.Elapsed > budget * 4) return $"stopped at {nodeCount} nodes: failure detection not simulated within {budget.TotalSeconds * 4:0} s";
    }

    var unserved = Enumerable.Range(0, versionCount).Count(v => mesh.Candidates(ModelKey.Of($"m{v}", "1.0.0"), none).Count == 0);
    var detection = $"{lastDeadJob.TotalSeconds:0.0}{(unserved > 0 ? $" ({unserved} unserved)" : "")}";
    return $"{nodeCount,5}  {versionCount,8}  {registerMs,10:0.000} ms  {beatP50,11:0.0} / {beatP99,-9:0.0}  {cores,20:0.000}  {routes[routes.Count / 2],14:0.0}  {heap,15:0.0}  {beatBytes,10}  {deadJobs,14}  {detection,13}";
}

static string Id(int i) => $"node-{i:D5}";

static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

static ServedModel Served(string name, string version)
{
    var yaml = $"""
        name: {name}
        version: {version}
        entrypoint: serve.py
        runtime: python3.10
        protocol: rest
        port: 9000
        resources: {"{"}cpu: 1, memory: 512Mi, gpu: false{"}"}
        input_schema: {"{"}type: object, properties: {"{"}text: {"{"}type: string{"}"}{"}"}, required: [text]{"}"}
        output_schema: {"{"}type: object, properties: {"{"}summary: {"{"}type: string{"}"}{"}"}, required: [summary]{"}"}
        """;
    var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest ?? throw new InvalidOperationException("bad manifest");
    return new ServedModel(new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1));
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.Extensions.Logging.Abstractions;

/// <summary>
/// `MeshScale catalog N[,N…]`: what a registry of N published versions costs one gateway, through the very classes
/// `infra gateway serve --registry` serves with: a real registry (SQLite log in a temporary directory, every entry
/// signed), the log's verified source and the catalog, loaded into the mesh state as the refresh loop does; and the
/// same versions as a chain's follower hands them (a new list on every read, as <see cref="ChainModelSource"/> does).
/// Prints, per size and source: the first load, a refresh when nothing was published (the gateway's every 5 s), a
/// refresh after each of five more publishes, the manifests parsed by each, and GET /inference/v1 (50 nodes registered)
/// with the longest a call taking the mesh's lock (as routing does) waited while it was built, the same for the
/// dashboard's view (GET /dashboard/state), and GET /inference/v1?filter= for one model.
/// </summary>
internal static class CatalogScale
{
    public static async Task<int> RunAsync(int[] sizes, TimeSpan budget, int properties)
    {
        Console.WriteLine($"MeshScale catalog: one gateway's catalog and mesh state over a registry of N versions (distinct names), {properties} input propert{(properties == 1 ? "y" : "ies")} per schema, {Environment.ProcessorCount} CPUs, load {Load()}");
        Console.WriteLine("versions  source  publish/version  first load (parses)  refresh, nothing new: p50 / max (parses)  refresh after a publish: p50 of 5 (parses each)  GET /inference/v1 p50 (bytes), routing's longest wait meanwhile  gzipped p50 (bytes)  ?filter= one model p50 (bytes)  GET /dashboard/state p50 (bytes), routing's longest wait meanwhile  heap/version (manifest bytes)");
        foreach (var n in sizes)
        {
            var rows = await MeasureAsync(n, budget, properties);
            foreach (var row in rows) Console.WriteLine(row);
            if (rows.Any(r => r.StartsWith("stopped", StringComparison.Ordinal))) break;
        }

        return 0;
    }

    private static async Task<List<string>> MeasureAsync(int n, TimeSpan budget, int properties)
    {
        var dir = Directory.CreateTempSubdirectory("im-catalog-scale-");
        try
        {
            await using var registry = await ModelRegistry.OpenAsync(dir.FullName, TimeProvider.System, new ManifestAdmission(), null, CancellationToken.None);
            using var publisher = SigningKey.CreateEphemeral("publisher");
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < n; i++)
            {
                await PublishAsync(registry, publisher, $"m{i:D6}", properties);
                if (watch.Elapsed > budget) return [$"stopped at {n} versions: publishing took {watch.Elapsed.TotalSeconds:0} s for {i + 1}"];
            }

            var publishMs = watch.Elapsed.TotalMilliseconds / n;
            var service = new LocalRegistryService(registry);
            var rows = new List<string>();
            var next = n;
            using (var log = new LogModelSource(service, registry.PublicKey))
            {
                rows.Add(await ServeAsync(next, "log", publishMs, cache => new VerifiedModelCatalog(log, null, cache), () => PublishAsync(registry, publisher, $"m{next++:D6}", properties)));
            }

            using (var log = new LogModelSource(service, registry.PublicKey))
            {
                rows.Add(await ServeAsync(next, "chain", publishMs, cache => new VerifiedModelCatalog(new ChainLike(log), null, cache), () => PublishAsync(registry, publisher, $"m{next++:D6}", properties)));
            }

            return rows;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<string> ServeAsync(int n, string label, double publishMs, Func<ManifestCache, IModelCatalog> open, Func<Task> publishOne)
    {
        var cache = new ManifestCache();
        var heapBefore = GC.GetTotalMemory(true);
        var catalog = open(cache);
        var mesh = new MeshState(new GatewayOptions(), TimeProvider.System, new GatewayMetrics(), NullLogger.Instance);
        var loader = new CatalogLoader(catalog, mesh);
        var t = Stopwatch.GetTimestamp();
        await loader.LoadAsync(CancellationToken.None);
        var firstMs = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        // What the source, the catalog and the mesh hold per version (the manifest cache's own share included).
        var heapPerVersion = (GC.GetTotalMemory(true) - heapBefore) / (double)n;
        var manifestBytes = mesh.Models[0].Published.Manifest.Json.ToJsonString().Length;
        var firstParses = cache.Parses;
        if (mesh.Models.Count != n) throw new InvalidOperationException($"{label}: {mesh.Models.Count} of {n} versions served");

        var refreshes = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            t = Stopwatch.GetTimestamp();
            await loader.LoadAsync(CancellationToken.None);
            refreshes.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        refreshes.Sort();
        var refreshParses = cache.Parses - firstParses;

        // Five publishes, each followed by a refresh: the median refresh, and the manifests parsed per refresh.
        var before = cache.Parses;
        var afterPublish = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            await publishOne();
            t = Stopwatch.GetTimestamp();
            await loader.LoadAsync(CancellationToken.None);
            afterPublish.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        afterPublish.Sort();
        var afterPublishMs = afterPublish[afterPublish.Count / 2];
        var afterPublishParses = (cache.Parses - before) / 5;
        if (mesh.Models.Count != n + 5) throw new InvalidOperationException($"{label}: {mesh.Models.Count} of {n + 5} versions served after five publishes");

        for (var i = 0; i < 50; i++)
        {
            mesh.Register(new NodeRegistration($"node-{i:D3}", new Uri($"https://10.0.0.{i + 1}:7070/"), new NodeCapacity(64000, 256L << 30, 0),
                new Dictionary<string, string>(), TimeSpan.FromSeconds(2)), null);
        }

        var describes = new List<double>();
        var locked = new List<double>();
        var gzips = new List<double>();
        var filtered = new List<double>();
        var bytes = 0;
        var gzipped = 0;
        var filteredBytes = 0;
        var views = new List<double>();
        var viewLocked = new List<double>();
        var viewBytes = 0;
        for (var i = 0; i < 5; i++)
        {
            locked.Add(await RoutingWaitAsync(mesh, () => mesh.Describe()));
            t = Stopwatch.GetTimestamp();
            var document = new BuiltDocument(JsonSerializer.SerializeToUtf8Bytes(mesh.Describe(), MeshJson.Options));
            describes.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            bytes = document.Bytes.Length;
            // What a client that accepts gzip (the dashboard's browser) adds: the build's compression, once per build.
            t = Stopwatch.GetTimestamp();
            gzipped = document.Gzipped.Length;
            gzips.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            // GET /inference/v1?filter=TEXT for one model (what `infra mesh status --filter` asks): the rows it keeps.
            t = Stopwatch.GetTimestamp();
            filteredBytes = JsonSerializer.SerializeToUtf8Bytes(mesh.Describe("m000007"), MeshJson.Options).Length;
            filtered.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            // GET /dashboard/state (what each open dashboard polls every 2 s): the summary of everything and the first
            // 100 models, 500 nodes, 200 failures; and what routing waits while it is built.
            viewLocked.Add(await RoutingWaitAsync(mesh, () => mesh.DashboardView(null)));
            t = Stopwatch.GetTimestamp();
            viewBytes = JsonSerializer.SerializeToUtf8Bytes(mesh.DashboardView(null), MeshJson.Options).Length;
            views.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        views.Sort();
        viewLocked.Sort();
        describes.Sort();
        locked.Sort();
        gzips.Sort();
        filtered.Sort();
        GC.KeepAlive(catalog);
        var underBuilds = await RoutingUnderBuildsAsync(mesh);
        return string.Create(CultureInfo.InvariantCulture,
            $"{n,8}  {label,-6}  {publishMs,12:0.00} ms  {firstMs,10:0.0} ms ({firstParses,6})  {refreshes[refreshes.Count / 2],14:0.00} / {refreshes[^1],8:0.00} ms ({refreshParses,6})  {afterPublishMs,19:0.00} ms ({afterPublishParses,6})  {describes[describes.Count / 2],11:0.0} ms ({bytes}), routing waits up to {locked[locked.Count / 2]:0.0} ms  {gzips[gzips.Count / 2],8:0.0} ms ({gzipped})  {filtered[filtered.Count / 2],8:0.00} ms ({filteredBytes})  {views[views.Count / 2],8:0.00} ms ({viewBytes}), routing waits up to {viewLocked[viewLocked.Count / 2]:0.0} ms  {heapPerVersion / 1024,8:0.0} KiB ({manifestBytes})") + "\n" + underBuilds;
    }

    /// <summary>
    /// What routing waits while clients ask for documents back to back, as a client that never pauses does: a call that
    /// takes the mesh's lock (as choosing a node does), every 1 ms for 2 s, while two callers build filtered dashboard
    /// views without pause, each build straight (as before <see cref="BuildPacer"/>) and through the gateway's pacer;
    /// and with no builds at all, the baseline. p50 / p99 / max of the call, in ms.
    /// </summary>
    private static async Task<string> RoutingUnderBuildsAsync(MeshState mesh)
    {
        var pacer = new BuildPacer(TimeProvider.System);
        var parts = new List<string>();
        foreach (var (label, build) in new (string, Func<string, Task>?)[]
        {
            ("no builds", null),
            ("back to back", filter => { GC.KeepAlive(JsonSerializer.SerializeToUtf8Bytes(mesh.DashboardView(filter), MeshJson.Options)); return Task.CompletedTask; }),
            ("paced (BuildPacer)", filter => pacer.RunAsync(() => JsonSerializer.SerializeToUtf8Bytes(mesh.DashboardView(filter), MeshJson.Options), CancellationToken.None)),
        })
        {
            using var stop = new CancellationTokenSource();
            var builds = 0;
            var callers = build is null ? [] : Enumerable.Range(0, 2).Select(c => Task.Run(async () =>
            {
                for (var k = 0; !stop.IsCancellationRequested; k++)
                {
                    await build($"x{c}{k % 10}");
                    Interlocked.Increment(ref builds);
                }
            })).ToArray();
            var waits = new List<double>();
            // Collections during the run: a long wait is the lock's, not a pause of the collector's, when they paused little.
            var (collections, paused) = (GC.CollectionCount(0), GC.GetTotalPauseDuration());
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(2))
            {
                var t = Stopwatch.GetTimestamp();
                GC.KeepAlive(mesh.NodeSummaries());
                waits.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                Thread.Sleep(1);
            }

            await stop.CancelAsync();
            await Task.WhenAll(callers);
            waits.Sort();
            parts.Add(string.Create(CultureInfo.InvariantCulture,
                $"{label} {waits[waits.Count / 2]:0.000} / {waits[waits.Count * 99 / 100]:0.000} / {waits[^1]:0.0} ({waits.Count(w => w > 10)} of {waits.Count} over 10 ms, {builds} builds, {GC.CollectionCount(0) - collections} GCs pausing {(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:0} ms)"));
        }

        return "          routing call while 2 callers ask filtered dashboard views for 2 s, p50 / p99 / max ms: " + string.Join("; ", parts);
    }

    /// <summary>
    /// What routing waits while a document is built: the longest a call that takes the mesh's lock (as choosing a node
    /// does) took while <paramref name="describe"/>'s document was built and serialized on another thread.
    /// </summary>
    private static async Task<double> RoutingWaitAsync(MeshState mesh, Func<object> describe)
    {
        var building = Task.Run(() => JsonSerializer.SerializeToUtf8Bytes(describe(), MeshJson.Options));
        var stall = 0.0;
        while (!building.IsCompleted)
        {
            var t = Stopwatch.GetTimestamp();
            GC.KeepAlive(mesh.NodeSummaries());
            stall = Math.Max(stall, Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }

        await building;
        return stall;
    }

    private static async Task PublishAsync(ModelRegistry registry, SigningKey publisher, string name, int properties)
    {
        var fields = "{" + string.Join(", ", Enumerable.Range(0, properties).Select(i => i == 0 ? "text: {type: string}" : $"field{i}: {{type: string, maxLength: 100}}")) + "}";
        var bytes = Encoding.UTF8.GetBytes($$$"""
            name: {{{name}}}
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 100m, memory: 64Mi, gpu: false}
            input_schema: {type: object, properties: {{{fields}}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """);
        var manifest = ManifestReader.ValidateContent(bytes).Manifest ?? throw new InvalidOperationException("bad manifest");
        // A digest of its own per version, as real images have: the state document quotes it, and a constant one would
        // make the document's gzipped size (the dashboard's) look far smaller than a real catalog's.
        var image = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)));
        var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), image, bytes,
            [new PublishedReference("local://" + image, "local")], publisher.PublicKey, TimeProvider.System, manifest.ToJson());
        await registry.PublishAsync(Dsse.SignPublish(statement, publisher), CancellationToken.None);
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>The log's versions as a chain's follower hands them: a new list of new records on every read (same statements).</summary>
    private sealed class ChainLike(IVerifiedModelSource inner) : IVerifiedModelSource
    {
        public async Task<IReadOnlyList<VerifiedModelVersion>> GetServableAsync(CancellationToken cancellationToken) =>
            [.. (await inner.GetServableAsync(cancellationToken)).Select(v => v with { Origin = $"block {v.LogIndex}", LogIndex = null })];

        public Task<VerifiedModelVersion> GetVerifiedAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken) =>
            inner.GetVerifiedAsync(name, version, expected, cancellationToken);
    }
}

using System.Diagnostics;
using System.Globalization;
using InfraMind.Registry.Log;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;

// registry-bench [--seconds N] [--publishers N] [--entries-million] [--dir PATH]
// Every append is durable (WAL, synchronous=FULL) before it is acknowledged, in both modes.
var seconds = Arg("--seconds", 5);
var publishers = Arg("--publishers", 32);
var baseDir = ArgString("--dir") ?? Path.Combine(Path.GetTempPath(), "registry-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
Directory.CreateDirectory(baseDir);
using var key = SigningKey.CreateEphemeral("bench");
var payload = new byte[1024];
Random.Shared.NextBytes(payload);

if (args.Contains("--profile-verify"))
{
    using var k = SigningKey.CreateEphemeral("p");
    var env = Dsse.SignPublish(PublishStatement.Create("m", "1.0.0", "sha256:" + new string('a', 64), payload, [], k.PublicKey, TimeProvider.System), k);
    var t0 = Stopwatch.GetTimestamp();
    for (var i = 0; i < 1000; i++)
    {
        Dsse.VerifyPublish(env);
    }

    Console.WriteLine($"Dsse.VerifyPublish: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each (x1000 ms)");
    t0 = Stopwatch.GetTimestamp();
    for (var i = 0; i < 1000; i++)
    {
        PublicKey.FromBase64(k.PublicKey.SubjectPublicKeyInfoBase64);
    }

    Console.WriteLine($"PublicKey.FromBase64: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each");
    var dir = Path.Combine(baseDir, "profile");
    await using (var registry = await ModelRegistry.OpenAsync(dir, TimeProvider.System, null, null, CancellationToken.None))
    {
        var envs = Enumerable.Range(0, 1000).Select(v => Dsse.SignPublish(PublishStatement.Create("m", $"1.0.{v}", "sha256:" + new string('a', 64), payload, [], k.PublicKey, TimeProvider.System), k)).ToArray();
        var cpu0 = Environment.CpuUsage.TotalTime;
        t0 = Stopwatch.GetTimestamp();
        foreach (var e in envs)
        {
            await registry.PublishAsync(e, CancellationToken.None);
        }

        Console.WriteLine($"sequential PublishAsync: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each wall, {(Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds:F3} µs CPU each");
    }

    using (var index = RegistryIndex.Open(Path.Combine(dir, "log.sqlite")))
    {
        var v = Semver.SemVersion.Parse("1.0.5", Semver.SemVersionStyles.Strict);
        t0 = Stopwatch.GetTimestamp();
        for (var i = 0; i < 1000; i++)
        {
            index.Owner("m", long.MaxValue);
        }

        Console.WriteLine($"index.Owner: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each");
        t0 = Stopwatch.GetTimestamp();
        for (var i = 0; i < 1000; i++)
        {
            index.SamePrecedence("m", v, long.MaxValue);
        }

        Console.WriteLine($"index.SamePrecedence: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each");
    }

    await using (var log = await TransparencyLog.OpenSqliteAsync(Path.Combine(baseDir, "p2.sqlite"), k, TimeProvider.System, null, CancellationToken.None))
    {
        var cpu0 = Environment.CpuUsage.TotalTime;
        t0 = Stopwatch.GetTimestamp();
        for (var i = 0; i < 1000; i++)
        {
            await log.AppendAsync(payload, CancellationToken.None);
        }

        Console.WriteLine($"sequential AppendAsync: {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F3} µs each wall, {(Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds:F3} µs CPU each");
    }

    return 0;
}

Console.WriteLine($"registry-bench: {publishers} publishers, {seconds} s per run, 1 KiB entries, dir {baseDir}");
Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
await RunAppends("one publisher, one transaction per append", 1, 1);
await RunAppends($"{publishers} publishers, one transaction per append (baseline)", publishers, 1);
await RunAppends($"{publishers} publishers, group commit", publishers, 1024);
await RunPublishes();
ProofsInMemory();
if (args.Contains("--entries-million"))
{
    await ProofsFromSqliteLog();
}

Directory.Delete(baseDir, recursive: true);
return 0;

async Task RunAppends(string label, int concurrency, int maxBatch)
{
    var path = Path.Combine(baseDir, $"appends-{concurrency}-{maxBatch}.sqlite");
    await using var log = await TransparencyLog.OpenSqliteAsync(path, key, TimeProvider.System, new SqliteLogOptions { MaxBatch = maxBatch }, CancellationToken.None);
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
    var latencies = new List<double>[concurrency];
    var sw = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = new List<double>();
        while (!stop.IsCancellationRequested)
        {
            var t = Stopwatch.GetTimestamp();
            await log.AppendAsync(payload, CancellationToken.None);
            mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    var elapsed = sw.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    Console.WriteLine($"{label,-55} {all.Length / elapsed,10:F0} appends/s  p50 {Percentile(all, 0.50),6:F2} ms  p99 {Percentile(all, 0.99),6:F2} ms  ({all.Length} appends)");
}

// Full publish path: DSSE verification, ownership/immutability checks, leaf + index rows in one group commit.
// Envelopes are signed before the clock starts: signing happens on the publisher's machine.
async Task RunPublishes()
{
    var dir = Path.Combine(baseDir, "registry");
    await using var registry = await ModelRegistry.OpenAsync(dir, TimeProvider.System, null, null, CancellationToken.None);
    const int PerPublisher = 250;
    var envelopes = Enumerable.Range(0, publishers).Select(p =>
    {
        using var k = SigningKey.CreateEphemeral("p" + p.ToString(CultureInfo.InvariantCulture));
        return Enumerable.Range(0, PerPublisher).Select(v => Dsse.SignPublish(
            PublishStatement.Create($"model-{p}", $"1.0.{v}", "sha256:" + new string('a', 64), payload, [new PublishedReference("ipfs://bafy", "ipfs", 1, true, "size-262144", true)], k.PublicKey, TimeProvider.System),
            k)).ToArray();
    }).ToArray();
    var latencies = new double[publishers][];
    var cpu = Environment.CpuUsage.TotalTime;
    var sw = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
    {
        latencies[p] = new double[PerPublisher];
        for (var v = 0; v < PerPublisher; v++)
        {
            var t = Stopwatch.GetTimestamp();
            await registry.PublishAsync(envelopes[p][v], CancellationToken.None);
            latencies[p][v] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
    })));
    var elapsed = sw.Elapsed.TotalSeconds;
    var all = latencies.SelectMany(l => l).Order().ToArray();
    Console.WriteLine($"{publishers + " publishers, ModelRegistry.PublishAsync (verify + index)",-55} {all.Length / elapsed,10:F0} publishes/s  p50 {Percentile(all, 0.50),6:F2} ms  p99 {Percentile(all, 0.99),6:F2} ms  ({all.Length} publishes, {(Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds * 1000 / all.Length:F0} µs CPU each)");
}

void ProofsInMemory()
{
    var tree = new MerkleTree();
    var leaf = new byte[32];
    var sw = Stopwatch.StartNew();
    for (var i = 0; i < 1_000_000; i++)
    {
        BitConverter.TryWriteBytes(leaf, i);
        tree.Append(MerkleHash.Leaf(leaf), null);
    }

    Console.WriteLine($"tree of 1,000,000 leaves built in {sw.Elapsed.TotalMilliseconds:F0} ms (what reopening a log of that size costs beyond reading rows)");
    MeasureProofs("inclusion proof at 1 M entries (in-memory tree)", tree.Size, (i, n) => tree.InclusionProof(i, n).Hashes.Count);
    var root = tree.Root(tree.Size);
    var proof = tree.InclusionProof(123_456, tree.Size);
    var t = Stopwatch.GetTimestamp();
    for (var i = 0; i < 10_000; i++)
    {
        _ = MerkleProofs.VerifyInclusion(123_456, tree.Size, tree.LeafHash(123_456), proof.Hashes, root);
    }

    Console.WriteLine($"{"inclusion proof verification at 1 M entries",-55} {Stopwatch.GetElapsedTime(t).TotalMilliseconds * 1000 / 10_000,10:F1} µs");
}

async Task ProofsFromSqliteLog()
{
    var path = Path.Combine(baseDir, "million.sqlite");
    await using var log = await TransparencyLog.OpenSqliteAsync(path, key, TimeProvider.System, null, CancellationToken.None);
    var sw = Stopwatch.StartNew();
    const int Total = 1_000_000;
    var next = 0;
    var workers = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
    {
        var small = new byte[64];
        while (Interlocked.Increment(ref next) <= Total)
        {
            Random.Shared.NextBytes(small);
            await log.AppendAsync(small, CancellationToken.None);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    Console.WriteLine($"1,000,000 durable appends (64 B, 64 publishers) in {sw.Elapsed.TotalSeconds:F1} s");
    var size = await log.GetSizeAsync(CancellationToken.None);
    MeasureProofs("inclusion proof at 1 M entries (SQLite log API)", size, (i, n) => log.GetInclusionProofAsync(i, n, CancellationToken.None).GetAwaiter().GetResult().Hashes.Count);
}

void MeasureProofs(string label, long size, Func<long, long, int> prove)
{
    for (var i = 0; i < 1000; i++)
    {
        prove(i * 997 % size, size);
    }

    const int Count = 20_000;
    var samples = new double[Count];
    for (var i = 0; i < Count; i++)
    {
        var t = Stopwatch.GetTimestamp();
        prove(((long)i * 7919) % size, size);
        samples[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds * 1000;
    }

    Array.Sort(samples);
    // The claim (a proof at 1 M entries in under 1 ms) lives here, not in a unit test: it is a speed.
    const double TargetUs = 1000;
    var mean = samples.Average();
    Console.WriteLine($"{label,-55} {mean,10:F1} µs mean  p50 {Percentile(samples, 0.5):F1} µs  p99 {Percentile(samples, 0.99):F1} µs  target < {TargetUs:F0} µs: {(mean < TargetUs ? "met" : "MISSED")}");
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

string? ArgString(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

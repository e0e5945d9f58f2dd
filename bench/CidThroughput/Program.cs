// Usage: dotnet run -c Release --project bench/CidThroughput -- [FILE] [SIZE_MIB]
// Makes FILE (default 1 GiB of pseudo-random bytes) unless it exists with that size, warms the page cache, then
// times openssl dgst -sha256, our sha256, our CID v0 and v1, and js-ipfs (ipfs-only-hash) v0, and prints ratios
// against openssl.
using System.Diagnostics;
using System.Globalization;
using InfraMind.Oci;
using InfraMind.Storage.Ipfs;

string file = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "inframind-bench-1g.bin");
long size = (args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1024) << 20;
if (!File.Exists(file) || new FileInfo(file).Length != size)
{
    Console.WriteLine($"making {size >> 20} MiB in {file}");
    using var f = File.Create(file);
    byte[] buffer = new byte[1 << 20];
    ulong state = 0x9E3779B97F4A7C15UL;
    for (long left = size; left > 0; left -= buffer.Length)
    {
        for (int i = 0; i < buffer.Length; i += 8)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            BitConverter.TryWriteBytes(buffer.AsSpan(i), state * 2685821657736338717UL);
        }

        f.Write(buffer, 0, (int)Math.Min(buffer.Length, left));
    }
}

// The machine is shared: measures are interleaved round by round and the best of each is kept, so a neighbour's
// burst of CPU use hits all of them alike instead of one.
const int Rounds = 5;
string script = Path.Combine(FindRepo(), "tests", "peers", "cid", "cid.js");
bool haveJs = File.Exists(script) && Directory.Exists(Path.Combine(Path.GetDirectoryName(script)!, "node_modules"));
var measures = new List<(string Name, Func<Task<object>> Action, int Rounds)>
{
    ("openssl dgst -sha256", () => Task.FromResult<object>(Exec("openssl", "dgst", "-sha256", file)), Rounds),
    ("InfraMind sha256 (Digest.ComputeAsync)", async () => (await Digest.ComputeAsync(Open(), CancellationToken.None)).Digest, Rounds),
    ("InfraMind CID v0", async () => (await UnixFsImporter.ComputeAsync(Open(), UnixFsOptions.KuboDefault, CancellationToken.None)).Root, Rounds),
    ("InfraMind CID v1", async () => (await UnixFsImporter.ComputeAsync(Open(), UnixFsOptions.KuboCidV1, CancellationToken.None)).Root, Rounds),
};
if (haveJs)
{
    measures.Add(("ipfs-only-hash CID v0 (node)", () => Task.FromResult<object>(Exec("node", script, file, "--v0-only")), 2));
}

await Digest.ComputeAsync(Open(), CancellationToken.None); // page cache
var best = measures.ToDictionary(m => m.Name, _ => double.MaxValue);
var results = new Dictionary<string, object>();
for (int round = 0; round < Rounds; round++)
{
    foreach (var (name, action, rounds) in measures)
    {
        if (round >= rounds)
        {
            continue;
        }

        var sw = Stopwatch.StartNew();
        results[name] = await action();
        best[name] = Math.Min(best[name], sw.Elapsed.TotalSeconds);
    }
}

double GBps(string name) => best.TryGetValue(name, out double s) ? size / s / 1e9 : double.NaN;
foreach (var (name, _, _) in measures)
{
    Console.WriteLine($"{name,-42} {best[name],7:0.000} s  {GBps(name),6:0.000} GB/s  {Short(results[name])}");
}

double openssl = GBps("openssl dgst -sha256");
Console.WriteLine();
Console.WriteLine($"best of {Rounds} rounds; ratio to openssl (1.0 = as fast): sha256 {GBps("InfraMind sha256 (Digest.ComputeAsync)") / openssl:0.00}, " +
    $"CID v0 {GBps("InfraMind CID v0") / openssl:0.00}, CID v1 {GBps("InfraMind CID v1") / openssl:0.00}, ipfs-only-hash {GBps("ipfs-only-hash CID v0 (node)") / openssl:0.00}");
Console.WriteLine($"load average while measuring: {File.ReadAllText("/proc/loadavg").Trim()}");
return;

FileStream Open() => new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);

static string Short(object? o) => (o?.ToString() ?? string.Empty).Trim() is var s && s.Length > 70 ? s[^70..] : (o?.ToString() ?? string.Empty).Trim();

static string Exec(string program, params string[] arguments)
{
    var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true };
    foreach (string a in arguments)
    {
        psi.ArgumentList.Add(a);
    }

    using var p = Process.Start(psi)!;
    string output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    return output;
}

static string FindRepo()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "InfraMind.slnx")))
        {
            return d.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}

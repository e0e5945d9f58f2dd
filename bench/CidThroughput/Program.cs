// Usage: dotnet run -c Release --project bench/CidThroughput -- [FILE] [SIZE_MIB]
// Makes FILE (default 1 GiB of pseudo-random bytes) unless it exists with that size, warms the page cache, then
// times openssl dgst -sha256, our sha256, our CID v0 and v1, and js-ipfs (ipfs-only-hash) v0, and prints ratios
// against openssl. Each is the best of three runs so that a neighbour's burst of CPU use counts less.
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

await Run("warm page cache", async () => await Digest.ComputeAsync(Open(), CancellationToken.None), runs: 1);
double openssl = await Run("openssl dgst -sha256", () => Task.FromResult<object>(Exec("openssl", "dgst", "-sha256", file)));
double sha = await Run("InfraMind sha256 (Digest.ComputeAsync)", async () => (await Digest.ComputeAsync(Open(), CancellationToken.None)).Digest);
double v0 = await Run("InfraMind CID v0", async () => (await UnixFsImporter.ComputeAsync(Open(), UnixFsOptions.KuboDefault, CancellationToken.None)).Root);
double v1 = await Run("InfraMind CID v1", async () => (await UnixFsImporter.ComputeAsync(Open(), UnixFsOptions.KuboCidV1, CancellationToken.None)).Root);
string script = Path.Combine(FindRepo(), "tests", "peers", "cid", "cid.js");
double js = File.Exists(script) && Directory.Exists(Path.Combine(Path.GetDirectoryName(script)!, "node_modules"))
    ? await Run("ipfs-only-hash CID v0 (node)", () => Task.FromResult<object>(Exec("node", script, file, "--v0-only")), runs: 1)
    : double.NaN;

Console.WriteLine();
Console.WriteLine($"ratio to openssl (1.0 = as fast): sha256 {sha / openssl:0.00}, CID v0 {v0 / openssl:0.00}, CID v1 {v1 / openssl:0.00}, ipfs-only-hash {js / openssl:0.00}");
return;

FileStream Open() => new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);

async Task<double> Run(string name, Func<Task<object>> action, int runs = 3)
{
    double best = double.MaxValue;
    object? result = null;
    for (int i = 0; i < runs; i++)
    {
        var sw = Stopwatch.StartNew();
        result = await action();
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }

    double gbps = size / best / 1e9;
    Console.WriteLine($"{name,-42} {best,7:0.000} s  {gbps,6:0.000} GB/s  {Short(result)}");
    return gbps;
}

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

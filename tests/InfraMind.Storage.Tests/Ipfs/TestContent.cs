using System.Diagnostics;
using System.Text.Json;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>Deterministic pseudo-random content and the independent CID peer (npm ipfs-only-hash).</summary>
internal static class TestContent
{
    /// <summary>xorshift64* bytes: the same seed and length always give the same content, on every machine.</summary>
    public static void Fill(Span<byte> buffer, ref ulong state)
    {
        for (int i = 0; i < buffer.Length; i += 8)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            ulong v = state * 2685821657736338717UL;
            for (int j = 0; j < 8 && i + j < buffer.Length; j++)
            {
                buffer[i + j] = (byte)(v >> (8 * j));
            }
        }
    }

    public static string CreateFile(string directory, long size, ulong seed = 0x9E3779B97F4A7C15UL)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, $"content-{size}-{seed:x}.bin");
        if (File.Exists(path) && new FileInfo(path).Length == size)
        {
            return path;
        }

        using var file = File.Create(path + ".tmp");
        byte[] buffer = new byte[1 << 20];
        ulong state = seed;
        for (long left = size; left > 0;)
        {
            int n = (int)Math.Min(buffer.Length, left);
            Fill(buffer.AsSpan(0, n), ref state);
            file.Write(buffer, 0, n);
            left -= n;
        }

        file.Close();
        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InfraMind.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("InfraMind.slnx not found above " + AppContext.BaseDirectory);
    }

    public sealed record PeerCids(string V0, string V1, string V0Raw, string? V0Wrap, string? V1Wrap);

    /// <summary>
    /// CIDs from js-ipfs's importer, or null when the peer is not installed outside CI. Under CI=true a missing peer
    /// fails the test: CI must run tests/peers/cid/install.sh.
    /// </summary>
    public static PeerCids? FromPeer(string file, string? wrapName)
    {
        string script = Path.Combine(RepoRoot(), "tests", "peers", "cid", "cid.js");
        bool installed = Directory.Exists(Path.Combine(Path.GetDirectoryName(script)!, "node_modules", "ipfs-only-hash"));
        if (!installed)
        {
            Assert.False(
                string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                "the independent CID peer is not installed; run tests/peers/cid/install.sh (needs node and npm).");
            return null;
        }

        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(file);
        if (wrapName is not null)
        {
            psi.ArgumentList.Add(wrapName);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"node cid.js failed ({process.ExitCode}): {stderr.Result}");
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        return new PeerCids(
            root.GetProperty("v0").GetString()!,
            root.GetProperty("v1").GetString()!,
            root.GetProperty("v0raw").GetString()!,
            root.TryGetProperty("v0wrap", out var a) ? a.GetString() : null,
            root.TryGetProperty("v1wrap", out var b) ? b.GetString() : null);
    }
}

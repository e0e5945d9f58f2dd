using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace InfraMind.Testing;

/// <summary>CIDs of a file from js-ipfs's importer (npm ipfs-only-hash, tests/peers/cid/cid.js).</summary>
public sealed record CidPeerResult(string V0, string V1, string V0Raw, string? V0Wrap, string? V1Wrap);

/// <summary>The independent CID peer (tests/peers/cid), to check InfraMind's CIDs against another implementation.</summary>
public static class CidPeer
{
    public static string Script => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "cid", "cid.js");

    /// <summary>The CIDs; a peer that is not installed fails or skips the test (<see cref="Peers.Missing"/>).</summary>
    public static async Task<CidPeerResult> ComputeAsync(string file, string? wrapName, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(Path.Combine(Path.GetDirectoryName(Script)!, "node_modules", "ipfs-only-hash")))
        {
            throw Peers.Missing("the independent CID peer is not installed", "run tests/peers/cid/install.sh (needs node and npm)");
        }

        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        psi.ArgumentList.Add(file);
        if (wrapName is not null) psi.ArgumentList.Add(wrapName);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        string stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.True(process.ExitCode == 0, $"node cid.js failed ({process.ExitCode}): {await stderr}");
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        return new CidPeerResult(
            root.GetProperty("v0").GetString()!,
            root.GetProperty("v1").GetString()!,
            root.GetProperty("v0raw").GetString()!,
            root.TryGetProperty("v0wrap", out var a) ? a.GetString() : null,
            root.TryGetProperty("v1wrap", out var b) ? b.GetString() : null);
    }

    /// <summary>
    /// A file of <paramref name="size"/> deterministic pseudo-random bytes (the same on every machine); an existing file
    /// of the right size is reused, so large content is made once per directory.
    /// </summary>
    public static string CreateFile(string directory, long size, ulong seed = 0x9E3779B97F4A7C15UL)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, $"content-{size}-{seed:x}.bin");
        if (File.Exists(path) && new FileInfo(path).Length == size) return path;
        using (var file = File.Create(path + ".tmp"))
        {
            byte[] buffer = new byte[1 << 20];
            ulong state = seed;
            for (long left = size; left > 0;)
            {
                int n = (int)Math.Min(buffer.Length, left);
                Fill(buffer.AsSpan(0, n), ref state);
                file.Write(buffer, 0, n);
                left -= n;
            }
        }

        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    /// <summary>xorshift64* bytes: the same seed and length always give the same content, on every machine.</summary>
    public static void Fill(Span<byte> buffer, ref ulong state)
    {
        for (int i = 0; i < buffer.Length; i += 8)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            ulong v = state * 2685821657736338717UL;
            for (int j = 0; j < 8 && i + j < buffer.Length; j++) buffer[i + j] = (byte)(v >> (8 * j));
        }
    }
}

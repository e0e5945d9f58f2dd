using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using InfraMind.Oci;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// What an image's size costs the commands that move it: memory must not grow with it, and nothing is copied that
/// need not be. Each runs `infra` as its own process, so its peak memory (VmHWM) is its own.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class LargeImageTests(Xunit.Abstractions.ITestOutputHelper log)
{
    /// <summary>Bytes of the image's one large file: far above what the command may hold in memory.</summary>
    private const int LayerFileBytes = 192 << 20;

    /// <summary>
    /// Peak resident memory `infra pull --load` may reach. The process itself takes ~60-90 MB here whatever the image;
    /// a tar held in memory would add the image's 192 MiB.
    /// </summary>
    private const long MaxPeakRssBytes = 160L << 20;

    /// <summary>
    /// `infra pull --load` hands the engine the layout tar as it is written: nothing in the temp directory (the old
    /// path wrote the whole tar there first: a second copy of the image on disk, or in memory where /tmp is a tmpfs,
    /// as on Debian 13; the node's load of a publisher's image is the same code), and memory that does not grow with
    /// the image. Here the temp directory does not exist at all.
    /// </summary>
    [SkippableFact]
    public async Task Pull_load_streams_a_large_image_into_the_engine_without_a_temp_copy_and_in_bounded_memory()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var work = new TempDirectory("im-large");
        string archive = work.Combine("save.tar");
        string imageId = await WriteDockerSaveAsync(archive, work.Combine("layer.tar"));
        string home = work.Combine("home");
        try
        {
            var pulled = await InfraProcess.JsonAsync(home, 0, "pull", "file://" + archive);
            string digest = pulled.GetProperty("imageDigest").GetString()!;
            File.Delete(archive);

            var psi = InfraProcess.StartInfo(home, "pull", "local://" + digest, "--load", "--json");
            string absent = work.Combine("no-temp-directory");
            psi.Environment["TMPDIR"] = absent;
            var watch = Stopwatch.StartNew();
            var (code, output, error, peak) = await RunMeasuredAsync(psi, TimeSpan.FromMinutes(3));
            log.WriteLine($"infra pull --load of {LayerFileBytes >> 20} MiB: {watch.Elapsed.TotalSeconds:0.0} s, peak RSS {peak >> 20} MiB");
            Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
            var loaded = JsonDocument.Parse(output).RootElement.GetProperty("loaded");
            Assert.Contains(imageId, loaded.EnumerateArray().Select(e => e.GetString()));
            Assert.True(await engine.ImageExistsAsync(imageId, CancellationToken.None), "the image is not in the engine");
            Assert.False(Directory.Exists(absent));
            Assert.True(peak > 0, "the process's peak memory was never read");
            Assert.True(peak < MaxPeakRssBytes, $"peak RSS {peak >> 20} MiB for a {LayerFileBytes >> 20} MiB image (at most {MaxPeakRssBytes >> 20} MiB)");
        }
        finally
        {
            DockerCli.Run(check: false, "rmi", "--force", imageId);
        }
    }

    /// <summary>
    /// A legacy `docker save` archive of one layer holding <see cref="LayerFileBytes"/> zero bytes (cheap to compress
    /// and extract) and a unique file, so the image id is this test's own; returns that id (the config's digest).
    /// </summary>
    private static async Task<string> WriteDockerSaveAsync(string path, string layerPath)
    {
        using (var layerFile = File.Create(layerPath))
        using (var layer = new TarWriter(layerFile, TarEntryFormat.Ustar, leaveOpen: true))
        {
            layer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "id.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(Guid.NewGuid().ToString("N"))) });
            using var zeros = new ZeroStream(LayerFileBytes);
            layer.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "weights.bin") { DataStream = zeros });
        }

        Digest diffId;
        using (var read = File.OpenRead(layerPath))
        {
            (diffId, _) = await Digest.ComputeAsync(read, CancellationToken.None);
        }

        byte[] config = JsonSerializer.SerializeToUtf8Bytes(new
        {
            architecture = "amd64",
            os = "linux",
            config = new { Cmd = new[] { "/weights.bin" } },
            rootfs = new { type = "layers", diff_ids = new[] { diffId.Value } },
        });
        var configDigest = Digest.Compute(config);
        using (var file = File.Create(path))
        using (var tar = new TarWriter(file, TarEntryFormat.Ustar, leaveOpen: true))
        {
            tar.WriteEntry(layerPath, "l1/layer.tar");
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, configDigest.Hex + ".json") { DataStream = new MemoryStream(config) });
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "manifest.json")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes($"[{{\"Config\":\"{configDigest.Hex}.json\",\"RepoTags\":[],\"Layers\":[\"l1/layer.tar\"]}}]")),
            });
        }

        File.Delete(layerPath);
        return configDigest.Value;
    }

    /// <summary>Runs the process to its exit, reading its peak resident memory (VmHWM, which only grows) while it runs.</summary>
    private static async Task<(int Code, string Out, string Err, long PeakRss)> RunMeasuredAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        long peak = 0;
        var deadline = Stopwatch.StartNew();
        while (!p.HasExited)
        {
            if (deadline.Elapsed > timeout)
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"infra did not finish within {timeout.TotalSeconds:0} s");
            }

            try
            {
                foreach (var line in await File.ReadAllLinesAsync($"/proc/{p.Id}/status"))
                {
                    // "VmHWM:     81234 kB"
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        peak = Math.Max(peak, long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Exited between the check and the read.
            }

            await Task.Delay(50);
        }

        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr, peak);
    }

    /// <summary>A read-only stream of <paramref name="length"/> zero bytes.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => _position = value; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

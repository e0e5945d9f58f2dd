using System.Diagnostics;
using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>
/// An independent OCI implementation (skopeo, containers/image) reads our layout tar: it parses index.json, follows
/// the manifest, and verifies every blob digest while copying. Without skopeo (tests/peers/oci/install.sh) it fails
/// where peers are required and is skipped elsewhere.
/// </summary>
public sealed class SkopeoTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-skopeo");

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public async Task Skopeo_reads_and_verifies_our_layout_tar()
    {
        PeerProcess.FindExecutable("skopeo", "tests/peers/oci/install.sh", "/usr/bin/skopeo");
        string tar = _dir.Combine("layout.tar");
        IReadOnlyList<OciImage> images;
        await using (var output = File.Create(tar))
        {
            images = await OciImageLayout.ConvertDockerArchiveAsync(new MemoryStream(TestArchives.Legacy()), output, CancellationToken.None);
        }

        var image = Assert.Single(images);
        string raw = Skopeo("inspect", "--raw", $"oci-archive:{tar}");
        Assert.Equal(image.ManifestDigest, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw)));

        using var inspect = JsonDocument.Parse(Skopeo("inspect", $"oci-archive:{tar}"));
        Assert.Equal(image.ManifestDigest.Value, inspect.RootElement.GetProperty("Digest").GetString());
        Assert.Equal(image.Layers.Select(l => l.Digest.Value), inspect.RootElement.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()));

        // The ref name annotation is what skopeo selects an image by; --preserve-digests stops it from gzipping
        // our uncompressed layers (which would make a new manifest).
        Skopeo("copy", "--preserve-digests", $"oci-archive:{tar}:1.0", $"oci:{_dir.Combine("copy")}:copied");
        var copied = await OciImageLayout.OpenAsync(_dir.Combine("copy"), CancellationToken.None);
        Assert.Equal(image.ManifestDigest, Assert.Single(copied.Images).ManifestDigest);
    }

    private static string Skopeo(params string[] arguments)
    {
        var psi = new ProcessStartInfo("skopeo") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--insecure-policy");
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"skopeo {string.Join(' ', arguments)} failed: {stderr.Result}");
        return stdout;
    }
}

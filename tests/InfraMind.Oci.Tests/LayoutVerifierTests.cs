using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>What <see cref="LayoutVerifier"/> asks of a layout directory, rule by rule, and what it costs its reader.</summary>
public sealed class LayoutVerifierTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-verifier");

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a layout of one manifest per entry of <paramref name="manifests"/> and opens it.</summary>
    private async Task<OciLayout> OpenAsync(IEnumerable<byte[]> blobs, IEnumerable<byte[]> manifests, CancellationToken cancellationToken = default)
    {
        string dir = _dir.Combine(Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        var list = manifests.ToList();
        foreach (byte[] blob in blobs.Concat(list))
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, "blobs", "sha256", Digest.Compute(blob).Hex), blob, cancellationToken);
        }

        await File.WriteAllBytesAsync(Path.Combine(dir, "index.json"),
            LayoutDocuments.BuildIndex(list.Select(m => new Descriptor(MediaTypes.OciManifest, Digest.Compute(m), m.Length))), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(dir, "oci-layout"), LayoutDocuments.LayoutFileContent, cancellationToken);
        return await OciImageLayout.OpenAsync(dir, cancellationToken);
    }

    /// <summary>
    /// One gzip blob of a few kilobytes that inflates to 64 MiB, listed as every one of 256 layers of each of 16
    /// images (distinct manifests: their configs differ): on the reader that decompressed every listing, 4,096 times
    /// 64 MiB (256 GiB, many minutes of CPU from an archive of a few hundred kilobytes); decompressed once, a fraction
    /// of a second.
    /// </summary>
    [Fact]
    public async Task A_compressed_layer_listed_in_every_place_of_every_image_is_decompressed_once()
    {
        var member = LayerCompression.GzipMember(new byte[8 << 20], System.Buffers.ArrayPool<byte>.Shared);
        byte[] gzip = [.. Enumerable.Repeat(member.Bytes.ToArray(), 8).SelectMany(b => b)];
        member.Return();
        var diffId = Digest.Compute(new byte[64 << 20]);
        var layer = new Descriptor(MediaTypes.OciLayerTarGzip, Digest.Compute(gzip), gzip.Length);
        var blobs = new List<byte[]> { gzip };
        var manifests = new List<byte[]>();
        for (int image = 0; image < ArchiveLimits.MaxImages; image++)
        {
            byte[] config = Encoding.UTF8.GetBytes(
                $"{{\"created\":\"{image}\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{string.Join(',', Enumerable.Repeat($"\"{diffId}\"", ArchiveLimits.MaxLayers))}]}}}}");
            blobs.Add(config);
            manifests.Add(LayoutDocuments.BuildManifest(new Descriptor(MediaTypes.OciConfig, Digest.Compute(config), config.Length), [.. Enumerable.Repeat(layer, ArchiveLimits.MaxLayers)]));
        }

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var layout = await OpenAsync(blobs, manifests, patience.Token);
        Assert.Equal(ArchiveLimits.MaxImages, layout.Images.Count);
        Assert.All(layout.Images, i => Assert.Equal(ArchiveLimits.MaxLayers, i.Layers.Count));
    }
}

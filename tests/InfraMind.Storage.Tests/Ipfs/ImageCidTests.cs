using InfraMind.Testing;
using System.Diagnostics;
using System.Formats.Tar;
using System.Text;
using InfraMind.Oci;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The design's promise end to end: the same image, saved twice by the real engine, exports to the same layout tar
/// and so to the same IPFS CID (<c>ipfs add --wrap-with-directory</c> of image.tar), which js-ipfs confirms.
/// Without an engine it fails where peers are required and is skipped elsewhere (<see cref="Peers"/>).
/// </summary>
public sealed class ImageCidTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-image-cid");
    private readonly string _tag = "inframind-storage-test/tiny:" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        DockerCli.Run(check: false, "rmi", "-f", _tag);
        _dir.Dispose();
    }

    [SkippableFact]
    public async Task The_same_image_saved_twice_gets_the_same_cid()
    {
        DockerCli.RequireEngine();
        string rootfs = _dir.Combine("rootfs.tar");
        using (var tar = new TarWriter(File.Create(rootfs), TarEntryFormat.Ustar))
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "model.yaml")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes("name: tiny\nversion: 1.0.0\n")),
            });
        }

        DockerCli.Run(check: true, "import", "--change", "LABEL inframind.test=storage", rootfs, _tag);
        var cids = new List<UnixFsResult>();
        string? layoutPath = null;
        for (int i = 0; i < 2; i++)
        {
            string saved = _dir.Combine($"saved{i}.tar");
            DockerCli.Run(check: true, "save", "-o", saved, _tag);
            layoutPath = _dir.Combine($"layout{i}.tar");
            await using (var input = File.OpenRead(saved))
            await using (var output = File.Create(layoutPath))
            {
                await OciImageLayout.ConvertDockerArchiveAsync(input, output, CancellationToken.None);
            }

            await using var layout = File.OpenRead(layoutPath);
            cids.Add(await UnixFsImporter.ComputeAsync(layout, UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, CancellationToken.None));
        }

        Assert.Equal(cids[0], cids[1]);
        var peer = await CidPeer.ComputeAsync(layoutPath!, "image.tar");
        Assert.Equal(peer.V1Wrap, cids[0].Root.ToString());

        await using var again = File.OpenRead(layoutPath!);
        await UnixFsImporter.VerifyAsync(cids[0].Root, again, UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, CancellationToken.None);
    }
}

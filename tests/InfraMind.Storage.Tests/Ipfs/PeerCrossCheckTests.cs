using InfraMind.Testing;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// Our importer against an independent one (js-ipfs's ipfs-unixfs-importer via npm ipfs-only-hash, installed by
/// tests/peers/cid/install.sh) on the sizes where tree shapes change.
/// </summary>
public sealed class PeerCrossCheckTests
{
    private const long Chunk = UnixFsOptions.DefaultChunkSize;
    private static readonly string Dir = Path.Combine(Path.GetTempPath(), "inframind-cid-tests");

    [SkippableTheory]
    [InlineData(0L)]
    [InlineData(1L)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData(174 * Chunk)]
    [InlineData(174 * Chunk + 1)]
    [InlineData(105_000_000L)]
    public async Task Cids_match_js_ipfs_for_v0_v1_raw_leaves_and_wrapped(long size)
    {
        string file = CidPeer.CreateFile(Dir, size);
        var peer = await CidPeer.ComputeAsync(file, "image.tar");

        var v0 = await ComputeFile(file, UnixFsOptions.KuboDefault with { WrapName = "image.tar" });
        var v1 = await ComputeFile(file, UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" });
        Assert.Equal(peer.V0, v0.File.ToString());
        Assert.Equal(peer.V1, v1.File.ToString());
        Assert.Equal(peer.V0Raw, (await ComputeFile(file, UnixFsOptions.KuboDefault with { RawLeaves = true })).Root.ToString());
        Assert.Equal(peer.V0Wrap, v0.Root.ToString());
        Assert.Equal(peer.V1Wrap, v1.Root.ToString());
        Assert.Equal(size, v0.FileSize);
        Assert.StartsWith("Qm", v0.Root.ToString());
        Assert.StartsWith("bafy", v1.Root.ToString());
    }

    private static async Task<UnixFsResult> ComputeFile(string path, UnixFsOptions options)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        return await UnixFsImporter.ComputeAsync(stream, options, CancellationToken.None);
    }
}

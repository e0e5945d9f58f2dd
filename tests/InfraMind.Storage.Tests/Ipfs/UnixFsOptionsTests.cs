using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The import settings at their limits (chunks of 1 byte to 1 MiB, 2 links per node at least, a wrap name that is one
/// file name), kubo's rule for raw leaves, and the ipfs add flags each setting prints as.
/// </summary>
public sealed class UnixFsOptionsTests
{
    private static Task<UnixFsResult> Compute(byte[] data, UnixFsOptions options) =>
        UnixFsImporter.ComputeSequentialAsync(new MemoryStream(data), options, CancellationToken.None);

    private static async Task<string> Refused(UnixFsOptions options)
    {
        var e = await Assert.ThrowsAsync<IpfsException>(() => Compute([1], options));
        Assert.Equal("IM4103", e.Code.Value);
        Assert.StartsWith("invalid UnixFS import options: ", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<IpfsException>(() => UnixFsImporter.ComputeAsync(new MemoryStream([1]), options, CancellationToken.None));
        return e.Message;
    }

    [Fact]
    public async Task Chunks_are_1_byte_to_1_MiB()
    {
        Assert.Equal(1 << 20, UnixFsOptions.MaxChunkSize);
        Assert.Equal(3, (await Compute([1, 2, 3], UnixFsOptions.KuboCidV1 with { ChunkSize = 1 })).FileSize);
        Assert.Equal(1, (await Compute([1], UnixFsOptions.KuboCidV1 with { ChunkSize = UnixFsOptions.MaxChunkSize })).FileSize);
        Assert.Contains("ChunkSize is 0; use 1 to 1048576 bytes (kubo's default is 262144).", await Refused(UnixFsOptions.KuboCidV1 with { ChunkSize = 0 }), StringComparison.Ordinal);
        Assert.Contains("ChunkSize is 1048577;", await Refused(UnixFsOptions.KuboCidV1 with { ChunkSize = UnixFsOptions.MaxChunkSize + 1 }), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_has_at_least_two_links()
    {
        // Three one-byte leaves, two links per node: a parent of two, a parent of the third, the root of both.
        var result = await Compute([1, 2, 3], UnixFsOptions.KuboCidV1 with { ChunkSize = 1, MaxLinks = 2 });
        Assert.Equal(6, result.BlockCount);
        Assert.Equal(3, result.FileSize);
        var parallel = await UnixFsImporter.ComputeAsync(new MemoryStream([1, 2, 3]), UnixFsOptions.KuboCidV1 with { ChunkSize = 1, MaxLinks = 2 }, CancellationToken.None);
        Assert.Equal(result, parallel);
        Assert.Contains("MaxLinks is 1; a tree needs at least 2 links per node (kubo's default is 174).", await Refused(UnixFsOptions.KuboCidV1 with { MaxLinks = 1 }), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    public async Task Cid_versions_are_0_and_1(int version) =>
        Assert.Contains($"CidVersion is {version}; use 0 or 1.", await Refused(new UnixFsOptions { CidVersion = version }), StringComparison.Ordinal);

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("/")]
    public async Task A_wrap_name_is_one_file_name(string name) =>
        Assert.Contains($"WrapName '{name}' must be a non-empty file name without '/'.", await Refused(UnixFsOptions.KuboCidV1 with { WrapName = name }), StringComparison.Ordinal);

    [Fact]
    public async Task Every_setting_wrong_at_once_is_named_at_once()
    {
        var message = await Refused(new UnixFsOptions { CidVersion = 3, ChunkSize = -1, MaxLinks = 0, WrapName = "" });
        Assert.Equal(
            "invalid UnixFS import options: CidVersion is 3; use 0 or 1. ChunkSize is -1; use 1 to 1048576 bytes (kubo's default is 262144). " +
            "MaxLinks is 0; a tree needs at least 2 links per node (kubo's default is 174). WrapName '' must be a non-empty file name without '/'.",
            message);
    }

    [Fact]
    public async Task Raw_leaves_follow_the_cid_version_unless_set()
    {
        Assert.False(UnixFsOptions.KuboDefault.EffectiveRawLeaves);
        Assert.True(UnixFsOptions.KuboCidV1.EffectiveRawLeaves);
        Assert.False((UnixFsOptions.KuboCidV1 with { RawLeaves = false }).EffectiveRawLeaves);
        Assert.True((UnixFsOptions.KuboDefault with { RawLeaves = true }).EffectiveRawLeaves);

        // A one-chunk file is its leaf: raw under v1 (bafk…), a dag-pb leaf under v0 (Qm…), a raw CIDv1 under v0 with raw leaves.
        Assert.Equal(Cid.RawCodec, (await Compute([1], UnixFsOptions.KuboCidV1)).Root.Codec);
        Assert.Equal(Cid.DagPbCodec, (await Compute([1], UnixFsOptions.KuboCidV1 with { RawLeaves = false })).Root.Codec);
        var v0Raw = (await Compute([1], UnixFsOptions.KuboDefault with { RawLeaves = true })).Root;
        Assert.Equal((1, Cid.RawCodec), (v0Raw.Version, v0Raw.Codec));
        Assert.Equal(0, (await Compute([1], UnixFsOptions.KuboDefault)).Root.Version);
    }

    [Fact]
    public void Each_setting_prints_as_its_flag_and_defaults_print_as_nothing()
    {
        Assert.Equal("size-262144", UnixFsOptions.KuboDefault.Chunker);
        Assert.Equal("ipfs add --cid-version=1", UnixFsOptions.KuboCidV1.ToCommandLine());
        Assert.Equal("ipfs add --cid-version=1", (UnixFsOptions.KuboCidV1 with { RawLeaves = true }).ToCommandLine());
        Assert.Equal("ipfs add --cid-version=1 --raw-leaves=false", (UnixFsOptions.KuboCidV1 with { RawLeaves = false }).ToCommandLine());
        Assert.Equal("ipfs add", (UnixFsOptions.KuboDefault with { RawLeaves = false }).ToCommandLine());
        Assert.Equal("ipfs add --raw-leaves=true", (UnixFsOptions.KuboDefault with { RawLeaves = true }).ToCommandLine());
        Assert.Equal("ipfs add --chunker=size-1 (max 2 links per node)", (UnixFsOptions.KuboDefault with { ChunkSize = 1, MaxLinks = 2 }).ToCommandLine());
        Assert.Equal("ipfs add", (UnixFsOptions.KuboDefault with { ChunkSize = 262144, MaxLinks = 174 }).ToCommandLine());
    }

    [Fact]
    public async Task A_result_names_its_directory_only_when_wrapped()
    {
        var plain = await Compute([1, 2], UnixFsOptions.KuboCidV1);
        Assert.Null(plain.Directory);
        Assert.Equal(plain.Root, plain.File);
        var wrapped = await Compute([1, 2], UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" });
        Assert.Equal(wrapped.Root, wrapped.Directory);
        Assert.Equal(plain.File, wrapped.File);
        Assert.Equal(plain.BlockCount + 1, wrapped.BlockCount);
        Assert.True(wrapped.DagSize > plain.DagSize);
        Assert.Equal(2, wrapped.FileSize);
    }
}

using InfraMind.Testing;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

public sealed class UnixFsImporterTests
{
    private static readonly UnixFsOptions V0 = UnixFsOptions.KuboDefault;
    private static readonly UnixFsOptions V1 = UnixFsOptions.KuboCidV1;

    private static Task<UnixFsResult> Compute(byte[] content, UnixFsOptions options) =>
        UnixFsImporter.ComputeAsync(new MemoryStream(content), options, CancellationToken.None);

    [Fact]
    public async Task Empty_file_gives_kubos_cids()
    {
        // kubo: a single dag-pb leaf {Type: File, filesize: 0} for v0; an empty raw block for --cid-version 1.
        var v0 = await Compute([], V0);
        Assert.Equal("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", v0.Root.ToString());
        Assert.Equal(6, v0.DagSize);
        var v1 = await Compute([], V1);
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", v1.Root.ToString());
        Assert.Equal(0, v1.DagSize);
        Assert.Equal(1, v1.BlockCount);
    }

    [Fact]
    public async Task Hello_world_gives_the_cid_kubo_documents()
    {
        // The brief quoted QmT78zSHdFbtcw2Wz2RcW9NeaG9eb14hb2fhc8iUyAr3A4 for "hello world\n"; that CID is wrong:
        // kubo's README and js-ipfs (tests/peers/cid) both give QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o.
        byte[] hello = Encoding.UTF8.GetBytes("hello world\n");
        var v0 = await Compute(hello, V0);
        Assert.Equal("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", v0.Root.ToString());
        Assert.NotEqual("QmT78zSHdFbtcw2Wz2RcW9NeaG9eb14hb2fhc8iUyAr3A4", v0.Root.ToString());
        Assert.Equal(20, v0.DagSize);
        var v1 = await Compute(hello, V1);
        Assert.Equal(Cid.FromSha256(1, Cid.RawCodec, SHA256.HashData(hello)), v1.Root);
        Assert.Equal("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4", v1.Root.ToString());
    }

    [Fact]
    public async Task Wrapping_hello_world_matches_js_ipfs()
    {
        // Values from tests/peers/cid/cid.js (js-ipfs importer, wrapWithDirectory) for the entry name image.tar.
        byte[] hello = Encoding.UTF8.GetBytes("hello world\n");
        var v0 = await Compute(hello, V0 with { WrapName = "image.tar" });
        Assert.Equal("QmNyD1HxL8bx9UnJMpLAeubrKaz4azUDFqBXUNwamdgd2f", v0.Root.ToString());
        Assert.Equal("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", v0.File.ToString());
        Assert.Equal(v0.Root, v0.Directory);
        var v1 = await Compute(hello, V1 with { WrapName = "image.tar" });
        Assert.Equal("bafybeigrlahak3ciltgpjnuawdmrmlv5243lh2ub6wd4exhpulifqkw3oy", v1.Root.ToString());
        var empty = await Compute([], V0 with { WrapName = "image.tar" });
        Assert.Equal("QmY8P95yQvqgVpa47Nho6fVN8n2tnqtUR8mwbmVaZ6dWxJ", empty.Root.ToString());
    }

    [Fact]
    public async Task Kubo_sharness_vectors_for_add_and_add_w_match()
    {
        // kubo test/sharness/t0040-add-and-cat.sh: "Hello Worlds!\n" as hello.txt, plain and with -w.
        byte[] content = Encoding.UTF8.GetBytes("Hello Worlds!\n");
        var wrapped = await Compute(content, V0 with { WrapName = "hello.txt" });
        Assert.Equal("QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH", wrapped.File.ToString());
        Assert.Equal("QmVJfrqd4ogGZME6LWkkikAGddYgh9dBs2U14DHZZUBk7W", wrapped.Root.ToString());
    }

    [Fact]
    public async Task Blocks_are_self_verifying_children_first_and_rebuild_the_content()
    {
        byte[] content = new byte[3 * 1000 + 7];
        ulong state = 42;
        CidPeer.Fill(content, ref state);
        var options = V0 with { ChunkSize = 1000, MaxLinks = 2, WrapName = "f" };
        var blocks = new List<(Cid Cid, byte[] Data)>();
        var result = await UnixFsImporter.ImportAsync(
            new MemoryStream(content),
            options,
            (b, _) =>
            {
                blocks.Add((b.Cid, b.Data.ToArray()));
                return ValueTask.CompletedTask;
            },
            CancellationToken.None);

        // 4 leaves, 2 parents at level 1, 1 root, 1 directory.
        Assert.Equal(8, blocks.Count);
        Assert.Equal(8, result.BlockCount);
        Assert.Equal(result.Root, blocks[^1].Cid);
        Assert.Equal(result.File, blocks[^2].Cid);
        Assert.Equal(result.DagSize, blocks.Sum(b => (long)b.Data.Length));
        var seen = new HashSet<Cid>();
        foreach (var (cid, data) in blocks)
        {
            Assert.Equal(cid.Hash.ToArray(), SHA256.HashData(data));
            seen.Add(cid);
        }

        // Each leaf holds its chunk verbatim after a small header; together they are the content.
        var leaves = blocks.Take(2).Concat(blocks.Skip(3).Take(2)).Select(b => b.Data).ToList();
        Assert.Equal(content.Take(1000), leaves[0].Skip(leaves[0].Length - 1000 - 3).Take(1000)); // trailer: 0x18 + varint(1000)
        Assert.Equal(content.Skip(3000), leaves[3].Skip(leaves[3].Length - 7 - 2).Take(7));
        Assert.Equal(content.Length, result.FileSize);
    }

    [Fact]
    public async Task EnumerateBlocksAsync_yields_the_same_blocks_and_result()
    {
        byte[] content = new byte[600_000];
        ulong state = 7;
        CidPeer.Fill(content, ref state);
        var expected = await Compute(content, V1);
        var tcs = new TaskCompletionSource<UnixFsResult>();
        var cids = new List<Cid>();
        long bytes = 0;
        await foreach (var block in UnixFsImporter.EnumerateBlocksAsync(new MemoryStream(content), V1, tcs, CancellationToken.None))
        {
            Assert.Equal(block.Cid.Hash.ToArray(), SHA256.HashData(block.Data.Span));
            cids.Add(block.Cid);
            bytes += block.Data.Length;
        }

        var result = await tcs.Task;
        Assert.Equal(expected, result);
        Assert.Equal(4, cids.Count); // 3 raw leaves + 1 dag-pb root
        Assert.Equal(result.Root, cids[^1]);
        Assert.Equal(result.DagSize, bytes);
    }

    [Fact]
    public async Task VerifyAsync_accepts_matching_content_and_names_both_cids_on_mismatch()
    {
        byte[] hello = Encoding.UTF8.GetBytes("hello world\n");
        var ok = await UnixFsImporter.VerifyAsync(Cid.Parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"), new MemoryStream(hello), null, CancellationToken.None);
        Assert.Equal(12, ok.FileSize);
        await UnixFsImporter.VerifyAsync(Cid.Parse("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"), new MemoryStream(hello), null, CancellationToken.None);

        var expected = Cid.Parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
        var e = await Assert.ThrowsAsync<CidMismatchException>(() => UnixFsImporter.VerifyAsync(expected, new MemoryStream(hello), null, CancellationToken.None));
        Assert.Equal("IM4102", e.Code);
        Assert.Equal(expected, e.Expected);
        Assert.Contains("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", e.Message);
        Assert.Contains("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", e.Message);
        Assert.Contains("ipfs add", e.Message);
    }

    [Fact]
    public void Options_describe_themselves_as_the_ipfs_add_flags_that_reproduce_them()
    {
        Assert.Equal("ipfs add", V0.ToCommandLine());
        Assert.Equal("ipfs add --cid-version=1 --wrap-with-directory (entry 'image.tar')", (V1 with { WrapName = "image.tar" }).ToCommandLine());
        Assert.Equal("ipfs add --raw-leaves=true --chunker=size-1024", (V0 with { RawLeaves = true, ChunkSize = 1024 }).ToCommandLine());
    }

    [Theory]
    [InlineData(2, 0, 174, "CidVersion")]
    [InlineData(0, 0, 174, "ChunkSize")]
    [InlineData(0, 262144, 1, "MaxLinks")]
    public async Task Invalid_options_are_refused_before_reading(int version, int chunk, int links, string field)
    {
        var options = new UnixFsOptions { CidVersion = version, ChunkSize = chunk == 0 && field == "ChunkSize" ? 0 : 262144, MaxLinks = links };
        var e = await Assert.ThrowsAsync<IpfsException>(() => Compute([1], options));
        Assert.Equal("IM4103", e.Code);
        Assert.Contains(field, e.Message);
    }
}

using InfraMind.Storage.Ipfs;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The nodes above the leaves, read back field by field with a protobuf reader of the test's own: each parent links its
/// children in order with an empty name and the child's cumulative size, and its UnixFS data is a File with the sum of
/// the children's file sizes and one blocksize per child, in kubo's field order. The kubo vectors pin single blocks;
/// this pins the layout of every level above them (until now only compared with itself, sequential against parallel).
/// </summary>
public sealed class DagStructureTests
{
    private sealed record Node(List<(byte[] Hash, string Name, ulong Tsize)> Links, byte[] Data);

    private static ulong Varint(byte[] b, ref int i)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[i++];
            v |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return v;
        }
    }

    private static byte[] Bytes(byte[] b, ref int i)
    {
        int length = (int)Varint(b, ref i);
        var value = b.AsSpan(i, length).ToArray();
        i += length;
        return value;
    }

    private static Node ReadNode(byte[] block)
    {
        var links = new List<(byte[], string, ulong)>();
        byte[]? data = null;
        int i = 0;
        while (i < block.Length)
        {
            byte tag = block[i++];
            if (tag == 0x12)
            {
                Assert.Null(data); // Links before Data, as dag-pb's canonical form requires
                var link = Bytes(block, ref i);
                int j = 0;
                Assert.Equal(0x0a, link[j++]);
                var hash = Bytes(link, ref j);
                Assert.Equal(0x12, link[j++]);
                var name = System.Text.Encoding.UTF8.GetString(Bytes(link, ref j));
                Assert.Equal(0x18, link[j++]);
                var tsize = Varint(link, ref j);
                Assert.Equal(link.Length, j);
                links.Add((hash, name, tsize));
            }
            else
            {
                Assert.Equal(0x0a, tag);
                data = Bytes(block, ref i);
            }
        }

        Assert.NotNull(data);
        return new Node(links, data);
    }

    /// <summary>UnixFS Data: Type, then (files) filesize and the blocksizes; (leaves) Data between Type and filesize.</summary>
    private static (ulong Type, ulong? FileSize, List<ulong> BlockSizes) ReadUnixFs(byte[] data)
    {
        int i = 0;
        Assert.Equal(0x08, data[i++]);
        ulong type = Varint(data, ref i);
        ulong? fileSize = null;
        var blockSizes = new List<ulong>();
        while (i < data.Length)
        {
            byte tag = data[i++];
            switch (tag)
            {
                case 0x12:
                    Bytes(data, ref i);
                    break;
                case 0x18:
                    Assert.Empty(blockSizes);
                    fileSize = Varint(data, ref i);
                    break;
                case 0x20:
                    Assert.NotNull(fileSize);
                    blockSizes.Add(Varint(data, ref i));
                    break;
                default:
                    Assert.Fail($"UnixFS field tag 0x{tag:x2}");
                    break;
            }
        }

        return (type, fileSize, blockSizes);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(1, "image.tar")]
    public async Task Every_parent_links_its_children_and_sums_their_sizes(int cidVersion, string? wrap)
    {
        // 4-byte chunks, 3 links a node, 41 bytes: 11 leaves, 4 parents, 2 above them, the root (and the directory).
        byte[] content = new byte[41];
        ulong state = 5;
        CidPeer.Fill(content, ref state);
        var options = new UnixFsOptions { CidVersion = cidVersion, ChunkSize = 4, MaxLinks = 3, WrapName = wrap };
        var blocks = new Dictionary<Cid, byte[]>();
        var order = new List<Cid>();
        var result = await UnixFsImporter.ImportAsync(new MemoryStream(content), options, (b, _) =>
        {
            blocks[b.Cid] = b.Data.ToArray();
            order.Add(b.Cid);
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        Assert.Equal(11 + 4 + 2 + 1 + (wrap is null ? 0 : 1), order.Count);

        // What each block stands for: its file bytes and its cumulative size (the Tsize its parent records).
        var fileSize = new Dictionary<Cid, ulong>();
        var cumulative = new Dictionary<Cid, ulong>();
        var parents = 0;
        foreach (var cid in order)
        {
            byte[] block = blocks[cid];
            if (cid.Codec == Cid.RawCodec)
            {
                fileSize[cid] = (ulong)block.Length;
                cumulative[cid] = (ulong)block.Length;
                continue;
            }

            var node = ReadNode(block);
            var (type, size, blockSizes) = ReadUnixFs(node.Data);
            ulong below = 0;
            foreach (var (hash, name, tsize) in node.Links)
            {
                var child = Cid.FromBytes(hash);
                Assert.True(order.IndexOf(child) < order.IndexOf(cid), "a child comes before its parent");
                Assert.Equal(cumulative[child], tsize);
                below += tsize;
                if (type == 1)
                {
                    Assert.Equal(wrap, name);
                }
                else
                {
                    Assert.Equal("", name);
                }
            }

            cumulative[cid] = (ulong)block.Length + below;
            if (type == 1)
            {
                Assert.Equal(result.Root, cid);
                Assert.Equal([0x08, 0x01], node.Data);
                continue;
            }

            Assert.Equal(2UL, type);
            Assert.NotNull(size);
            if (node.Links.Count == 0)
            {
                fileSize[cid] = size.Value; // a dag-pb leaf (CIDv0): its data's length
                Assert.Empty(blockSizes);
                continue;
            }

            parents++;
            Assert.InRange(node.Links.Count, 1, 3);
            Assert.Equal(node.Links.Select(l => fileSize[Cid.FromBytes(l.Hash)]), blockSizes);
            Assert.Equal(blockSizes.Aggregate(0UL, (a, b) => a + b), size.Value);
            fileSize[cid] = size.Value;
        }

        Assert.Equal(7, parents);
        Assert.Equal((ulong)content.Length, fileSize[result.File]);
        Assert.Equal((ulong)result.DagSize, cumulative[result.Root]);
        Assert.Equal(result, await UnixFsImporter.ComputeAsync(new MemoryStream(content), options, CancellationToken.None));
    }

    [Fact]
    public async Task An_import_that_fails_ends_the_block_stream_with_its_error()
    {
        var tcs = new TaskCompletionSource<UnixFsResult>();
        var invalid = UnixFsOptions.KuboCidV1 with { ChunkSize = 0 };
        var e = await Assert.ThrowsAsync<IpfsException>(async () =>
        {
            await foreach (var block in UnixFsImporter.EnumerateBlocksAsync(new MemoryStream([1]), invalid, tcs, CancellationToken.None))
            {
                Assert.Fail($"a block {block.Cid} came");
            }
        });
        Assert.Equal("IM4103", e.Code.Value);
        Assert.Same(e, await Assert.ThrowsAsync<IpfsException>(() => tcs.Task));
    }

    [Fact]
    public async Task Verify_uses_the_settings_it_is_given_and_infers_them_only_when_not()
    {
        byte[] content = [1, 2, 3];
        var v0Raw = UnixFsOptions.KuboDefault with { RawLeaves = true };
        var made = await UnixFsImporter.ComputeAsync(new MemoryStream(content), v0Raw, CancellationToken.None);
        Assert.Equal(made, await UnixFsImporter.VerifyAsync(made.Root, new MemoryStream(content), v0Raw, CancellationToken.None));
        // Inferred from a raw CIDv1: --cid-version 1, which gives the same raw leaf.
        Assert.Equal(made.Root, (await UnixFsImporter.VerifyAsync(made.Root, new MemoryStream(content), null, CancellationToken.None)).Root);
        var v0 = (await UnixFsImporter.ComputeAsync(new MemoryStream(content), UnixFsOptions.KuboDefault, CancellationToken.None)).Root;
        await Assert.ThrowsAsync<CidMismatchException>(() => UnixFsImporter.VerifyAsync(v0, new MemoryStream(content), v0Raw, CancellationToken.None));
        Assert.Equal(v0, (await UnixFsImporter.VerifyAsync(v0, new MemoryStream(content), null, CancellationToken.None)).Root);
    }
}

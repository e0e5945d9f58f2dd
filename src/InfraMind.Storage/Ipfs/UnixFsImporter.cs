using System.Buffers;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Computes the CIDs <c>ipfs add</c> (kubo) gives a file, in one pass over a stream of any size. Memory stays
/// bounded: one chunk buffer (two batches of <see cref="LeafBatch"/> chunks when leaves are hashed in parallel) plus the
/// links of the tree frontier (at most MaxLinks per level).
/// </summary>
public static class UnixFsImporter
{
    /// <summary>Leaves read ahead and hashed together when no block is kept: 16 × 256 KiB per batch, two batches.</summary>
    internal const int LeafBatch = 16;

    /// <summary>
    /// Computes the root CID and DAG size without keeping any block. Leaves are independent, so on a machine with
    /// more than one core a batch of them is hashed in parallel while the next batch is read; the links then go into
    /// the tree in file order, so the result is the sequential importer's (a test compares both).
    /// </summary>
    public static Task<UnixFsResult> ComputeAsync(Stream content, UnixFsOptions options, CancellationToken cancellationToken) =>
        Environment.ProcessorCount > 1
            ? ComputeParallelAsync(content, options, cancellationToken)
            : ImportAsync(content, options, onBlock: null, cancellationToken);

    /// <summary>The sequential importer with every block dropped: the reference the parallel one is tested against.</summary>
    internal static Task<UnixFsResult> ComputeSequentialAsync(Stream content, UnixFsOptions options, CancellationToken cancellationToken) =>
        ImportAsync(content, options, (_, _) => ValueTask.CompletedTask, cancellationToken);

    private static async Task<UnixFsResult> ComputeParallelAsync(Stream content, UnixFsOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = new BalancedDagBuilder(options, onBlock: null);
        int chunk = options.ChunkSize;
        int size = DagPb.LeafHeadroom + chunk + DagPb.LeafTailroom;
        var sets = new byte[2][][];
        var lengths = new[] { new int[LeafBatch], new int[LeafBatch] };
        for (int s = 0; s < 2; s++)
        {
            sets[s] = new byte[LeafBatch][];
            for (int i = 0; i < LeafBatch; i++) sets[s][i] = ArrayPool<byte>.Shared.Rent(size);
        }

        long fileSize = 0;
        Task hashing = Task.CompletedTask;
        try
        {
            int set = 0;
            bool end = false;
            while (!end)
            {
                var buffers = sets[set];
                var lens = lengths[set];
                int count = 0;
                while (count < LeafBatch)
                {
                    int n = await content.ReadAtLeastAsync(buffers[count].AsMemory(DagPb.LeafHeadroom, chunk), chunk, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    // As the sequential importer: one (empty) leaf for an empty file, none for the end of a non-empty one.
                    if (n == 0 && fileSize > 0)
                    {
                        end = true;
                        break;
                    }

                    fileSize += n;
                    lens[count++] = n;
                    if (n < chunk)
                    {
                        end = true;
                        break;
                    }
                }

                // The other set's batch must be in the tree before this one goes in (and before its buffers are read into again).
                await hashing.ConfigureAwait(false);
                if (count > 0)
                {
                    int batch = count;
                    hashing = Task.Run(() => builder.AddLeavesAsync(buffers, lens, batch, cancellationToken).AsTask(), cancellationToken);
                }

                set ^= 1;
            }

            await hashing.ConfigureAwait(false);
        }
        finally
        {
            await ((Task)hashing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var buffers in sets)
            {
                foreach (var b in buffers) ArrayPool<byte>.Shared.Return(b);
            }
        }

        var file = await builder.FinishAsync(cancellationToken).ConfigureAwait(false);
        if (options.WrapName is null)
        {
            return new UnixFsResult(file.Cid, file.Cid, fileSize, file.Tsize, builder.BlockCount);
        }

        byte[] directory = DagPb.EncodeDirectory([(file.Cid, options.WrapName, file.Tsize)]);
        var dirCid = Cid.FromSha256(options.CidVersion, Cid.DagPbCodec, SHA256.HashData(directory));
        return new UnixFsResult(dirCid, file.Cid, fileSize, file.Tsize + directory.Length, builder.BlockCount + 1);
    }

    /// <summary>
    /// Imports <paramref name="content"/> and hands every block to <paramref name="onBlock"/> (children before their
    /// parent, root last), e.g. to upload it or to compare it with blocks fetched from elsewhere.
    /// </summary>
    internal static async Task<UnixFsResult> ImportAsync(
        Stream content,
        UnixFsOptions options,
        Func<UnixFsBlock, CancellationToken, ValueTask>? onBlock,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = new BalancedDagBuilder(options, onBlock);
        int chunk = options.ChunkSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DagPb.LeafHeadroom + chunk + DagPb.LeafTailroom);
        long fileSize = 0;
        try
        {
            while (true)
            {
                int n = await content.ReadAtLeastAsync(buffer.AsMemory(DagPb.LeafHeadroom, chunk), chunk, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                // kubo emits one (empty) leaf for an empty file and none for the end of a non-empty one.
                if (n == 0 && fileSize > 0)
                {
                    break;
                }

                fileSize += n;
                await builder.AddLeafAsync(buffer, n, cancellationToken).ConfigureAwait(false);
                if (n < chunk)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var file = await builder.FinishAsync(cancellationToken).ConfigureAwait(false);
        if (options.WrapName is null)
        {
            return new UnixFsResult(file.Cid, file.Cid, fileSize, file.Tsize, builder.BlockCount);
        }

        byte[] directory = DagPb.EncodeDirectory([(file.Cid, options.WrapName, file.Tsize)]);
        var dirCid = Cid.FromSha256(options.CidVersion, Cid.DagPbCodec, SHA256.HashData(directory));
        if (onBlock is not null)
        {
            await onBlock(new UnixFsBlock(dirCid, directory), cancellationToken).ConfigureAwait(false);
        }

        return new UnixFsResult(dirCid, file.Cid, fileSize, file.Tsize + directory.Length, builder.BlockCount + 1);
    }

    /// <summary>
    /// The blocks of the import as an async stream, for consumers that pull (an uploader sending blocks as they come).
    /// Each block's data is a copy the consumer may keep. The result is returned through <paramref name="result"/>
    /// once the stream has been read to its end.
    /// </summary>
    internal static async IAsyncEnumerable<UnixFsBlock> EnumerateBlocksAsync(
        Stream content,
        UnixFsOptions options,
        TaskCompletionSource<UnixFsResult>? result,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A small bound keeps memory flat when the consumer is slower than hashing (it usually is: the network).
        var channel = Channel.CreateBounded<UnixFsBlock>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true });
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    var r = await ImportAsync(
                        content,
                        options,
                        (block, ct) => channel.Writer.WriteAsync(block with { Data = block.Data.ToArray() }, ct),
                        linked.Token).ConfigureAwait(false);
                    channel.Writer.Complete();
                    result?.TrySetResult(r);
                }
                catch (Exception e)
                {
                    channel.Writer.Complete(e);
                    result?.TrySetException(e);
                }
            },
            CancellationToken.None);

        try
        {
            await foreach (var block in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return block;
            }
        }
        finally
        {
            await linked.CancelAsync().ConfigureAwait(false);
            await producer.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Imports <paramref name="content"/> with <paramref name="options"/> and throws <see cref="CidMismatchException"/>
    /// (IM4102) naming both CIDs unless it gives <paramref name="expected"/>. Without options, the settings are
    /// inferred from the CID the way <c>ipfs add</c> would have made it: v0 → kubo defaults, v1 → --cid-version 1.
    /// </summary>
    internal static async Task<UnixFsResult> VerifyAsync(Cid expected, Stream content, UnixFsOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        options ??= expected.Version == 0 ? UnixFsOptions.KuboDefault : UnixFsOptions.KuboCidV1;
        var result = await ComputeAsync(content, options, cancellationToken).ConfigureAwait(false);
        if (result.Root != expected)
        {
            throw new CidMismatchException(expected, result.Root, options.ToCommandLine());
        }

        return result;
    }
}

/// <summary>
/// Builds kubo's balanced layout bottom-up: each level holds the links still waiting for a parent; a full level
/// (MaxLinks) becomes a parent at once. At the end every level is closed upwards so that all leaves end at the same
/// depth, as kubo's top-down builder places them (a last subtree with one leaf still gets its chain of parents).
/// </summary>
internal sealed class BalancedDagBuilder
{
    private readonly UnixFsOptions _options;
    private readonly Func<UnixFsBlock, CancellationToken, ValueTask>? _onBlock;
    private readonly List<List<DagLink>> _levels = [];
    private readonly bool _rawLeaves;
    private readonly int _leafCidVersion;

    public BalancedDagBuilder(UnixFsOptions options, Func<UnixFsBlock, CancellationToken, ValueTask>? onBlock)
    {
        _options = options;
        _onBlock = onBlock;
        _rawLeaves = options.EffectiveRawLeaves;
        // CIDv0 cannot name a raw block: kubo gives raw leaves CIDv1 even under --cid-version 0.
        _leafCidVersion = _rawLeaves ? 1 : options.CidVersion;
    }

    public long BlockCount { get; private set; }

    /// <summary>Adds a leaf whose data lies at <c>buffer[DagPb.LeafHeadroom..][..length]</c>.</summary>
    public async ValueTask AddLeafAsync(byte[] buffer, int length, CancellationToken cancellationToken)
    {
        var (link, block) = Leaf(buffer, length);
        BlockCount++;
        if (_onBlock is not null)
        {
            await _onBlock(new UnixFsBlock(link.Cid, block), cancellationToken).ConfigureAwait(false);
        }

        await AddAsync(0, link, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds <paramref name="count"/> leaves (as <see cref="AddLeafAsync"/> each), hashed in parallel and linked in
    /// order. Only for a builder that keeps no block.
    /// </summary>
    public async ValueTask AddLeavesAsync(byte[][] buffers, int[] lengths, int count, CancellationToken cancellationToken)
    {
        if (_onBlock is not null) throw new InvalidOperationException("leaves are hashed in parallel only when no block is kept");
        var links = new DagLink[count];
        Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken }, i => links[i] = Leaf(buffers[i], lengths[i]).Link);
        foreach (var link in links)
        {
            BlockCount++;
            await AddAsync(0, link, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The leaf block framed in place (the buffer's headroom) and its link. Touches nothing of the builder: safe in parallel.</summary>
    private (DagLink Link, ReadOnlyMemory<byte> Block) Leaf(byte[] buffer, int length)
    {
        int offset = DagPb.LeafHeadroom;
        int blockLength = length;
        ulong codec = Cid.RawCodec;
        if (!_rawLeaves)
        {
            (offset, blockLength) = DagPb.FrameLeaf(buffer, length);
            codec = Cid.DagPbCodec;
        }

        var block = new ReadOnlyMemory<byte>(buffer, offset, blockLength);
        Span<byte> hash = stackalloc byte[Cid.Sha256Length];
        SHA256.HashData(block.Span, hash);
        return (new DagLink(Cid.FromSha256(_leafCidVersion, codec, hash), blockLength, length), block);
    }

    private async ValueTask AddAsync(int level, DagLink link, CancellationToken cancellationToken)
    {
        if (_levels.Count == level)
        {
            _levels.Add(new List<DagLink>(_options.MaxLinks));
        }

        var links = _levels[level];
        links.Add(link);
        if (links.Count == _options.MaxLinks)
        {
            var parent = await EmitParentAsync(links, cancellationToken).ConfigureAwait(false);
            links.Clear();
            await AddAsync(level + 1, parent, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask<DagLink> FinishAsync(CancellationToken cancellationToken)
    {
        for (int level = 0; level < _levels.Count; level++)
        {
            var links = _levels[level];
            bool higherLevelsEmpty = _levels.Skip(level + 1).All(l => l.Count == 0);
            if (links.Count == 1 && higherLevelsEmpty)
            {
                return links[0];
            }

            if (links.Count > 0)
            {
                var parent = await EmitParentAsync(links, cancellationToken).ConfigureAwait(false);
                links.Clear();
                if (_levels.Count == level + 1)
                {
                    _levels.Add(new List<DagLink>(_options.MaxLinks));
                }

                _levels[level + 1].Add(parent);
            }
        }

        throw new InvalidOperationException("the importer added no leaf");
    }

    private async ValueTask<DagLink> EmitParentAsync(List<DagLink> links, CancellationToken cancellationToken)
    {
        byte[] node = DagPb.EncodeFileNode(links);
        var cid = Cid.FromSha256(_options.CidVersion, Cid.DagPbCodec, SHA256.HashData(node));
        BlockCount++;
        if (_onBlock is not null)
        {
            await _onBlock(new UnixFsBlock(cid, node), cancellationToken).ConfigureAwait(false);
        }

        long tsize = node.Length;
        long fileSize = 0;
        foreach (var link in links)
        {
            tsize += link.Tsize;
            fileSize += link.FileSize;
        }

        return new DagLink(cid, tsize, fileSize);
    }
}

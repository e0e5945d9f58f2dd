using System.Security.Cryptography;

namespace InfraMind.Registry.Merkle;

/// <summary>
/// An append-only RFC 6962 tree that keeps every perfect subtree hash level by level (level 0 = leaf hashes), so
/// any MTH(D[a:b]) on the RFC's split structure costs O(log n) lookups and a proof at a million leaves takes
/// microseconds. Hashes live in 2 MiB chunks: growth never copies what is already stored. Not thread-safe.
/// </summary>
public sealed class MerkleTree
{
    private const int ChunkShift = 16;
    private const int ChunkHashes = 1 << ChunkShift;
    private readonly List<Level> _levels = [new Level()];

    public long Size => _levels[0].Count;

    /// <summary>Appends a leaf hash; returns the interior nodes it completed as (level, index, hash).</summary>
    public IReadOnlyList<(int Level, long Index, byte[] Hash)> Append(ReadOnlySpan<byte> leafHash)
    {
        var completed = new List<(int, long, byte[])>();
        Append(leafHash, completed);
        return completed;
    }

    /// <summary>Appends without allocating per node when <paramref name="completed"/> is null (rebuilding on open).</summary>
    public void Append(ReadOnlySpan<byte> leafHash, List<(int Level, long Index, byte[] Hash)>? completed)
    {
        if (leafHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException("leaf hash must be 32 bytes", nameof(leafHash));
        }

        var index = _levels[0].Count;
        leafHash.CopyTo(_levels[0].Reserve());
        var level = 0;
        Span<byte> buffer = stackalloc byte[1 + (2 * MerkleHash.Size)];
        buffer[0] = 1;

        // A node at level l+1 completes when its right child (an odd index at level l) arrives.
        while ((index & 1) == 1)
        {
            _levels[level].Get(index - 1).CopyTo(buffer[1..]);
            _levels[level].Get(index).CopyTo(buffer[(1 + MerkleHash.Size)..]);
            level++;
            index >>= 1;
            if (_levels.Count == level)
            {
                _levels.Add(new Level());
            }

            var slot = _levels[level].Reserve();
            SHA256.HashData(buffer, slot);
            completed?.Add((level, index, slot.ToArray()));
        }
    }

    /// <summary>Forgets everything after <paramref name="size"/> leaves (an append batch that failed to commit).</summary>
    public void Truncate(long size)
    {
        for (var l = 0; l < _levels.Count; l++)
        {
            _levels[l].Truncate(size >> l);
        }
    }

    public ReadOnlySpan<byte> LeafHash(long index) => _levels[0].Get(index);

    /// <summary>Stored perfect-subtree hash, for integrity checks against persisted node rows.</summary>
    public ReadOnlySpan<byte> NodeAt(int level, long index) => _levels[level].Get(index);

    public byte[] Root(long size)
    {
        CheckSize(size);
        return size == 0 ? MerkleHash.EmptyRoot() : SubtreeHash(0, size);
    }

    public InclusionProof InclusionProof(long index, long size)
    {
        CheckSize(size);
        return MerkleProofs.Inclusion(index, size, SubtreeHash);
    }

    public ConsistencyProof ConsistencyProof(long fromSize, long toSize)
    {
        CheckSize(toSize);
        return MerkleProofs.Consistency(fromSize, toSize, SubtreeHash);
    }

    /// <summary>MTH(D[start:end]) for ranges on the RFC split structure (start aligned to the largest power of two ≤ n).</summary>
    public byte[] SubtreeHash(long start, long end)
    {
        var n = end - start;
        if (MerkleHash.IsPowerOfTwo(n) && start % n == 0)
        {
            var level = System.Numerics.BitOperations.Log2((ulong)n);
            return _levels[level].Get(start >> level).ToArray();
        }

        var k = MerkleHash.SplitPoint(n);
        return MerkleHash.Node(SubtreeHash(start, start + k), SubtreeHash(start + k, end));
    }

    private void CheckSize(long size)
    {
        if (size < 0 || size > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"tree has {Size} leaves; size {size} is not available");
        }
    }

    private sealed class Level
    {
        private readonly List<byte[]> _chunks = [];

        public long Count { get; private set; }

        /// <summary>Grows by one hash and returns its slot to fill.</summary>
        public Span<byte> Reserve()
        {
            var chunk = (int)(Count >> ChunkShift);
            if (chunk == _chunks.Count)
            {
                _chunks.Add(new byte[ChunkHashes * MerkleHash.Size]);
            }

            var slot = _chunks[chunk].AsSpan((int)(Count & (ChunkHashes - 1)) * MerkleHash.Size, MerkleHash.Size);
            Count++;
            return slot;
        }

        public ReadOnlySpan<byte> Get(long index)
        {
            if (index < 0 || index >= Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return _chunks[(int)(index >> ChunkShift)].AsSpan((int)(index & (ChunkHashes - 1)) * MerkleHash.Size, MerkleHash.Size);
        }

        public void Truncate(long count)
        {
            if (count < Count)
            {
                Count = count;
            }
        }
    }
}

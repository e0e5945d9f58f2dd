namespace InfraMind.Registry.Merkle;

/// <summary>Inclusion proof (RFC 6962 §2.1.1 audit path) for leaf <see cref="LeafIndex"/> in a tree of <see cref="TreeSize"/>.</summary>
public sealed record InclusionProof(long LeafIndex, long TreeSize, IReadOnlyList<ReadOnlyMemory<byte>> Hashes);

/// <summary>Consistency proof (RFC 6962 §2.1.2) that the tree of <see cref="ToSize"/> extends the one of <see cref="FromSize"/>.</summary>
public sealed record ConsistencyProof(long FromSize, long ToSize, IReadOnlyList<ReadOnlyMemory<byte>> Hashes);

/// <summary>
/// Proof generation over any source of subtree hashes (RFC 6962 PATH and SUBPROOF) and verification exactly as
/// RFC 9162 §2.1.3.2 and §2.1.4.2 describe it. Pure functions.
/// </summary>
public static class MerkleProofs
{
    /// <summary>MTH(D[start:end]); implementations answer in O(log n) from stored perfect subtrees.</summary>
    public delegate byte[] SubtreeHash(long start, long end);

    public static InclusionProof Inclusion(long index, long size, SubtreeHash mth)
    {
        ArgumentNullException.ThrowIfNull(mth);
        if (index < 0 || index >= size)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"leaf {index} is not in a tree of size {size}");
        }

        var path = new List<ReadOnlyMemory<byte>>();
        Path(index, 0, size, mth, path);
        return new InclusionProof(index, size, path);
    }

    public static ConsistencyProof Consistency(long fromSize, long toSize, SubtreeHash mth)
    {
        ArgumentNullException.ThrowIfNull(mth);
        if (fromSize < 0 || fromSize > toSize)
        {
            throw new ArgumentOutOfRangeException(nameof(fromSize), $"cannot prove {fromSize} → {toSize}: sizes must satisfy 0 ≤ from ≤ to");
        }

        var proof = new List<ReadOnlyMemory<byte>>();
        if (fromSize > 0 && fromSize < toSize)
        {
            SubProof(fromSize, 0, toSize, true, mth, proof);
        }

        return new ConsistencyProof(fromSize, toSize, proof);
    }

    // PATH(m, D[start:end]); the recursion appends deepest first, as RFC 6962 orders the audit path.
    private static void Path(long m, long start, long end, SubtreeHash mth, List<ReadOnlyMemory<byte>> path)
    {
        var n = end - start;
        if (n == 1)
        {
            return;
        }

        var k = MerkleHash.SplitPoint(n);
        if (m < k)
        {
            Path(m, start, start + k, mth, path);
            path.Add(mth(start + k, end));
        }
        else
        {
            Path(m - k, start + k, end, mth, path);
            path.Add(mth(start, start + k));
        }
    }

    private static void SubProof(long m, long start, long end, bool b, SubtreeHash mth, List<ReadOnlyMemory<byte>> proof)
    {
        var n = end - start;
        if (m == n)
        {
            if (!b)
            {
                proof.Add(mth(start, end));
            }

            return;
        }

        var k = MerkleHash.SplitPoint(n);
        if (m <= k)
        {
            SubProof(m, start, start + k, b, mth, proof);
            proof.Add(mth(start + k, end));
        }
        else
        {
            SubProof(m - k, start + k, end, false, mth, proof);
            proof.Add(mth(start, start + k));
        }
    }

    /// <summary>RFC 9162 §2.1.3.2. Returns null when the proof verifies, else the reason it does not.</summary>
    public static string? VerifyInclusion(long leafIndex, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<ReadOnlyMemory<byte>> proof, ReadOnlySpan<byte> rootHash)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (leafIndex < 0 || leafIndex >= treeSize)
        {
            return $"leaf index {leafIndex} is outside a tree of size {treeSize}";
        }

        if (leafHash.Length != MerkleHash.Size || rootHash.Length != MerkleHash.Size || proof.Any(p => p.Length != MerkleHash.Size))
        {
            return "every hash must be 32 bytes";
        }

        var fn = leafIndex;
        var sn = treeSize - 1;
        var r = leafHash.ToArray();
        foreach (var p in proof)
        {
            if (sn == 0)
            {
                return $"audit path has {proof.Count} hashes, more than a tree of size {treeSize} needs for leaf {leafIndex}";
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = MerkleHash.Node(p.Span, r);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                r = MerkleHash.Node(r, p.Span);
            }

            fn >>= 1;
            sn >>= 1;
        }

        if (sn != 0)
        {
            return $"audit path has {proof.Count} hashes, fewer than a tree of size {treeSize} needs for leaf {leafIndex}";
        }

        return r.AsSpan().SequenceEqual(rootHash) ? null : $"audit path for leaf {leafIndex} does not lead to the root hash of size {treeSize}";
    }

    /// <summary>RFC 9162 §2.1.4.2. Returns null when the proof verifies, else the reason it does not.</summary>
    public static string? VerifyConsistency(long firstSize, long secondSize, ReadOnlySpan<byte> firstHash, ReadOnlySpan<byte> secondHash, IReadOnlyList<ReadOnlyMemory<byte>> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (firstSize < 0 || firstSize > secondSize)
        {
            return $"sizes {firstSize} → {secondSize} are not increasing";
        }

        if (firstHash.Length != MerkleHash.Size || secondHash.Length != MerkleHash.Size || proof.Any(p => p.Length != MerkleHash.Size))
        {
            return "every hash must be 32 bytes";
        }

        if (firstSize == secondSize)
        {
            if (proof.Count != 0)
            {
                return "a proof between equal sizes must be empty";
            }

            return firstHash.SequenceEqual(secondHash) ? null : $"root hashes differ at the same size {firstSize}: the log forked";
        }

        if (firstSize == 0)
        {
            return proof.Count == 0 ? null : "a proof from the empty tree must be empty";
        }

        if (proof.Count == 0)
        {
            return "consistency proof is empty";
        }

        var path = new List<ReadOnlyMemory<byte>>(proof.Count + 1);
        if (MerkleHash.IsPowerOfTwo(firstSize))
        {
            path.Add(firstHash.ToArray());
        }

        path.AddRange(proof);
        var fn = firstSize - 1;
        var sn = secondSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        var fr = path[0].ToArray();
        var sr = path[0].ToArray();
        for (var i = 1; i < path.Count; i++)
        {
            var c = path[i].Span;
            if (sn == 0)
            {
                return $"consistency proof has more hashes than {firstSize} → {secondSize} needs";
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = MerkleHash.Node(c, fr);
                sr = MerkleHash.Node(c, sr);
                if ((fn & 1) == 0)
                {
                    while ((fn & 1) == 0 && fn != 0)
                    {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            }
            else
            {
                sr = MerkleHash.Node(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        if (sn != 0)
        {
            return $"consistency proof has fewer hashes than {firstSize} → {secondSize} needs";
        }

        if (!fr.AsSpan().SequenceEqual(firstHash))
        {
            return $"proof does not reproduce the root hash at size {firstSize}";
        }

        return sr.AsSpan().SequenceEqual(secondHash) ? null : $"proof does not reproduce the root hash at size {secondSize}";
    }
}

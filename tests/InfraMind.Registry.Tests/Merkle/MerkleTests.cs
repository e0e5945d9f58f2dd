using CsCheck;
using InfraMind.Registry.Merkle;

namespace InfraMind.Registry.Tests.Merkle;

public sealed class MerkleTests
{
    private const int N = 130;

    // Certificate Transparency's reference inputs (certificate-transparency-go merkletree tests).
    private static readonly byte[][] CtLeaves =
    [
        [],
        [0x00],
        [0x10],
        [0x20, 0x21],
        [0x30, 0x31],
        [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];

    private static readonly string[] CtRoots =
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    private static readonly MerkleTree Tree = Build(N);

    /// <summary>A tree of <paramref name="n"/> leaves, leaf i hashing the bytes of i.</summary>
    internal static MerkleTree Build(int n)
    {
        var tree = new MerkleTree();
        for (var i = 0; i < n; i++)
        {
            tree.Append(MerkleHash.Leaf(BitConverter.GetBytes(i)));
        }

        return tree;
    }

    /// <summary>MTH straight from RFC 6962 §2.1, recursing over leaf hashes: the oracle for the stored-levels tree.</summary>
    private static byte[] ReferenceMth(IReadOnlyList<byte[]> leafHashes, int start, int end)
    {
        var n = end - start;
        if (n == 0)
        {
            return MerkleHash.EmptyRoot();
        }

        if (n == 1)
        {
            return leafHashes[start];
        }

        var k = 1;
        while (k * 2 < n)
        {
            k *= 2;
        }

        return MerkleHash.Node(ReferenceMth(leafHashes, start, start + k), ReferenceMth(leafHashes, start + k, end));
    }

    [Fact]
    public void Roots_match_certificate_transparency_vectors()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Convert.ToHexStringLower(new MerkleTree().Root(0)));
        var tree = new MerkleTree();
        for (var i = 0; i < CtLeaves.Length; i++)
        {
            tree.Append(MerkleHash.Leaf(CtLeaves[i]));
            Assert.Equal(CtRoots[i], Convert.ToHexStringLower(tree.Root(i + 1)));
        }
    }

    [Fact]
    public void Roots_match_the_reference_for_every_size()
    {
        var hashes = Enumerable.Range(0, N).Select(i => Tree.LeafHash(i).ToArray()).ToList();
        for (var n = 0; n <= N; n++)
        {
            Assert.Equal(ReferenceMth(hashes, 0, n), Tree.Root(n));
        }
    }

    [Fact]
    public void Inclusion_proofs_verify_for_every_size_and_index()
    {
        for (long n = 1; n <= N; n++)
        {
            var root = Tree.Root(n);
            for (long i = 0; i < n; i++)
            {
                var proof = Tree.InclusionProof(i, n);
                Assert.Null(MerkleProofs.VerifyInclusion(i, n, Tree.LeafHash(i), proof.Hashes, root));
            }
        }
    }

    [Fact]
    public void Consistency_proofs_verify_between_any_two_sizes()
    {
        for (long n = 0; n <= N; n++)
        {
            var newRoot = Tree.Root(n);
            for (long m = 0; m <= n; m++)
            {
                var proof = Tree.ConsistencyProof(m, n);
                Assert.Null(MerkleProofs.VerifyConsistency(m, n, Tree.Root(m), newRoot, proof.Hashes));
            }
        }
    }

    [Fact]
    public void Tampered_inclusion_proofs_fail()
    {
        Gen.Int[2, N].SelectMany(n => Gen.Long[0, n - 1].Select(i => (n, i)))
            .SelectMany(t => Gen.Int[0, 1000].Select(pick => (t.n, t.i, pick)))
            .Sample(t =>
            {
                var (n, i, pick) = t;
                var proof = Tree.InclusionProof(i, n);
                var root = Tree.Root(n);
                var leaf = Tree.LeafHash(i).ToArray();
                if (proof.Hashes.Count > 0)
                {
                    var hashes = proof.Hashes.Select(h => h.ToArray()).ToList();
                    hashes[pick % hashes.Count][pick % 32] ^= (byte)(1 << (pick % 8));
                    Assert.NotNull(MerkleProofs.VerifyInclusion(i, n, leaf, hashes.Select(h => (ReadOnlyMemory<byte>)h).ToList(), root));
                    Assert.NotNull(MerkleProofs.VerifyInclusion(i, n, leaf, proof.Hashes.Take(proof.Hashes.Count - 1).ToList(), root));
                }

                Assert.NotNull(MerkleProofs.VerifyInclusion(i, n, leaf, proof.Hashes.Append(new byte[32]).ToList(), root));
                leaf[pick % 32] ^= 1;
                Assert.NotNull(MerkleProofs.VerifyInclusion(i, n, leaf, proof.Hashes, root));
                Assert.NotNull(MerkleProofs.VerifyInclusion(i, n, Tree.LeafHash(i), proof.Hashes, Tree.Root(n - 1)));
                var other = (i + 1 + (pick % (n - 1))) % n;
                Assert.NotNull(MerkleProofs.VerifyInclusion(other, n, Tree.LeafHash(i), proof.Hashes, root));
            });
    }

    [Fact]
    public void Tampered_consistency_proofs_fail()
    {
        Gen.Int[2, N].SelectMany(n => Gen.Int[1, n - 1].Select(m => (n, m)))
            .SelectMany(t => Gen.Int[0, 1000].Select(pick => (t.n, t.m, pick)))
            .Sample(t =>
            {
                var (n, m, pick) = t;
                var proof = Tree.ConsistencyProof(m, n);
                var hashes = proof.Hashes.Select(h => h.ToArray()).ToList();
                hashes[pick % hashes.Count][pick % 32] ^= 0x01;
                Assert.NotNull(MerkleProofs.VerifyConsistency(m, n, Tree.Root(m), Tree.Root(n), hashes.Select(h => (ReadOnlyMemory<byte>)h).ToList()));
                Assert.NotNull(MerkleProofs.VerifyConsistency(m, n, Tree.Root(m), Tree.Root(n), proof.Hashes.Skip(1).ToList()));
                Assert.NotNull(MerkleProofs.VerifyConsistency(m, n, Tree.Root(m - 1 == 0 ? m + 1 : m - 1), Tree.Root(n), proof.Hashes));

                // A log that rewrote one early leaf cannot prove consistency with what it signed before.
                var forked = new MerkleTree();
                for (var i = 0; i < n; i++)
                {
                    forked.Append(i == pick % m ? new byte[32] : Tree.LeafHash(i));
                }

                Assert.NotNull(MerkleProofs.VerifyConsistency(m, n, Tree.Root(m), forked.Root(n), forked.ConsistencyProof(m, n).Hashes));
            }, iter: 300);
    }

    [Fact]
    public void Inclusion_proofs_in_a_large_tree_are_logarithmic_and_verify()
    {
        // What a proof costs at 1 M entries (target < 1 ms) is bench/registry-bench's to measure and print; here only
        // what the proofs are. 100,003 leaves: not a power of two, so the right edge is an incomplete subtree.
        const long Size = 100_003;
        var tree = new MerkleTree();
        var leaf = new byte[32];
        for (var i = 0; i < Size; i++)
        {
            BitConverter.TryWriteBytes(leaf, i);
            tree.Append(leaf);
        }

        var root = tree.Root(tree.Size);
        var longest = (int)Math.Ceiling(Math.Log2(Size));
        foreach (var index in Enumerable.Range(0, 200).Select(i => i * 7919L % Size).Concat([0, Size / 2, Size - 2, Size - 1]))
        {
            var proof = tree.InclusionProof(index, tree.Size);
            Assert.InRange(proof.Hashes.Count, 1, longest);
            Assert.Null(MerkleProofs.VerifyInclusion(index, tree.Size, tree.LeafHash(index), proof.Hashes, root));
        }

        // Interior leaves lie under full subtrees on both sides: their paths are as long as the tree is deep.
        Assert.Equal(longest, tree.InclusionProof(0, tree.Size).Hashes.Count);
        var wrong = tree.InclusionProof(Size / 2, tree.Size).Hashes.Select(h => h.ToArray()).ToList();
        wrong[^1][0] ^= 1;
        Assert.NotNull(MerkleProofs.VerifyInclusion(Size / 2, tree.Size, tree.LeafHash(Size / 2), wrong.Select(h => (ReadOnlyMemory<byte>)h).ToList(), root));
    }

    [Fact]
    public void Truncate_rolls_back_an_uncommitted_batch()
    {
        var tree = Build(10);
        var root10 = tree.Root(10);
        tree.Append(new byte[32]);
        tree.Append(new byte[32]);
        tree.Truncate(10);
        Assert.Equal(10, tree.Size);
        Assert.Equal(root10, tree.Root(10));
        tree.Append(MerkleHash.Leaf(BitConverter.GetBytes(10)));
        Assert.Equal(Build(11).Root(11), tree.Root(11));
    }

    [Fact]
    public void Truncate_then_append_is_the_tree_of_the_new_leaves_at_every_size()
    {
        // Rolled back at every size t of every tree of n leaves, then grown past n with the leaves Build appends: every
        // level must have been cut at t (a stale interior node above the cut would be read as a new one's hash).
        const int Grown = 24;
        var fresh = Build(Grown);
        for (var n = 1; n <= 20; n++)
        {
            for (var t = 0; t <= n; t++)
            {
                var tree = Build(t);
                for (var i = t; i < n; i++)
                {
                    tree.Append(MerkleHash.Leaf(BitConverter.GetBytes(-1 - i)));
                }

                tree.Truncate(t);
                Assert.Equal(t, tree.Size);
                for (var i = t; i < Grown; i++)
                {
                    tree.Append(MerkleHash.Leaf(BitConverter.GetBytes(i)));
                }

                for (var size = 1; size <= Grown; size++)
                {
                    Assert.True(fresh.Root(size).AsSpan().SequenceEqual(tree.Root(size)), $"n={n} t={t}: root at {size}");
                }

                Assert.Equal(fresh.ConsistencyProof(t, Grown).Hashes.Select(h => Convert.ToHexString(h.Span)), tree.ConsistencyProof(t, Grown).Hashes.Select(h => Convert.ToHexString(h.Span)));
            }
        }
    }

    [Fact]
    public void Sizes_and_indexes_outside_the_tree_are_refused()
    {
        var tree = Build(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.Root(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.Root(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(-1, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(4, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(-1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.LeafHash(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.LeafHash(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.NodeAt(1, 2));
        Assert.Throws<ArgumentException>(() => tree.Append(new byte[31]));
        Assert.Equal(5, tree.Size);
        // The edges that are inside: the whole tree, the last leaf, a proof between equal sizes (empty).
        Assert.Equal(Build(5).Root(5), tree.Root(5));
        Assert.Equal(MerkleHash.EmptyRoot(), tree.Root(0));
        Assert.Equal(5, tree.InclusionProof(4, 5).TreeSize);
        Assert.Empty(tree.ConsistencyProof(5, 5).Hashes);
        Assert.Equal(1, tree.NodeAt(1, 1).Length / 32);
    }
}

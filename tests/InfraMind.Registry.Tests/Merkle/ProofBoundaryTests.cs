using InfraMind.Registry.Merkle;

namespace InfraMind.Registry.Tests.Merkle;

/// <summary>
/// Proofs a hostile registry (or a client's stale copy) hands a verifier that must not verify, each for its own reason:
/// what scripts/mutation.sh proofs found unproven (a fork at one size passed when that rule was removed).
/// </summary>
public sealed class ProofBoundaryTests
{
    private static readonly MerkleTree Tree = MerkleTests.Build(5);
    private static readonly byte[] Root = Tree.Root(5);

    [Fact]
    public void An_inclusion_proof_names_a_leaf_inside_its_tree_with_32_byte_hashes()
    {
        var leaf = Tree.LeafHash(4).ToArray();
        var proof = Tree.InclusionProof(4, 5).Hashes;
        Assert.Null(MerkleProofs.VerifyInclusion(4, 5, leaf, proof, Root));

        Assert.Contains("outside a tree of size 5", MerkleProofs.VerifyInclusion(5, 5, leaf, proof, Root), StringComparison.Ordinal);
        Assert.Contains("outside a tree of size 5", MerkleProofs.VerifyInclusion(-1, 5, leaf, proof, Root), StringComparison.Ordinal);
        Assert.Contains("outside a tree of size 0", MerkleProofs.VerifyInclusion(0, 0, leaf, [], MerkleHash.EmptyRoot()), StringComparison.Ordinal);
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyInclusion(4, 5, leaf.AsSpan(0, 31), proof, Root));
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyInclusion(4, 5, leaf, proof, Root.AsSpan(0, 31)));
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyInclusion(4, 5, leaf, [.. proof.Take(proof.Count - 1), proof[^1][..31]], Root));
    }

    [Fact]
    public void Two_roots_at_one_size_are_a_fork_and_every_proof_from_the_empty_tree_is_empty()
    {
        var forked = MerkleTests.Build(4);
        forked.Append(MerkleHash.Leaf("another entry"u8));
        var otherRoot = forked.Root(5);
        Assert.NotEqual(Root, otherRoot);

        Assert.Null(MerkleProofs.VerifyConsistency(5, 5, Root, Root, []));
        Assert.Contains("the log forked", MerkleProofs.VerifyConsistency(5, 5, Root, otherRoot, []), StringComparison.Ordinal);
        Assert.Equal("a proof between equal sizes must be empty", MerkleProofs.VerifyConsistency(5, 5, Root, Root, [Root]));

        Assert.Null(MerkleProofs.VerifyConsistency(0, 5, MerkleHash.EmptyRoot(), Root, []));
        Assert.Equal("a proof from the empty tree must be empty", MerkleProofs.VerifyConsistency(0, 5, MerkleHash.EmptyRoot(), Root, [Root]));

        var proof = Tree.ConsistencyProof(3, 5).Hashes;
        Assert.Null(MerkleProofs.VerifyConsistency(3, 5, Tree.Root(3), Root, proof));
        Assert.Contains("are not increasing", MerkleProofs.VerifyConsistency(6, 5, Tree.Root(3), Root, proof), StringComparison.Ordinal);
        Assert.Contains("are not increasing", MerkleProofs.VerifyConsistency(-1, 5, Tree.Root(3), Root, proof), StringComparison.Ordinal);
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyConsistency(3, 5, Tree.Root(3).AsSpan(0, 31), Root, proof));
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyConsistency(3, 5, Tree.Root(3), Root.AsSpan(0, 31), proof));
        Assert.Equal("every hash must be 32 bytes", MerkleProofs.VerifyConsistency(3, 5, Tree.Root(3), Root, [.. proof.Take(proof.Count - 1), proof[^1][..31]]));
    }
}

using InfraMind.Registry.Chain;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Cli;

/// <summary>
/// The SQLite log's checkpoints anchored on a chain: what `infra chain anchor` records and what `infra verify --anchor`
/// proves an entry against. The log is reached as every command reaches it (<see cref="RegistryAccess"/>), so it may be
/// the embedded one or a server; checkpoints and consistency proofs are what the log serves beyond <see cref="IRegistryService"/>.
/// </summary>
internal static class LogAnchors
{
    /// <summary>The log's current signed checkpoint, verified with the key the command trusts.</summary>
    public static async Task<SignedCheckpoint> CheckpointAsync(IRegistryService log, PublicKey registryKey, CancellationToken cancellationToken) => log switch
    {
        LocalRegistryService local => SignedCheckpoint.Verify((await local.Registry.GetCheckpointAsync(cancellationToken)).Note, registryKey),
        RegistryClient remote => SignedCheckpoint.Verify(await remote.GetCheckpointAsync(cancellationToken), registryKey),
        _ => throw new NotSupportedException($"{log.GetType().Name} serves no checkpoints"),
    };

    /// <summary>
    /// The anchor check of an entry: the newest anchor by <paramref name="anchorer"/> that covers the entry and that the
    /// entry's checkpoint extends, proven with a consistency proof from the log when the sizes differ (none offline).
    /// </summary>
    public static async Task<VerificationCheck> VerifyAsync(
        EntryBundle bundle, PublicKey registryKey, ChainModelRegistry chain, string anchorer, IRegistryService? log, CancellationToken cancellationToken)
    {
        var origin = Checkpoint.OriginFor(registryKey);
        var current = SignedCheckpoint.Verify(bundle.Checkpoint, registryKey).Checkpoint;
        var anchors = await chain.ListAnchorsAsync(anchorer, origin, null, cancellationToken);
        var covering = anchors.Where(a => a.Size > bundle.Index && a.Size <= current.Size).MaxBy(a => a.Size);
        if (covering is null)
        {
            var sizes = anchors.Count == 0 ? "none" : string.Join(", ", anchors.Select(a => a.Size));
            return new VerificationCheck(AnchorVerifier.AnchorCheck, false, ChainErrorCodes.AnchorNotFound,
                $"no anchor by {anchorer} in {chain.Address} covers entry {bundle.Index} of {origin} at or below the entry's checkpoint (size {current.Size}); anchored sizes: {sizes}. " +
                "Anchor the log's checkpoint with `infra chain anchor --chain eth://… --payer KEY`");
        }

        ConsistencyProof? consistency = null;
        if (covering.Size != current.Size && log is not null)
        {
            consistency = await ConsistencyAsync(log, covering.Size, current.Size, cancellationToken);
        }

        return AnchorVerifier.VerifyEntry(bundle, covering, registryKey, consistency);
    }

    private static async Task<ConsistencyProof> ConsistencyAsync(IRegistryService log, long from, long to, CancellationToken cancellationToken) => log switch
    {
        LocalRegistryService local => await local.Registry.GetConsistencyProofAsync(from, to, cancellationToken),
        RegistryClient remote => await remote.GetConsistencyProofAsync(from, to, cancellationToken),
        _ => throw new NotSupportedException($"{log.GetType().Name} serves no consistency proofs"),
    };
}

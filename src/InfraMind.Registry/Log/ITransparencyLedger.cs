using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Merkle;

namespace InfraMind.Registry.Log;

/// <summary>One committed leaf: <see cref="Data"/> is what was appended, <see cref="LeafHash"/> = SHA-256(0x00 || Data).</summary>
public sealed record LedgerEntry(long Index, ReadOnlyMemory<byte> Data, ReadOnlyMemory<byte> LeafHash, DateTimeOffset IntegratedAt);

/// <summary>
/// An append-only, verifiable log of opaque entries (RFC 6962). The embedded implementation is SQLite; an on-chain
/// (EVM) one can come later behind the same contract. An append returns only once it is durable.
/// </summary>
public interface ITransparencyLedger : IAsyncDisposable
{
    /// <summary>Appends and returns once the entry is durably committed. Cancelling stops the wait, not necessarily the append.</summary>
    Task<LedgerEntry> AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    Task<LedgerEntry?> GetEntryAsync(long index, CancellationToken cancellationToken);

    /// <summary>Committed entries from <paramref name="start"/>, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LedgerEntry>> GetEntriesAsync(long start, int limit, CancellationToken cancellationToken);

    Task<long> GetSizeAsync(CancellationToken cancellationToken);

    Task<ReadOnlyMemory<byte>> GetRootAsync(long size, CancellationToken cancellationToken);

    Task<InclusionProof> GetInclusionProofAsync(long index, long treeSize, CancellationToken cancellationToken);

    Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken);

    /// <summary>A checkpoint over all committed entries, signed by the log's key.</summary>
    Task<SignedCheckpoint> GetCheckpointAsync(CancellationToken cancellationToken);
}

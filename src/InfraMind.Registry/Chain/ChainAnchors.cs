using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;

namespace InfraMind.Registry.Chain;

/// <summary>
/// Anchoring the SQLite log on chain: <c>anchorRoot(logId, size, root, note)</c> records a signed checkpoint's root under
/// the sender's address (the log operator's payer; keyed by sender so nobody else can pre-empt a size), with the note
/// in the event so verifiers can check the registry key's signature too. <c>logId</c> = keccak256 of the checkpoint's
/// origin line (<c>inframind registry sha256:…</c>).
/// </summary>
public sealed partial class ChainModelRegistry
{
    /// <summary>Anchors <paramref name="checkpoint"/>'s root; <paramref name="payer"/> is the anchorer verifiers name.</summary>
    public async Task<ChainAnchor> AnchorCheckpointAsync(SignedCheckpoint checkpoint, ChainPayer payer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(payer);
        var cp = checkpoint.Checkpoint;
        var call = new AnchorRootFunction { LogId = LogId(cp.Origin), Size = (ulong)cp.Size, Root = cp.RootHash.ToArray(), Checkpoint = checkpoint.Note };
        var receipt = await SendAsync(call.GetCallData().ToHex(true), payer, $"anchoring {cp.Origin} at size {cp.Size}", cancellationToken).ConfigureAwait(false);
        return new ChainAnchor(payer.Address, cp.Origin, cp.Size, cp.RootHash, checkpoint.Note, ToTransaction(receipt));
    }

    /// <summary>The anchor of <paramref name="origin"/> at <paramref name="size"/> by <paramref name="anchorer"/>, or null.</summary>
    public async Task<ChainAnchor?> GetAnchorAsync(string anchorer, string origin, long size, CancellationToken cancellationToken)
    {
        var call = new AnchoredRootFunction { Anchorer = anchorer, LogId = LogId(origin), Size = (ulong)size };
        var root = await _rpc.QueryWordAsync(Address.Contract, call, $"reading the anchor of {origin} at size {size}", cancellationToken).ConfigureAwait(false);
        if (root is null || root.All(b => b == 0))
        {
            return null;
        }

        return (await ListAnchorsAsync(anchorer, origin, size, cancellationToken).ConfigureAwait(false)).FirstOrDefault(a => a.Root.Span.SequenceEqual(root))
            ?? throw new ChainException(ChainErrorCodes.RecordMismatch, $"the contract holds an anchor of {origin} at size {size}, but the node has no RootAnchored event for it.");
    }

    /// <summary>Every anchor of <paramref name="origin"/> by <paramref name="anchorer"/> (of one size when given), oldest first.</summary>
    public async Task<IReadOnlyList<ChainAnchor>> ListAnchorsAsync(string anchorer, string origin, long? size, CancellationToken cancellationToken)
    {
        var filter = new NewFilterInput
        {
            Address = [Address.Contract],
            FromBlock = new BlockParameter(new HexBigInteger(DeployedAt)),
            ToBlock = BlockParameter.CreateLatest(),
            Topics = [Topic<RootAnchoredEvent>(), Word(anchorer.HexToByteArray()), LogId(origin).ToHex(true), size is { } s ? Word(new System.Numerics.BigInteger(s).ToByteArray(isUnsigned: true, isBigEndian: true)) : null],
        };
        var logs = await _rpc.GetLogsAsync(filter, cancellationToken).ConfigureAwait(false);
        const string what = "reading anchors";
        return [.. logs.Select(TryDecode<RootAnchoredEvent>).OfType<EventLog<RootAnchoredEvent>>()
            .Select(e => new ChainAnchor(Checksum(e.Event.Anchorer), origin, (long)Math.Min(e.Event.Size, long.MaxValue), e.Event.Root, e.Event.Checkpoint,
                new ChainTransaction(_rpc.Hash(e.Log.TransactionHash, what, "a transaction hash"), _rpc.Quantity(e.Log.BlockNumber, what, "a block number"),
                    _rpc.Hash(e.Log.BlockHash, what, "a block hash"), 0)))];
    }

    /// <summary>keccak256 of a log's origin line.</summary>
    public static byte[] LogId(string origin) => ChainPublishRecord.Keccak(System.Text.Encoding.UTF8.GetBytes(origin));

    private static string Word(byte[] value)
    {
        var word = new byte[32];
        value.CopyTo(word, 32 - value.Length);
        return word.ToHex(true);
    }
}

/// <summary>Proves a log entry against a root anchored on chain, offline once the anchor is read.</summary>
public static class AnchorVerifier
{
    public const string AnchorCheck = "anchor";

    /// <summary>
    /// Checks that <paramref name="bundle"/>'s entry is in the log as anchored: the anchor's note is signed by the
    /// registry key and names the root the contract holds; the entry lies within the anchored size; its inclusion proof
    /// leads to the bundle's signed checkpoint; and that checkpoint extends the anchored tree (the consistency proof from
    /// the anchored size, unless the sizes are equal).
    /// </summary>
    public static VerificationCheck VerifyEntry(EntryBundle bundle, ChainAnchor anchor, PublicKey registryKey, ConsistencyProof? consistency)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(registryKey);
        var note = CheckpointNote.Verify(anchor.CheckpointNote, registryKey);
        if (!note.IsValid || note.Checkpoint is not { } anchored)
        {
            return Fail(ChainErrorCodes.AnchorMismatch, $"the anchored checkpoint does not verify with the registry key: {note.ErrorCode} {note.Reason}");
        }

        if (anchored.Size != anchor.Size || !anchored.RootHash.Span.SequenceEqual(anchor.Root.Span))
        {
            return Fail(ChainErrorCodes.AnchorMismatch, $"the anchored note says size {anchored.Size} root {Convert.ToBase64String(anchored.RootHash.Span)}, the contract holds size {anchor.Size} root {Convert.ToBase64String(anchor.Root.Span)}.");
        }

        if (bundle.Index >= anchor.Size)
        {
            return Fail(ChainErrorCodes.AnchorNotFound, $"entry {bundle.Index} is not covered by the anchor at size {anchor.Size}: anchor a later checkpoint.");
        }

        var entry = EntryVerifier.Verify(bundle, registryKey);
        if (entry.Checks.FirstOrDefault(c => c.Name is EntryVerifier.CheckpointCheck or EntryVerifier.InclusionCheck && !c.Passed) is { } failed)
        {
            return Fail(ChainErrorCodes.AnchorMismatch, $"the entry's own proof does not verify ({failed.Name}: {failed.Code} {failed.Reason})");
        }

        var current = CheckpointNote.Verify(bundle.Checkpoint, registryKey).Checkpoint!;
        if (current.Size < anchor.Size)
        {
            return Fail(ChainErrorCodes.AnchorMismatch, $"the entry's checkpoint (size {current.Size}) is older than the anchor (size {anchor.Size}): fetch the entry again.");
        }

        if (current.Size > anchor.Size)
        {
            if (consistency is null || consistency.FromSize != anchor.Size || consistency.ToSize != current.Size)
            {
                return Fail(ChainErrorCodes.AnchorMismatch, $"a consistency proof from size {anchor.Size} to {current.Size} is needed (GET /v1/proof/consistency?from={anchor.Size}&to={current.Size}).");
            }

            var error = MerkleProofs.VerifyConsistency(anchor.Size, current.Size, anchor.Root.Span, current.RootHash.Span, consistency.Hashes);
            if (error is not null)
            {
                return Fail(ChainErrorCodes.AnchorMismatch, $"the log at size {current.Size} does not extend the anchored tree: {error}");
            }
        }
        else if (!current.RootHash.Span.SequenceEqual(anchor.Root.Span))
        {
            return Fail(ChainErrorCodes.AnchorMismatch, $"the log's root at size {current.Size} differs from the anchored root: the log forked.");
        }

        var tx = anchor.Transaction is { } t ? $" (block {t.BlockNumber}, transaction {t.Hash})" : "";
        return new VerificationCheck(AnchorCheck, true, null, $"entry {bundle.Index} is in the log as anchored on chain at size {anchor.Size} by {anchor.Anchorer}{tx}");
    }

    private static VerificationCheck Fail(ErrorCode code, string reason) => new(AnchorCheck, false, code, reason);
}

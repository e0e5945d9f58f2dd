using System.Security.Cryptography;
using System.Text;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Trust;

/// <summary>
/// What a client remembers of the registries it talks to, under one directory (<c>$INFRAMIND_HOME/trust/registries</c>),
/// one folder per registry address: the registry key pinned on first use (<c>key.pem</c>), and the latest checkpoint
/// seen under that key (<c>checkpoint-&lt;key&gt;</c>). A registry that later serves another key is refused with both
/// fingerprints (<see cref="RegistryErrorCodes.RegistryKeyChanged"/>); a key given explicitly (<c>--registry-key</c>) is
/// used as it is and does not touch the pin. <see cref="Watch"/> wraps a registry so that every checkpoint it answers
/// must extend the one seen before (a consistency proof), else <see cref="RegistryErrorCodes.SplitView"/>.
/// </summary>
public sealed class RegistryTrust(string directory)
{
    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>
    /// How long an observer waits for another process of this home to release a registry's history (held only to read,
    /// compare and replace the file) before it gives up with <see cref="RegistryErrorCodes.TrustHistoryBusy"/>.
    /// </summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The folder of the registry at <paramref name="location"/> (an URL): scheme, host, port and path, readable, always
    /// one level under <see cref="Directory"/>. A name that cannot be one (empty, over 100 characters, or only dots:
    /// "." and ".." would be this directory and its parent) is the hash of the location instead.
    /// </summary>
    public string FolderOf(string location)
    {
        ArgumentNullException.ThrowIfNull(location);
        var name = Uri.TryCreate(location, UriKind.Absolute, out var uri)
            ? $"{uri.Scheme}_{uri.IdnHost}_{uri.Port}{uri.AbsolutePath.TrimEnd('/').Replace('/', '_')}"
            : location;
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
        return Path.Combine(Directory, safe.Length is > 0 and <= 100 && safe.Trim('.').Length > 0
            ? safe
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(location)))[..32]);
    }

    /// <summary>
    /// The key to trust for the registry at <paramref name="location"/>: the pinned one, after checking that
    /// <paramref name="served"/> is the same; on first use, <paramref name="served"/>, pinned now.
    /// </summary>
    public PublicKey Pin(string location, PublicKey served)
    {
        ArgumentNullException.ThrowIfNull(served);
        var file = Path.Combine(FolderOf(location), "key.pem");
        if (File.Exists(file))
        {
            var pinned = PublicKey.FromPemFile(file);
            return pinned.Equals(served)
                ? pinned
                : throw new RegistryException(RegistryErrorCodes.RegistryKeyChanged, RegistryErrorKind.Forbidden,
                    $"the registry at {location} now serves key {served.Fingerprint}, but key {pinned.Fingerprint} was pinned for it on first use ({file}); " +
                    "another key means another registry, or one that replaced its log.");
        }

        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        WriteAtomically(file, served.ToPem());
        return served;
    }

    /// <summary>
    /// <paramref name="registry"/> as seen through the checkpoint history kept for <paramref name="location"/> and
    /// <paramref name="key"/>: every checkpoint in its answers is checked against the one seen before.
    /// </summary>
    public IRegistryService Watch(IRegistryService registry, string location, PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var file = Path.Combine(FolderOf(location), "checkpoint-" + key.Fingerprint["sha256:".Length..][..16]);
        return new CheckpointWatch(registry, key, location, file, LockWait);
    }

    internal static void WriteAtomically(string file, string content) => AtomicFile.Write(file, Encoding.UTF8.GetBytes(content), AtomicFile.ReadableByAll);
}

/// <summary>
/// An <see cref="IRegistryService"/> whose answers carry checkpoints that must each be consistent with the latest one
/// this client saw of that registry (kept in a file, so the history outlives the process and is shared by the gateway,
/// nodes and <c>infra verify</c> of one home): a larger tree must be proven to extend it (RFC 9162 consistency proof from
/// the registry), the same size must have the same root, a smaller tree must be a proven prefix of it. Anything else
/// is a split view (<see cref="RegistryErrorCodes.SplitView"/>): the registry showed two histories. A checkpoint that
/// does not verify with the key is not remembered (the entry verifier reports it).
/// </summary>
internal sealed class CheckpointWatch(IRegistryService inner, PublicKey key, string location, string file, TimeSpan lockWait) : IRegistryService
{
    private string? _latestNote;

    public async Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken)
    {
        var response = await inner.PublishAsync(envelope, cancellationToken).ConfigureAwait(false);
        await ObserveAsync(response.Bundle.Checkpoint, cancellationToken).ConfigureAwait(false);
        return response;
    }

    public async Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) =>
        await ObservedAsync(await inner.GetModelVersionAsync(name, version, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    public async Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) =>
        await ObservedAsync(await inner.GetEntryAsync(index, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    public Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken) =>
        inner.ListEntriesAsync(start, limit, cancellationToken);

    public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => inner.GetKeyAsync(cancellationToken);

    public async Task<string> GetCheckpointAsync(CancellationToken cancellationToken)
    {
        var note = await inner.GetCheckpointAsync(cancellationToken).ConfigureAwait(false);
        await ObserveAsync(note, cancellationToken).ConfigureAwait(false);
        return note;
    }

    public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken) =>
        inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);

    private async Task<EntryBundle> ObservedAsync(EntryBundle bundle, CancellationToken cancellationToken)
    {
        await ObserveAsync(bundle.Checkpoint, cancellationToken).ConfigureAwait(false);
        return bundle;
    }

    private async Task ObserveAsync(string note, CancellationToken cancellationToken)
    {
        if (note == Volatile.Read(ref _latestNote) || CheckpointNote.Verify(note, key) is not { IsValid: true, Checkpoint: { } seen })
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        // Other processes of this home (gateway, nodes, verify), and other requests of this one, keep the same file. The
        // consistency proof is fetched without its lock (a registry may take its whole request timeout to answer, and the
        // others would wait on it); the history is then advanced under the lock (an exclusive flock on the lock file)
        // only if nobody changed it meanwhile, else the check is made again against what the other observer wrote. After
        // a few such rounds (a registry that grows faster than this one checks) the check is made under the lock.
        for (var round = 1; ; round++)
        {
            var holdLock = round > OptimisticRounds;
            using var lockFile = holdLock ? await LockAsync(cancellationToken).ConfigureAwait(false) : null;
            var storedNote = await ReadHistoryAsync(cancellationToken).ConfigureAwait(false);
            var stored = storedNote is null ? null : CheckpointNote.Verify(storedNote, key).Checkpoint;
            if (stored is not null)
            {
                await CheckConsistentAsync(stored, seen, cancellationToken).ConfigureAwait(false);
            }

            using var advancing = holdLock ? null : await LockAsync(cancellationToken).ConfigureAwait(false);
            if (!holdLock && await ReadHistoryAsync(cancellationToken).ConfigureAwait(false) != storedNote)
            {
                continue;
            }

            if (stored is null || seen.Size > stored.Size)
            {
                RegistryTrust.WriteAtomically(file, note);
            }

            Volatile.Write(ref _latestNote, stored is null || seen.Size >= stored.Size ? note : storedNote);
            return;
        }
    }

    /// <summary>How many times a check whose history another observer changed meanwhile is made again before one is made under the lock.</summary>
    internal const int OptimisticRounds = 3;

    private async Task<string?> ReadHistoryAsync(CancellationToken cancellationToken) =>
        File.Exists(file) ? await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false) : null;

    private async Task CheckConsistentAsync(Checkpoint stored, Checkpoint seen, CancellationToken cancellationToken)
    {
        string? failure;
        if (seen.Size == stored.Size)
        {
            failure = seen.RootHash.Span.SequenceEqual(stored.RootHash.Span) ? null : "the same tree size has two different roots";
        }
        else
        {
            var (older, newer) = seen.Size < stored.Size ? (seen, stored) : (stored, seen);
            try
            {
                var proof = await inner.GetConsistencyProofAsync(older.Size, newer.Size, cancellationToken).ConfigureAwait(false);
                failure = proof.FromSize != older.Size || proof.ToSize != newer.Size
                    ? "the registry answered a proof for other sizes"
                    : MerkleProofs.VerifyConsistency(older.Size, newer.Size, older.RootHash.Span, newer.RootHash.Span, proof.Hashes);
            }
            catch (RegistryException e) when (e.Category is not RegistryErrorKind.Unavailable)
            {
                failure = $"the registry cannot prove that the tree of {older.Size} entries is a prefix of the tree of {newer.Size} ({e.Code} {e.Message})";
            }
        }

        if (failure is not null)
        {
            throw new RegistryException(RegistryErrorCodes.SplitView, RegistryErrorKind.Corrupt,
                $"the registry at {location} answered a checkpoint inconsistent with the one seen before ({failure}). " +
                $"Seen before (kept in {file}): size {stored.Size}, root {Convert.ToBase64String(stored.RootHash.Span)}; " +
                $"now: size {seen.Size}, root {Convert.ToBase64String(seen.RootHash.Span)}.");
        }
    }

    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = file + ".lock";
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < lockWait)
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new RegistryException(RegistryErrorCodes.TrustHistoryBusy, RegistryErrorKind.Unavailable,
                    $"the history of the registry at {location} ({file}) stayed locked by another process of this home for {lockWait.TotalSeconds:0.#} s " +
                    $"({e.Message})", e);
            }
        }
    }
}

using InfraMind.Registry.Chain;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Registry;

/// <summary>A published version whose statement verified against its backend (log proofs or chain record).</summary>
/// <param name="Origin">Where it was found, for messages: <c>log entry 12</c>, <c>block 345 (0x…)</c>.</param>
/// <param name="LogIndex">The log entry, for the log backend; null on a chain.</param>
public sealed record VerifiedModelVersion(string Name, string Version, PublishStatement Statement, string Origin, long? LogIndex);

/// <summary>
/// What the mesh needs of a registry, whichever backend holds it: the versions to serve (verified, not yanked) and one
/// version's statement verified end to end. <see cref="IRegistryService"/> stays the log's own contract (entry indices,
/// inclusion proofs, the checkpoint key), which a chain does not have; both backends implement this one
/// (<see cref="LogModelSource"/>, <see cref="ChainModelSource"/>), so a catalog or a node is written once.
/// </summary>
public interface IVerifiedModelSource
{
    /// <summary>Every servable version now, in publish order; brings the source up to date first.</summary>
    Task<IReadOnlyList<VerifiedModelVersion>> GetServableAsync(CancellationToken cancellationToken);

    /// <summary>The statement of <paramref name="name"/>@<paramref name="version"/>, verified now; an <see cref="InfraMindException"/> names the failed check.</summary>
    Task<VerifiedModelVersion> GetVerifiedAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken);
}

/// <summary>The log backend as an <see cref="IVerifiedModelSource"/>: entries verified against the pinned registry key (signature, checkpoint, inclusion).</summary>
public sealed class LogModelSource(IRegistryService registry, PublicKey registryKey) : IVerifiedModelSource, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<VerifiedModelVersion> _versions = [];
    private readonly Dictionary<(string Name, string Version), int> _positions = [];
    private IReadOnlyList<VerifiedModelVersion>? _snapshot;
    private long _next;

    public void Dispose() => _gate.Dispose();

    /// <summary>Entries asked for per page.</summary>
    internal const int PageSize = 100;

    /// <summary>
    /// Most pages read in one call (100,000 entries): a log larger than that is caught up over several calls, and a
    /// registry that keeps listing cannot hold the caller (and the catalog's refresh behind it) for good.
    /// </summary>
    internal const int MaxPagesPerCall = 1000;

    /// <summary>
    /// Reads the entries logged since the last call (each verified once, when first read); answers the very same list
    /// as the last call when there were none. The registry's list is its word: its entries must run on, one by one,
    /// from the next one this source has not read (else IM5132, nothing skipped), and an entry is passed only once it
    /// verified (signature, checkpoint, inclusion); one that does not is the failed check's error, and is read again at
    /// the next call. An honest registry's entries all verify; so neither a registry's answers nor anyone answering for
    /// it can move this source past an entry of the log it has not read.
    /// </summary>
    public async Task<IReadOnlyList<VerifiedModelVersion>> GetServableAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var page = 0; page < MaxPagesPerCall; page++)
            {
                var (_, entries) = await registry.ListEntriesAsync(_next, PageSize, cancellationToken).ConfigureAwait(false);
                if (entries.Count == 0) break;
                if (entries.Count > PageSize)
                    throw new RegistryException(RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable,
                        $"the registry listed {entries.Count} entries where at most {PageSize} were asked for");

                foreach (var entry in entries)
                {
                    if (entry.Index != _next)
                        throw new RegistryException(RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable,
                            $"the registry listed entry {entry.Index} where entry {_next} was next: a log's entries run on one by one");
                    var bundle = await registry.GetEntryAsync(entry.Index, cancellationToken).ConfigureAwait(false);
                    var report = EntryVerifier.Verify(bundle, registryKey);
                    if (bundle.Index != entry.Index)
                        throw new RegistryException(RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable,
                            $"the registry answered entry {bundle.Index} when asked for entry {entry.Index}; it is asked again at the next poll");
                    if (report.Checks.FirstOrDefault(c => !c.Passed) is { } failed)
                        throw new RegistryException(failed.Code ?? RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable,
                            $"log entry {entry.Index} does not verify: {failed.Name}: {failed.Reason.TrimEnd('.')}; it is read again at the next poll, and later entries wait for it");

                    if (report.Statement is { } statement)
                    {
                        var version = new VerifiedModelVersion(statement.ModelName, statement.Version, statement, $"log entry {entry.Index}", entry.Index);
                        // A registry logs a version once; should one log it again, the later entry stands in the earlier's
                        // place. Found by key, not by a walk of the list: reading a log of N entries costs O(N), not O(N²).
                        if (_positions.TryGetValue((version.Name, version.Version), out var at))
                        {
                            _versions[at] = version;
                        }
                        else
                        {
                            _positions[(version.Name, version.Version)] = _versions.Count;
                            _versions.Add(version);
                        }

                        _snapshot = null;
                    }

                    _next = entry.Index + 1;
                }
            }

            // The same list while the log did not grow: a reader can tell "nothing new" without comparing.
            return _snapshot ??= [.. _versions];
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<VerifiedModelVersion> GetVerifiedAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken)
    {
        var bundle = await registry.GetModelVersionAsync(name, version, cancellationToken).ConfigureAwait(false);
        var report = EntryVerifier.Verify(bundle, registryKey, expected);
        var failed = report.Checks.FirstOrDefault(c => !c.Passed);
        if (failed is not null || report.Statement is null)
        {
            failed ??= report.Checks[0];
            // A check's own code, as a failure of a check whatever kind it is declared with, keeping its hint.
            var code = failed.Code ?? RegistryErrorCodes.StatementDigestMismatch;
            throw new InfraMindException(new ErrorCode(code.Value, FailureKind.CheckFailed, code.DefaultHint),
                $"{name}@{version} (log entry {bundle.Index}) does not verify: {failed.Name}: {failed.Reason}");
        }

        return new VerifiedModelVersion(name, version, report.Statement, $"log entry {bundle.Index}", bundle.Index);
    }
}

/// <summary>
/// The chain backend as an <see cref="IVerifiedModelSource"/>: the follower's servable versions, and
/// <see cref="ChainModelRegistry.VerifyAsync"/>. Without a follower (a node, which verifies each assignment against the
/// chain and lists nothing) it answers single versions only.
/// </summary>
public sealed class ChainModelSource(ChainModelRegistry registry, ChainIndexer? indexer) : IVerifiedModelSource
{
    /// <summary>Syncs the follower once, then answers its servable versions (statement verified, not yanked).</summary>
    public async Task<IReadOnlyList<VerifiedModelVersion>> GetServableAsync(CancellationToken cancellationToken)
    {
        if (indexer is null)
        {
            throw new InvalidOperationException("this chain source has no follower: open it with a ChainIndexer to list servable versions.");
        }

        await indexer.SyncAsync(cancellationToken).ConfigureAwait(false);
        return [.. indexer.Servable.Select(v => new VerifiedModelVersion(v.Record.Name, v.Record.Version, v.Statement!, Origin(v.Record), null))];
    }

    /// <summary>Verifies against the chain now; a yanked version is refused with <see cref="ChainErrorCodes.Yanked"/>.</summary>
    public async Task<VerifiedModelVersion> GetVerifiedAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken)
    {
        var result = await registry.VerifyAsync(name, version, expected, cancellationToken).ConfigureAwait(false);
        var failed = result.Checks.FirstOrDefault(c => !c.Passed);
        if (failed is not null || result.Statement is null)
        {
            failed ??= result.Checks[0];
            var code = failed.Code ?? ChainErrorCodes.StatementMismatch;
            throw new ChainException(code, $"{name}@{version} in {registry.Address} does not verify: {failed.Name}: {failed.Reason}");
        }

        return new VerifiedModelVersion(name, version, result.Statement, Origin(result.Record!), null);
    }

    private static string Origin(ChainVersionRecord record) => $"block {record.BlockNumber} (transaction {record.TransactionHash})";
}

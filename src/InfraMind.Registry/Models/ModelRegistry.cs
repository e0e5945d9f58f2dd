using System.Collections.Concurrent;
using System.Security.Cryptography;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Log;
using InfraMind.Registry.Merkle;
using InfraMind.Signing;
using Semver;

namespace InfraMind.Registry.Models;

/// <summary>
/// The model registry: verifies signed publish statements, enforces name ownership (first key wins) and version
/// immutability, appends accepted envelopes to the transparency log and answers with proofs.
/// Data directory layout: <c>log.sqlite</c> (the log and the name/version index, committed together),
/// <c>keys/registry.key</c> (checkpoint signing key, generated on first start).
/// </summary>
public sealed class ModelRegistry : IAsyncDisposable
{
    public const string LatestAlias = "latest";
    private readonly ITransparencyLedger _ledger;
    private readonly RegistryIndex _index;
    private readonly PublicKey _publicKey;
    private readonly SigningKey? _ownedKey;
    private readonly IPublishAdmission? _admission;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _nameGates = new(StringComparer.Ordinal);

    private ModelRegistry(ITransparencyLedger ledger, RegistryIndex index, PublicKey publicKey, SigningKey? ownedKey, IPublishAdmission? admission)
    {
        _ledger = ledger;
        _index = index;
        _publicKey = publicKey;
        _ownedKey = ownedKey;
        _admission = admission;
    }

    /// <summary>The key that signs checkpoints; verifiers pin it (<c>infra registry key</c>).</summary>
    public PublicKey PublicKey => _publicKey;

    public string Origin => Checkpoint.OriginFor(_publicKey);

    public static async Task<ModelRegistry> OpenAsync(string dataDirectory, TimeProvider time, IPublishAdmission? admission, SqliteLogOptions? logOptions, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        var key = new KeyStore(Path.Combine(dataDirectory, "keys")).LoadOrGenerate("registry");
        ITransparencyLedger? ledger = null;
        RegistryIndex? index = null;
        var file = Path.Combine(dataDirectory, "log.sqlite");
        try
        {
            ledger = await TransparencyLog.OpenSqliteAsync(file, key, time, logOptions, cancellationToken).ConfigureAwait(false);
            index = RegistryIndex.Open(file);
            var registry = new ModelRegistry(ledger, index, key.PublicKey, key, admission);
            await registry.CatchUpIndexAsync(cancellationToken).ConfigureAwait(false);
            return registry;
        }
        catch (Exception e)
        {
            index?.Dispose();
            if (ledger is not null)
            {
                await ledger.DisposeAsync().ConfigureAwait(false);
            }

            key.Dispose();
            if (RegistryException.FromDamagedFile(e, file) is { } damaged) throw damaged;
            throw;
        }
    }

    /// <summary>
    /// A registry over any ledger (an on-chain one later). <paramref name="registryKey"/> is the key the ledger signs
    /// checkpoints with; the name/version index lives in the SQLite file <paramref name="indexDatabasePath"/> and is
    /// caught up from the ledger on open. The registry takes ownership of <paramref name="ledger"/>.
    /// </summary>
    public static async Task<ModelRegistry> OpenAsync(ITransparencyLedger ledger, PublicKey registryKey, string indexDatabasePath, IPublishAdmission? admission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(registryKey);
        var index = RegistryIndex.Open(indexDatabasePath);
        var registry = new ModelRegistry(ledger, index, registryKey, null, admission);
        try
        {
            await registry.CatchUpIndexAsync(cancellationToken).ConfigureAwait(false);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Indexes log entries committed after the index's last row (a crash between the two commits).</summary>
    private async Task CatchUpIndexAsync(CancellationToken cancellationToken)
    {
        var next = _index.MaxIndex() + 1;
        var size = await _ledger.GetSizeAsync(cancellationToken).ConfigureAwait(false);
        while (next < size)
        {
            foreach (var e in await _ledger.GetEntriesAsync(next, 512, cancellationToken).ConfigureAwait(false))
            {
                var entry = ToRegistryEntry(e);
                _index.Record(e.Index, entry.Statement, StatementSha256(entry.Envelope), SemVersion.Parse(entry.Statement.Version, SemVersionStyles.Strict));
                next = e.Index + 1;
            }
        }
    }

    /// <summary>Signatures a publish envelope may carry; InfraMind signs once. Checked before any is verified.</summary>
    public const int MaxSignatures = 4;

    /// <summary>
    /// The cheap, local part of a publish: at most <see cref="MaxSignatures"/> signatures, the DSSE signature over the
    /// statement, a SemVer version. The candidate's envelope keeps only the signature that verified: that is what the
    /// log stores. Errors: signature/statement problems keep their IM50xx code (BadRequest),
    /// <see cref="RegistryErrorCodes.TooManySignatures"/>, <see cref="RegistryErrorCodes.InvalidVersion"/>.
    /// </summary>
    public static PublishCandidate Verify(DsseEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (envelope.Signatures.Count > MaxSignatures)
        {
            throw new RegistryException(RegistryErrorCodes.TooManySignatures, RegistryErrorKind.BadRequest,
                $"the envelope carries {envelope.Signatures.Count} signatures; a publish may carry at most {MaxSignatures} (InfraMind signs once, with the publisher's key).");
        }

        var verification = Dsse.VerifyPublish(envelope);
        if (!verification.IsValid || verification.Statement is not { } statement || verification.Signature is not { } signature)
        {
            throw new RegistryException(verification.ErrorCode ?? RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, verification.Reason);
        }

        if (!SemVersion.TryParse(statement.Version, SemVersionStyles.Strict, out var version))
        {
            throw new RegistryException(RegistryErrorCodes.InvalidVersion, RegistryErrorKind.BadRequest, $"version '{statement.Version}' of {statement.ModelName} is not SemVer 2.0 (e.g. 1.2.3 or 1.2.3-rc.1); fix 'version' in model.yaml.");
        }

        return new PublishCandidate(envelope with { Signatures = [signature] }, statement, version);
    }

    /// <summary>Verifies (<see cref="Verify"/>) and logs a publish (<see cref="PublishAsync(PublishCandidate, CancellationToken)"/>).</summary>
    public Task<PublishResult> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => PublishAsync(Verify(envelope), cancellationToken);

    /// <summary>
    /// Logs a verified publish, deciding in this order, each step only after the one before passed: ownership of the
    /// name (<see cref="RegistryErrorCodes.NotOwner"/>, Forbidden) and immutability of the version
    /// (<see cref="RegistryErrorCodes.VersionConflict"/>, Conflict; the same statement again answers the existing entry),
    /// then the admission checks (<see cref="RegistryErrorCodes.AdmissionRejected"/> and the admission codes,
    /// Unprocessable) — cheap manifest checks, then the fetch of the content. So a publish by a non-owner, or of a
    /// version that exists, never makes the registry fetch anything. What admission fetched is kept only once the
    /// entry is logged.
    /// </summary>
    public async Task<PublishResult> PublishAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var (envelope, statement, version) = candidate;
        var statementSha = StatementSha256(envelope);
        if (await DecideAsync(statement, version, statementSha, cancellationToken).ConfigureAwait(false) is { } decided)
        {
            return decided;
        }

        IAdmittedContent? admittedContent = null;
        try
        {
            if (_admission is not null)
            {
                using var span = RegistryTracing.Source.StartActivity("admission");
                span?.SetTag("inframind.role", "registry");
                span?.SetTag("inframind.model", $"{statement.ModelName}@{version}");
                var admitted = await _admission.AdmitAsync(candidate, cancellationToken).ConfigureAwait(false);
                admittedContent = admitted.Content;
                span?.SetTag("inframind.admission", admitted.Accepted ? "accepted" : (admitted.Code ?? RegistryErrorCodes.AdmissionRejected).Value);
                if (!admitted.Accepted)
                {
                    throw new RegistryException(admitted.Code ?? RegistryErrorCodes.AdmissionRejected, RegistryErrorKind.Unprocessable, admitted.Reason ?? "rejected by an admission check.");
                }
            }

            var gate = _nameGates.GetOrAdd(statement.ModelName, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            PublishResult result;
            try
            {
                // Decided again under the name's gate: another publish of this name may have been logged meanwhile.
                if (await DecideAsync(statement, version, statementSha, cancellationToken).ConfigureAwait(false) is { } raced)
                {
                    return raced;
                }

                // Not cancellable past this point: once logged, the entry must be indexed.
                LedgerEntry logged;
                if (_ledger is SqliteTransparencyLog sqlite)
                {
                    logged = await sqlite.AppendAsync(envelope.ToCanonicalJson(), (c, tx, i) => RegistryIndex.Record(c, tx, i, statement, statementSha, version), CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    logged = await _ledger.AppendAsync(envelope.ToCanonicalJson(), CancellationToken.None).ConfigureAwait(false);
                    _index.Record(logged.Index, statement, statementSha, version);
                }

                result = new PublishResult(new RegistryEntry(logged.Index, envelope, statement, logged.LeafHash, logged.IntegratedAt), AlreadyPublished: false);
            }
            finally
            {
                gate.Release();
            }

            await KeepAsync(admittedContent).ConfigureAwait(false);
            return result;
        }
        finally
        {
            if (admittedContent is not null) await admittedContent.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ownership and immutability: throws when another key owns the name or the version exists with other content;
    /// answers the existing entry when this statement, or one of the same version, image and manifest by the same key,
    /// was logged before; null when the publish may go on.
    /// </summary>
    private async Task<PublishResult?> DecideAsync(PublishStatement statement, SemVersion version, string statementSha, CancellationToken cancellationToken)
    {
        // Read before the index, so that every row under it is committed: what a publish still completing wrote is
        // decided again under the name's gate, which that publish holds until the log counts its entry.
        var size = await _ledger.GetSizeAsync(cancellationToken).ConfigureAwait(false);
        var owner = _index.Owner(statement.ModelName, size);
        if (owner is { } o && o.Fingerprint != statement.Publisher.Fingerprint)
        {
            throw new RegistryException(RegistryErrorCodes.NotOwner, RegistryErrorKind.Forbidden, $"model '{statement.ModelName}' is owned by key {o.Fingerprint}; this publish is signed by {statement.Publisher.Fingerprint}. Sign with the owner's key or choose another model name.");
        }

        if (_index.SamePrecedence(statement.ModelName, version, size) is not var (existing, existingSha))
        {
            return null;
        }

        // The very statement, or the same content signed again later by the same key (the owner was checked above): a
        // publish retried a second later or re-run by a script is the version that exists, not a conflict.
        if (existingSha == statementSha
            || (existing.Version == statement.Version && existing.ImageDigest == statement.ImageDigest && existing.ManifestDigest == statement.ManifestDigest))
        {
            var same = await GetEntryAsync(existing.Index, cancellationToken).ConfigureAwait(false);
            return new PublishResult(same!, AlreadyPublished: true);
        }

        throw new RegistryException(RegistryErrorCodes.VersionConflict, RegistryErrorKind.Conflict, $"{statement.ModelName}@{existing.Version} is already published (log entry {existing.Index}, image {existing.ImageDigest}, manifest {existing.ManifestDigest}); versions are immutable. Bump 'version' in model.yaml and publish again.");
    }

    /// <summary>Keeps what admission fetched. The entry is logged already: failing to keep a cached copy must not fail the publish.</summary>
    private static async Task KeepAsync(IAdmittedContent? content)
    {
        if (content is null) return;
        try
        {
            await content.KeepAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InfraMindException or IOException or UnauthorizedAccessException)
        {
            // The copy is only a cache for this host's nodes; they fetch from the references when it is missing.
        }
    }

    public async Task<RegistryEntry?> GetEntryAsync(long index, CancellationToken cancellationToken)
    {
        var e = await _ledger.GetEntryAsync(index, cancellationToken).ConfigureAwait(false);
        return e is null ? null : ToRegistryEntry(e);
    }

    /// <summary>Entries in log order from <paramref name="start"/> (for <c>infra log</c>).</summary>
    public async Task<IReadOnlyList<RegistryEntry>> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken)
    {
        var entries = await _ledger.GetEntriesAsync(start, limit, cancellationToken).ConfigureAwait(false);
        return entries.Select(ToRegistryEntry).ToList();
    }

    /// <summary>Entry, inclusion proof and the signed checkpoint it leads to.</summary>
    public async Task<EntryBundle?> GetEntryBundleAsync(long index, CancellationToken cancellationToken)
    {
        var entry = await GetEntryAsync(index, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return null;
        }

        var checkpoint = await _ledger.GetCheckpointAsync(cancellationToken).ConfigureAwait(false);
        var proof = await _ledger.GetInclusionProofAsync(index, checkpoint.Checkpoint.Size, cancellationToken).ConfigureAwait(false);
        return new EntryBundle(entry.Index, entry.IntegratedAt, entry.Envelope, proof, checkpoint.Note);
    }

    /// <summary>
    /// All versions of <paramref name="name"/> whose entries the log holds (not one a publish is still completing), or
    /// null when nobody published it.
    /// </summary>
    public async Task<ModelVersions?> ListVersionsAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        // Read before the index: a version whose row committed but whose entry the log does not count yet stays out.
        var size = await _ledger.GetSizeAsync(cancellationToken).ConfigureAwait(false);
        var owner = _index.Owner(name, size);
        if (owner is null)
        {
            return null;
        }

        var versions = _index.Versions(name, size).Select(v => v.Version).ToList();
        var latest = versions.LastOrDefault(v => !v.IsPrerelease)?.Version;
        return new ModelVersions(name, owner.Value.Fingerprint, owner.Value.EndpointId, latest, versions);
    }

    /// <summary>The bundle for <paramref name="name"/>@<paramref name="version"/>; <c>latest</c> is the highest release version.</summary>
    public async Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(version);
        // A malformed version is the asker's mistake whether or not the name exists: 400 before any lookup.
        SemVersion? wanted = null;
        if (version != LatestAlias && !SemVersion.TryParse(version, SemVersionStyles.Strict, out wanted))
        {
            throw new RegistryException(RegistryErrorCodes.InvalidVersion, RegistryErrorKind.BadRequest, $"'{version}' is not a SemVer 2.0 version or 'latest'.");
        }

        var versions = await ListVersionsAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, $"model '{name}' is not published; check the name or publish it with 'infra publish'.");
        var match = wanted is null
            ? versions.Versions.LastOrDefault(v => !v.IsPrerelease)
                ?? throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, $"model '{name}' has only prerelease versions ({string.Join(", ", versions.Versions.Select(v => v.Version))}); ask for one explicitly.")
            : versions.Versions.FirstOrDefault(v => SemVersion.Parse(v.Version, SemVersionStyles.Strict).ComparePrecedenceTo(wanted) == 0)
                ?? throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, $"{name}@{version} is not published; published versions: {string.Join(", ", versions.Versions.Select(v => v.Version))}.");

        return await GetEntryBundleAsync(match.Index, cancellationToken).ConfigureAwait(false)
            ?? throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"index points at log entry {match.Index}, which the log does not have.");
    }

    public Task<SignedCheckpoint> GetCheckpointAsync(CancellationToken cancellationToken) => _ledger.GetCheckpointAsync(cancellationToken);

    public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken) =>
        _ledger.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);

    public Task<long> GetSizeAsync(CancellationToken cancellationToken) => _ledger.GetSizeAsync(cancellationToken);

    private static string StatementSha256(DsseEnvelope envelope) => Convert.ToHexStringLower(SHA256.HashData(envelope.Payload.Span));

    private static RegistryEntry ToRegistryEntry(LedgerEntry e)
    {
        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.Parse(e.Data.Span);
        }
        catch (SigningException ex)
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"log entry {e.Index} is not a DSSE envelope: {ex.Message}", ex);
        }

        // Logged entries verified when they were accepted; re-verifying guards against a log edited on disk.
        var verification = Dsse.VerifyPublish(envelope);
        if (!verification.IsValid)
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"log entry {e.Index} no longer verifies: {verification.ErrorCode}: {verification.Reason}");
        }

        return new RegistryEntry(e.Index, envelope, verification.Statement!, e.LeafHash, e.IntegratedAt);
    }

    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync().ConfigureAwait(false);
        _index.Dispose();
        _ownedKey?.Dispose();
        foreach (var gate in _nameGates.Values)
        {
            gate.Dispose();
        }
    }
}

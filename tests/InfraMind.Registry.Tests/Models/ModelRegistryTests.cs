using System.Text;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Registry.Tests.Models;

public sealed class ModelRegistryTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    internal static DsseEnvelope Envelope(SigningKey key, string name, string version, char image = 'a', string yaml = "name: x\n") =>
        Dsse.SignPublish(
            PublishStatement.Create(
                name,
                version,
                "sha256:" + new string(image, 64),
                Encoding.UTF8.GetBytes(yaml),
                [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)],
                key.PublicKey,
                Time),
            key);

    private static Task<ModelRegistry> Open(string dir, IPublishAdmission? admission = null) =>
        ModelRegistry.OpenAsync(dir, Time, admission, null, CancellationToken.None);

    [Fact]
    public async Task The_same_content_signed_again_later_by_its_owner_is_already_published_other_content_conflicts()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        var first = await registry.PublishAsync(Envelope(alice, "again", "1.0.0"), CancellationToken.None);

        // `infra publish` re-run a few seconds later: a new statement (its time, its signature), the same version,
        // image and manifest.
        var later = new FakeTimeProvider(Time.GetUtcNow().AddSeconds(5));
        var resigned = Dsse.SignPublish(PublishStatement.Create("again", "1.0.0", "sha256:" + new string('a', 64), Encoding.UTF8.GetBytes("name: x\n"),
            [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)], alice.PublicKey, later), alice);
        Assert.NotEqual(Envelope(alice, "again", "1.0.0").Payload.ToArray(), resigned.Payload.ToArray());
        var again = await registry.PublishAsync(resigned, CancellationToken.None);
        Assert.True(again.AlreadyPublished);
        Assert.Equal(first.Entry.Index, again.Entry.Index);
        Assert.Equal(1, (await registry.GetCheckpointAsync(CancellationToken.None)).Checkpoint.Size);

        var other = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "again", "1.0.0", image: 'b'), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.VersionConflict, other.Code);

        // The same image with another model.yaml is other content too (its input and output schemas, its resources):
        // "already published" would answer the first entry while the publisher believes the new model.yaml is logged.
        var otherYaml = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "again", "1.0.0", yaml: "name: y\n"), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.VersionConflict, otherYaml.Code);
        Assert.Equal(1, (await registry.GetCheckpointAsync(CancellationToken.None)).Checkpoint.Size);
    }

    [Fact]
    public async Task Published_entry_verifies_offline()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        var envelope = Envelope(alice, "summarizer-v1", "0.4.2", yaml: "name: summarizer-v1\n");
        var result = await registry.PublishAsync(envelope, CancellationToken.None);
        Assert.False(result.AlreadyPublished);
        Assert.Equal(0, result.Entry.Index);

        var bundle = await registry.GetModelVersionAsync("summarizer-v1", "0.4.2", CancellationToken.None);
        var parsed = EntryBundle.Parse(bundle.ToJson());
        var report = EntryVerifier.Verify(parsed, registry.PublicKey, new ExpectedPublish("summarizer-v1", "0.4.2", PublishStatement.DigestOf("name: summarizer-v1\n"u8), "sha256:" + new string('a', 64), alice.PublicKey));
        Assert.True(report.AllPassed, string.Join("; ", report.Checks.Select(c => $"{c.Name}: {c.Reason}")));
        Assert.Equal(["signature", "statement", "checkpoint", "inclusion"], report.Checks.Select(c => c.Name));

        Assert.True(File.Exists(Path.Combine(dir.Path, "keys", "registry.key")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir.Path, "keys", "registry.key")));
        }
    }

    [Fact]
    public async Task Second_key_cannot_publish_an_owned_name()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        using var mallory = SigningKey.CreateEphemeral("mallory");
        await using var registry = await Open(dir.Path);
        await registry.PublishAsync(Envelope(alice, "summarizer", "1.0.0"), CancellationToken.None);

        var ex = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(mallory, "summarizer", "1.0.1"), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.NotOwner, ex.Code);
        Assert.Equal(RegistryErrorKind.Forbidden, ex.Category);
        Assert.Contains(alice.PublicKey.Fingerprint, ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, await registry.GetSizeAsync(CancellationToken.None));

        // The owner keeps publishing; another name is free for anyone.
        await registry.PublishAsync(Envelope(alice, "summarizer", "1.0.1"), CancellationToken.None);
        await registry.PublishAsync(Envelope(mallory, "translator", "1.0.0"), CancellationToken.None);
    }

    [Fact]
    public async Task Versions_are_immutable_and_republish_is_idempotent()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        var first = Envelope(alice, "summarizer", "1.0.0", 'a');
        var published = await registry.PublishAsync(first, CancellationToken.None);

        // Same statement, new (randomized) ECDSA signature: idempotent, same entry.
        var again = Dsse.SignPublish(PublishStatement.FromStatement(InTotoStatement.Parse(first.Payload.Span)), alice);
        Assert.NotEqual(first.Signatures[0].Sig.ToArray(), again.Signatures[0].Sig.ToArray());
        var repeat = await registry.PublishAsync(again, CancellationToken.None);
        Assert.True(repeat.AlreadyPublished);
        Assert.Equal(published.Entry.Index, repeat.Entry.Index);

        var ex = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "summarizer", "1.0.0", 'b'), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.VersionConflict, ex.Code);
        Assert.Equal(RegistryErrorKind.Conflict, ex.Category);

        // Build metadata does not make a new version (SemVer precedence ignores it).
        var meta = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "summarizer", "1.0.0+build.7", 'c'), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.VersionConflict, meta.Code);
        Assert.Equal(1, await registry.GetSizeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Latest_is_the_highest_release_by_semver()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        await registry.PublishAsync(Envelope(alice, "m", "2.0.0-rc.1"), CancellationToken.None);
        var onlyPre = await Assert.ThrowsAsync<RegistryException>(() => registry.GetModelVersionAsync("m", "latest", CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.NotFound, onlyPre.Code);

        foreach (var v in new[] { "1.10.0", "1.2.0", "1.9.9", "3.0.0-alpha", "2.0.0-rc.2" })
        {
            await registry.PublishAsync(Envelope(alice, "m", v), CancellationToken.None);
        }

        var versions = await registry.ListVersionsAsync("m", CancellationToken.None);
        Assert.Equal(["1.2.0", "1.9.9", "1.10.0", "2.0.0-rc.1", "2.0.0-rc.2", "3.0.0-alpha"], versions!.Versions.Select(v => v.Version));
        Assert.Equal("1.10.0", versions.Latest);
        Assert.Equal(alice.PublicKey.Fingerprint, versions.OwnerFingerprint);
        Assert.Equal(PublishStatement.DeriveEndpointId("m"), versions.EndpointId);

        await registry.PublishAsync(Envelope(alice, "m", "2.0.0"), CancellationToken.None);
        var latest = await registry.GetModelVersionAsync("m", "latest", CancellationToken.None);
        Assert.Equal("2.0.0", PublishStatement.FromStatement(InTotoStatement.Parse(latest.Envelope.Payload.Span)).Version);

        Assert.Null(await registry.ListVersionsAsync("nope", CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.NotFound, (await Assert.ThrowsAsync<RegistryException>(() => registry.GetModelVersionAsync("m", "9.9.9", CancellationToken.None))).Code);
        Assert.Equal(RegistryErrorCodes.InvalidVersion, (await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "m", "v1"), CancellationToken.None))).Code);
    }

    [Fact]
    public async Task Tampered_bundles_fail_the_right_check()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        for (var i = 0; i < 5; i++)
        {
            await registry.PublishAsync(Envelope(alice, "m", $"1.0.{i}"), CancellationToken.None);
        }

        var bundle = await registry.GetModelVersionAsync("m", "1.0.2", CancellationToken.None);
        Assert.True(EntryVerifier.Verify(bundle, registry.PublicKey).AllPassed);

        // Statement byte flipped: signature fails, and the envelope is no longer the logged leaf.
        var payload = bundle.Envelope.Payload.ToArray();
        var at = Encoding.UTF8.GetString(payload).IndexOf("1.0.2", StringComparison.Ordinal);
        payload[at + 4] = (byte)'9';
        var report = EntryVerifier.Verify(bundle with { Envelope = bundle.Envelope with { Payload = payload } }, registry.PublicKey);
        Assert.Equal(SigningErrorCodes.SignatureMismatch, Check(report, "signature").Code);
        Assert.Equal(RegistryErrorCodes.InclusionProofInvalid, Check(report, "inclusion").Code);
        Assert.True(Check(report, "checkpoint").Passed);

        // Signature byte flipped.
        var sig = bundle.Envelope.Signatures[0].Sig.ToArray();
        sig[10] ^= 0x01;
        report = EntryVerifier.Verify(bundle with { Envelope = bundle.Envelope with { Signatures = [bundle.Envelope.Signatures[0] with { Sig = sig }] } }, registry.PublicKey);
        Assert.Equal(SigningErrorCodes.SignatureMismatch, Check(report, "signature").Code);

        // Checkpoint with a different root: its signature breaks.
        var lines = bundle.Checkpoint.Split('\n');
        lines[2] = Convert.ToBase64String(new byte[32]);
        report = EntryVerifier.Verify(bundle with { Checkpoint = string.Join('\n', lines) }, registry.PublicKey);
        Assert.Equal(RegistryErrorCodes.CheckpointSignature, Check(report, "checkpoint").Code);
        Assert.False(Check(report, "inclusion").Passed);
        Assert.True(Check(report, "signature").Passed);

        // A proof hash flipped.
        var hashes = bundle.InclusionProof.Hashes.Select(h => h.ToArray()).ToList();
        hashes[0][0] ^= 0x01;
        report = EntryVerifier.Verify(bundle with { InclusionProof = bundle.InclusionProof with { Hashes = hashes.Select(h => (ReadOnlyMemory<byte>)h).ToList() } }, registry.PublicKey);
        Assert.Equal(RegistryErrorCodes.InclusionProofInvalid, Check(report, "inclusion").Code);

        // Another registry's key.
        using var stranger = SigningKey.CreateEphemeral();
        Assert.Equal(RegistryErrorCodes.CheckpointKeyUnknown, Check(EntryVerifier.Verify(bundle, stranger.PublicKey), "checkpoint").Code);

        // Expected digest of a local model.yaml that differs.
        report = EntryVerifier.Verify(bundle, registry.PublicKey, new ExpectedPublish(ManifestDigest: PublishStatement.DigestOf("other"u8)));
        Assert.Equal(RegistryErrorCodes.StatementDigestMismatch, Check(report, "statement").Code);

        // A node's assignment names the image it must run: a logged, validly signed entry for another image, name or
        // version is not a proof of the assignment (each comparison alone decides: the other fields match).
        var statement = report.Statement!;
        foreach (var (what, expected) in new[]
                 {
                     ("image", new ExpectedPublish(statement.ModelName, statement.Version, ImageDigest: "sha256:" + new string('f', 64))),
                     ("name", new ExpectedPublish("other-model", statement.Version, ImageDigest: statement.ImageDigest)),
                     ("version", new ExpectedPublish(statement.ModelName, "9.9.9", ImageDigest: statement.ImageDigest)),
                 })
        {
            var mismatch = Check(EntryVerifier.Verify(bundle, registry.PublicKey, expected), "statement");
            Assert.False(mismatch.Passed, what);
            Assert.Equal(RegistryErrorCodes.StatementDigestMismatch, mismatch.Code);
        }

        Assert.True(Check(EntryVerifier.Verify(bundle, registry.PublicKey, new ExpectedPublish(statement.ModelName, statement.Version, ImageDigest: statement.ImageDigest)), "statement").Passed);
    }

    [Fact]
    public async Task Entry_edited_in_the_log_file_is_refused()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using (var registry = await Open(dir.Path))
        {
            await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
            await registry.PublishAsync(Envelope(alice, "m", "1.0.1"), CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir.Path, "log.sqlite")};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "UPDATE log_leaves SET data = CAST(replace(CAST(data AS TEXT), 'payloadType', 'payloadTypE') AS BLOB) WHERE idx = 1";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }

        await using (var registry = await Open(dir.Path))
        {
            Assert.NotNull(await registry.GetEntryAsync(0, CancellationToken.None));
            var ex = await Assert.ThrowsAsync<RegistryException>(() => registry.GetModelVersionAsync("m", "1.0.1", CancellationToken.None));
            Assert.Equal(RegistryErrorCodes.LeafMismatch, ex.Code);
        }
    }

    [Fact]
    public async Task Index_is_rebuilt_from_the_log()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        using var bob = SigningKey.CreateEphemeral("bob");
        string checkpointBefore;
        await using (var registry = await Open(dir.Path))
        {
            await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
            await registry.PublishAsync(Envelope(alice, "m", "1.1.0"), CancellationToken.None);
            checkpointBefore = (await registry.GetCheckpointAsync(CancellationToken.None)).Note;
        }

        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir.Path, "log.sqlite")};Pooling=False"))
        {
            connection.Open();
            using var cmd = connection.CreateCommand();
            cmd.CommandText = "DROP TABLE versions; DROP TABLE models;";
            cmd.ExecuteNonQuery();
        }

        await using (var registry = await Open(dir.Path))
        {
            var versions = await registry.ListVersionsAsync("m", CancellationToken.None);
            Assert.Equal(["1.0.0", "1.1.0"], versions!.Versions.Select(v => v.Version));
            Assert.Equal(RegistryErrorCodes.NotOwner, (await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(bob, "m", "2.0.0"), CancellationToken.None))).Code);
            Assert.Equal(checkpointBefore, (await registry.GetCheckpointAsync(CancellationToken.None)).Note);

            var entries = await registry.ListEntriesAsync(0, 100, CancellationToken.None);
            Assert.Equal([0L, 1L], entries.Select(e => e.Index));
            Assert.Equal("1.1.0", entries[1].Statement.Version);
        }
    }

    [Fact]
    public async Task Admission_hook_can_reject_before_anything_is_logged()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path, new RejectPrereleases());
        var ex = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "m", "1.0.0-beta"), CancellationToken.None));
        Assert.Equal("IM5999", ex.Code);
        Assert.Equal(RegistryErrorKind.Unprocessable, ex.Category);
        Assert.Equal(0, await registry.GetSizeAsync(CancellationToken.None));
        await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
    }

    [Fact]
    public async Task Invalid_envelopes_keep_their_signing_code()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        var envelope = Envelope(alice, "m", "1.0.0");
        var ex = await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(envelope with { PayloadType = "application/json" }, CancellationToken.None));
        Assert.Equal(SigningErrorCodes.WrongPayloadType, ex.Code);
        Assert.Equal(RegistryErrorKind.BadRequest, ex.Category);
    }

    [Fact]
    public async Task Consistency_between_checkpoints_verifies()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(dir.Path);
        await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
        await registry.PublishAsync(Envelope(alice, "m", "1.0.1"), CancellationToken.None);
        await registry.PublishAsync(Envelope(alice, "m", "1.0.2"), CancellationToken.None);
        var a = await registry.GetCheckpointAsync(CancellationToken.None);
        for (var i = 3; i < 11; i++)
        {
            await registry.PublishAsync(Envelope(alice, "m", $"1.0.{i}"), CancellationToken.None);
        }

        var b = await registry.GetCheckpointAsync(CancellationToken.None);
        var proof = await registry.GetConsistencyProofAsync(a.Checkpoint.Size, b.Checkpoint.Size, CancellationToken.None);
        Assert.Null(MerkleProofs.VerifyConsistency(3, 11, a.Checkpoint.RootHash.Span, b.Checkpoint.RootHash.Span, proof.Hashes));
    }

    [Fact]
    public async Task Killed_registry_keeps_every_acknowledged_publish_and_an_index_matching_its_log()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        InfraMind.Registry.Checkpoints.SignedCheckpoint before;
        await using (var registry = await Open(dir.Path))
        {
            await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
            before = await registry.GetCheckpointAsync(CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        var acked = await CrashHost.RunAndKillAsync(1000, "registry", dir.Path);

        await using (var registry = await Open(dir.Path))
        {
            var size = await registry.GetSizeAsync(CancellationToken.None);
            foreach (var group in acked.GroupBy(a => a[0]))
            {
                var versions = await registry.ListVersionsAsync(group.Key, CancellationToken.None);
                var indexed = versions!.Versions.ToDictionary(v => v.Version, v => v.Index);
                foreach (var a in group)
                {
                    Assert.Equal(long.Parse(a[2], System.Globalization.CultureInfo.InvariantCulture), indexed[a[1]]);
                }
            }

            // Every logged entry is indexed exactly once: the index rows committed with their leaves.
            var entries = await registry.ListEntriesAsync(0, (int)size, CancellationToken.None);
            Assert.Equal(size, entries.Count);
            var indexedTotal = 0;
            foreach (var name in entries.Select(e => e.Statement.ModelName).Distinct())
            {
                indexedTotal += (await registry.ListVersionsAsync(name, CancellationToken.None))!.Versions.Count;
            }

            Assert.Equal(size, indexedTotal);

            var after = await registry.GetCheckpointAsync(CancellationToken.None);
            var proof = await registry.GetConsistencyProofAsync(before.Checkpoint.Size, after.Checkpoint.Size, CancellationToken.None);
            Assert.Null(MerkleProofs.VerifyConsistency(before.Checkpoint.Size, after.Checkpoint.Size, before.Checkpoint.RootHash.Span, after.Checkpoint.RootHash.Span, proof.Hashes));
            var last = acked[^1];
            Assert.True(EntryVerifier.Verify(await registry.GetModelVersionAsync(last[0], last[1], CancellationToken.None), registry.PublicKey).AllPassed);
        }
    }

    [Fact]
    public async Task Any_ledger_works_behind_the_registry()
    {
        using var dir = new TempDirectory("im-reg");
        using var alice = SigningKey.CreateEphemeral("alice");
        using var logKey = SigningKey.CreateEphemeral("log");
        var sqlite = await InfraMind.Registry.Log.TransparencyLog.OpenSqliteAsync(dir.Combine("other-ledger.sqlite"), logKey, Time, null, CancellationToken.None);
        await using (var registry = await ModelRegistry.OpenAsync(new ForeignLedger(sqlite), logKey.PublicKey, dir.Combine("index.sqlite"), null, CancellationToken.None))
        {
            await registry.PublishAsync(Envelope(alice, "m", "1.0.0"), CancellationToken.None);
            await registry.PublishAsync(Envelope(alice, "m", "1.1.0"), CancellationToken.None);
            Assert.Equal(RegistryErrorCodes.VersionConflict, (await Assert.ThrowsAsync<RegistryException>(() => registry.PublishAsync(Envelope(alice, "m", "1.1.0", 'b'), CancellationToken.None))).Code);
            var bundle = await registry.GetModelVersionAsync("m", "latest", CancellationToken.None);
            Assert.True(EntryVerifier.Verify(bundle, logKey.PublicKey).AllPassed);
        }

        // A fresh index catches up from the ledger alone.
        SqliteConnection.ClearAllPools();
        File.Delete(dir.Combine("index.sqlite"));
        var reopened = await InfraMind.Registry.Log.TransparencyLog.OpenSqliteAsync(dir.Combine("other-ledger.sqlite"), logKey, Time, null, CancellationToken.None);
        await using (var registry = await ModelRegistry.OpenAsync(new ForeignLedger(reopened), logKey.PublicKey, dir.Combine("index.sqlite"), null, CancellationToken.None))
        {
            Assert.Equal("1.1.0", (await registry.ListVersionsAsync("m", CancellationToken.None))!.Latest);
        }
    }

    /// <summary>Hides the SQLite type so the registry takes the path a non-SQLite (on-chain) ledger would.</summary>
    private sealed class ForeignLedger(InfraMind.Registry.Log.ITransparencyLedger inner) : InfraMind.Registry.Log.ITransparencyLedger
    {
        public Task<InfraMind.Registry.Log.LedgerEntry> AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => inner.AppendAsync(data, cancellationToken);

        public Task<InfraMind.Registry.Log.LedgerEntry?> GetEntryAsync(long index, CancellationToken cancellationToken) => inner.GetEntryAsync(index, cancellationToken);

        public Task<IReadOnlyList<InfraMind.Registry.Log.LedgerEntry>> GetEntriesAsync(long start, int limit, CancellationToken cancellationToken) => inner.GetEntriesAsync(start, limit, cancellationToken);

        public Task<long> GetSizeAsync(CancellationToken cancellationToken) => inner.GetSizeAsync(cancellationToken);

        public Task<ReadOnlyMemory<byte>> GetRootAsync(long size, CancellationToken cancellationToken) => inner.GetRootAsync(size, cancellationToken);

        public Task<InclusionProof> GetInclusionProofAsync(long index, long treeSize, CancellationToken cancellationToken) => inner.GetInclusionProofAsync(index, treeSize, cancellationToken);

        public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken) => inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);

        public Task<InfraMind.Registry.Checkpoints.SignedCheckpoint> GetCheckpointAsync(CancellationToken cancellationToken) => inner.GetCheckpointAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private static VerificationCheck Check(VerificationReport report, string name) => report.Checks.Single(c => c.Name == name);

    private sealed class RejectPrereleases : IPublishAdmission
    {
        public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken) =>
            Task.FromResult(candidate.Version.IsPrerelease ? AdmissionResult.Reject(new ErrorCode("IM5999", FailureKind.CheckFailed), "no prereleases here") : AdmissionResult.Accept);
    }
}

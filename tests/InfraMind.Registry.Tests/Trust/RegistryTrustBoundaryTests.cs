using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Registry.Trust;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Trust;

/// <summary>
/// What RegistryTrustTests left unproven (scripts/mutation.sh proofs: making a same-size checkpoint always a split
/// view, or asking for a consistency proof the wrong way round, passed every test): the honest cases a split-view
/// check must let through (another process seeing the same checkpoint, a lagging mirror's older one), a registry
/// lying about its proof, where the pin and the history are kept, and the folder of an odd location.
/// </summary>
public sealed class RegistryTrustBoundaryTests : IDisposable
{
    private const string Location = "http://127.0.0.1:7400/";
    private readonly TempDirectory _dir = new("im-trust-edges");

    public void Dispose() => _dir.Dispose();

    private static CancellationToken None => CancellationToken.None;

    private static string HistoryFile(RegistryTrust trust, PublicKey key) =>
        Path.Combine(trust.FolderOf(Location), "checkpoint-" + key.Fingerprint["sha256:".Length..][..16]);

    [Fact]
    public void A_folder_is_readable_one_level_down_and_never_this_directory_or_its_parent()
    {
        var trust = new RegistryTrust(_dir.Combine("trust"));
        Assert.Equal(Path.Combine(trust.Directory, "http_127.0.0.1_7400"), trust.FolderOf(Location));
        Assert.Equal(Path.Combine(trust.Directory, "https_127.0.0.1_7443_team_registry"), trust.FolderOf("https://127.0.0.1:7443/team/registry/"));
        Assert.NotEqual(trust.FolderOf(Location), trust.FolderOf("http://127.0.0.1:7401/"));
        // Characters a path gives a meaning to become '_'.
        Assert.Equal(Path.Combine(trust.Directory, ".._.._etc"), trust.FolderOf("../../etc"));
        Assert.Equal(Path.Combine(trust.Directory, "a_b_c"), trust.FolderOf("a/b\\c"));
        // Up to 100 characters a name is kept as it is; one more and it is hashed (below).
        Assert.Equal(Path.Combine(trust.Directory, "a"), trust.FolderOf("a"));
        Assert.Equal(Path.Combine(trust.Directory, new string('a', 100)), trust.FolderOf(new string('a', 100)));
        // No name that could be a folder here: the location's hash, one level down, one per location.
        var hashed = new[] { "", ".", "..", "...", new string('a', 101), Location + new string('p', 100) }.Select(trust.FolderOf).ToList();
        Assert.All(hashed, folder =>
        {
            Assert.Equal(trust.Directory, Path.GetDirectoryName(folder));
            Assert.Matches("^[0-9a-f]{32}$", Path.GetFileName(folder));
        });
        Assert.Equal(hashed.Count, hashed.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void The_refusal_names_the_pin_file_and_removing_it_accepts_the_new_key()
    {
        var trust = new RegistryTrust(_dir.Combine("trust"));
        using var first = SigningKey.CreateEphemeral("first");
        using var second = SigningKey.CreateEphemeral("second");
        trust.Pin(Location, first.PublicKey);
        var file = Path.Combine(trust.FolderOf(Location), "key.pem");
        Assert.Equal(first.PublicKey, PublicKey.FromPemFile(file));

        var e = Assert.Throws<RegistryException>(() => trust.Pin(Location, second.PublicKey));
        Assert.Contains($"({file})", e.Message, StringComparison.Ordinal);
        // The hint of IM5150 (docs/errors.md): once the new key is confirmed, remove the pin.
        File.Delete(file);
        Assert.Equal(second.PublicKey, trust.Pin(Location, second.PublicKey));
        Assert.Equal(second.PublicKey, PublicKey.FromPemFile(file));
        Assert.Empty(Directory.GetFiles(trust.Directory, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task The_same_checkpoint_again_and_a_lagging_mirrors_older_one_are_consistent()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await ModelRegistry.OpenAsync(_dir.Combine("registry"), TimeProvider.System, null, null, None);
        var local = new LocalRegistryService(registry);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), None);
        var older = await local.GetCheckpointAsync(None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.2.0"), None);

        var trust = new RegistryTrust(_dir.Combine("trust"));
        var key = registry.PublicKey;
        var current = await trust.Watch(local, Location, key).GetCheckpointAsync(None);
        var file = HistoryFile(trust, key);
        Assert.Equal(current, await File.ReadAllTextAsync(file));

        // Another process of this home, the registry unchanged: the same size with the same root.
        Assert.Equal(current, await trust.Watch(local, Location, key).GetCheckpointAsync(None));
        // A mirror that lags behind: its older checkpoint is proven a prefix of the one kept, which stays the newer.
        Assert.Equal(older, await trust.Watch(new Answering(local) { Checkpoint = older }, Location, key).GetCheckpointAsync(None));
        Assert.Equal(current, await File.ReadAllTextAsync(file));

        // A publish through a watch moves the history to the checkpoint its answer carries.
        var published = await trust.Watch(local, Location, key).PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.3.0"), None);
        Assert.Equal(published.Bundle.Checkpoint, await File.ReadAllTextAsync(file));
        Assert.Contains("\n4\n", published.Bundle.Checkpoint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proof_for_other_sizes_or_none_is_a_split_view_and_a_registry_that_is_down_is_not()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await ModelRegistry.OpenAsync(_dir.Combine("registry"), TimeProvider.System, null, null, None);
        var local = new LocalRegistryService(registry);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), None);
        var older = await local.GetCheckpointAsync(None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.2.0"), None);
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var key = registry.PublicKey;
        await trust.Watch(local, Location, key).GetCheckpointAsync(None);

        // The right hashes (the proof of 2 → 3) labelled as another proof: only the label is wrong, and it counts.
        var relabelled = new Answering(local) { Checkpoint = older, Proof = p => p with { FromSize = 1 } };
        var e = await Assert.ThrowsAsync<RegistryException>(() => trust.Watch(relabelled, Location, key).GetCheckpointAsync(None));
        Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
        Assert.Contains("the registry answered a proof for other sizes", e.Message, StringComparison.Ordinal);

        // No proof at all (the registry refuses): it cannot prove the prefix, and the message says what was kept and seen.
        var refusing = new Answering(local) { Checkpoint = older, Proof = _ => throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, "no such proof") };
        e = await Assert.ThrowsAsync<RegistryException>(() => trust.Watch(refusing, Location, key).GetCheckpointAsync(None));
        Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
        Assert.Contains("cannot prove that the tree of 2 entries is a prefix of the tree of 3", e.Message, StringComparison.Ordinal);
        Assert.Contains($"Seen before (kept in {HistoryFile(trust, key)}): size 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("now: size 2", e.Message, StringComparison.Ordinal);

        // A registry that cannot answer now has not shown two histories: its own error, not IM5151.
        var down = new Answering(local) { Checkpoint = older, Proof = _ => throw new RegistryException(RegistryErrorCodes.RegistryUnreachable, RegistryErrorKind.Unavailable, "connection refused") };
        e = await Assert.ThrowsAsync<RegistryException>(() => trust.Watch(down, Location, key).GetCheckpointAsync(None));
        Assert.Equal(RegistryErrorCodes.RegistryUnreachable, e.Code);
    }

    [Fact]
    public async Task Observers_of_one_home_take_turns_on_the_history_file()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await ModelRegistry.OpenAsync(_dir.Combine("registry"), TimeProvider.System, null, null, None);
        var local = new LocalRegistryService(registry);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var key = registry.PublicKey;
        var file = HistoryFile(trust, key);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);

        // Another process holds the history's lock: this one waits for it instead of reading a half-written history.
        Task<string> observing;
        await using (new FileStream(file + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            observing = trust.Watch(local, Location, key).GetCheckpointAsync(None);
            await Task.Delay(300);
            Assert.False(observing.IsCompleted);
            Assert.False(File.Exists(file));
        }

        Assert.Equal(await observing.WaitAsync(TimeSpan.FromSeconds(30)), await File.ReadAllTextAsync(file));
    }

    /// <summary>A registry as seen through a mirror or a liar: its own answers, but the checkpoint and proofs may be replaced.</summary>
    private sealed class Answering(IRegistryService inner) : IRegistryService
    {
        public string? Checkpoint { get; init; }

        public Func<ConsistencyProof, ConsistencyProof>? Proof { get; init; }

        public Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => inner.PublishAsync(envelope, cancellationToken);

        public Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) => inner.GetModelVersionAsync(name, version, cancellationToken);

        public Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) => inner.GetEntryAsync(index, cancellationToken);

        public Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken) =>
            inner.ListEntriesAsync(start, limit, cancellationToken);

        public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => inner.GetKeyAsync(cancellationToken);

        public async Task<string> GetCheckpointAsync(CancellationToken cancellationToken) => Checkpoint ?? await inner.GetCheckpointAsync(cancellationToken);

        public async Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken)
        {
            var proof = await inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);
            return Proof is null ? proof : Proof(proof);
        }
    }
}

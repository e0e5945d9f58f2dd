using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Registry.Trust;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Trust;

/// <summary>
/// Trust on first use and split views (#13 §10), against real registries over SQLite: the registry key is pinned the
/// first time, another key later names both; every checkpoint must extend the last one seen (kept on disk), so a
/// forked or rolled-back log is caught, while the honest cases (another process seeing the same checkpoint, a lagging
/// mirror's older one) pass; where the pin and the history are kept, and the folder of an odd location.
/// </summary>
public sealed class RegistryTrustTests : IDisposable
{
    private const string Location = "http://127.0.0.1:7400/";
    private readonly TempDirectory _dir = new("im-trust");

    public void Dispose() => _dir.Dispose();

    private static Task<ModelRegistry> Open(string dir) => ModelRegistry.OpenAsync(dir, TimeProvider.System, null, null, CancellationToken.None);

    private static void Copy(string from, string to)
    {
        TempDirectory.Copy(from, to);
        foreach (var lockFile in Directory.GetFiles(to, "*.lock", SearchOption.AllDirectories)) File.Delete(lockFile);
    }

    [Fact]
    public void The_key_is_pinned_on_first_use_and_another_key_later_names_both()
    {
        var trust = new RegistryTrust(_dir.Combine("trust"));
        using var first = SigningKey.CreateEphemeral("first");
        using var second = SigningKey.CreateEphemeral("second");
        Assert.Equal(first.PublicKey, trust.Pin(Location, first.PublicKey));
        Assert.Equal(first.PublicKey, trust.Pin(Location, first.PublicKey));
        var e = Assert.Throws<RegistryException>(() => trust.Pin(Location, second.PublicKey));
        Assert.Equal(RegistryErrorCodes.RegistryKeyChanged, e.Code);
        Assert.Contains(first.PublicKey.Fingerprint, e.Message, StringComparison.Ordinal);
        Assert.Contains(second.PublicKey.Fingerprint, e.Message, StringComparison.Ordinal);
        // Another registry (another address) has its own pin.
        Assert.Equal(second.PublicKey, trust.Pin("http://127.0.0.1:7401/", second.PublicKey));
    }

    [Fact]
    public async Task A_growing_log_is_followed_and_a_forked_or_rolled_back_one_is_a_split_view()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var honest = _dir.Combine("honest");
        await using (var registry = await Open(honest))
        {
            await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), CancellationToken.None);
            await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), CancellationToken.None);
        }

        var fork = _dir.Combine("fork");
        var rolledBack = _dir.Combine("rolled-back");
        Copy(honest, fork);
        Copy(honest, rolledBack);

        PublicKey key;
        await using (var registry = await Open(honest))
        {
            key = registry.PublicKey;
            var watched = trust.Watch(new LocalRegistryService(registry), Location, key);
            Assert.Equal(2, EntryBundle.Parse((await watched.GetEntryAsync(0, CancellationToken.None)).ToJson()).InclusionProof.TreeSize);
            await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.2.0"), CancellationToken.None);
            // A larger tree that extends the one seen: proven consistent, remembered.
            await watched.GetEntryAsync(2, CancellationToken.None);
        }

        // The same registry key serving another third entry: two roots for size 3.
        await using (var registry = await Open(fork))
        {
            await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.2.0", image: 'f'), CancellationToken.None);
            var watched = trust.Watch(new LocalRegistryService(registry), Location, key);
            var e = await Assert.ThrowsAsync<RegistryException>(() => watched.GetEntryAsync(0, CancellationToken.None));
            Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
            Assert.Contains("size 3", e.Message, StringComparison.Ordinal);
        }

        // The log shown as it was before the third entry: it cannot prove it extends to what was seen.
        await using (var registry = await Open(rolledBack))
        {
            var watched = trust.Watch(new LocalRegistryService(registry), Location, key);
            var e = await Assert.ThrowsAsync<RegistryException>(() => watched.GetModelVersionAsync("m", "1.0.0", CancellationToken.None));
            Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
        }

        // A fresh process (a new watch over the same trust directory) still holds the history.
        await using (var registry = await Open(fork))
        {
            var e = await Assert.ThrowsAsync<RegistryException>(() => trust.Watch(new LocalRegistryService(registry), Location, key).GetCheckpointAsync(CancellationToken.None));
            Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
        }
    }

    private static CancellationToken None => CancellationToken.None;

    private static string HistoryFile(RegistryTrust trust, PublicKey key) =>
        Path.Combine(trust.FolderOf(Location), "checkpoint-" + key.Fingerprint["sha256:".Length..][..16]);

    /// <summary>
    /// A registry of three entries seen once through a watch (its checkpoint, <c>Current</c>, kept as the history), and
    /// the checkpoint it signed at two (<c>Older</c>: what a lagging mirror still serves).
    /// </summary>
    private async Task<(ModelRegistry Registry, LocalRegistryService Local, string Older, string Current, RegistryTrust Trust, PublicKey Key)> ThreeEntriesSeenAsync(SigningKey publisher)
    {
        var registry = await Open(_dir.Combine("registry"));
        var local = new LocalRegistryService(registry);
        await registry.PublishAsync(ModelRegistryTests.Envelope(publisher, "m", "1.0.0"), None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(publisher, "m", "1.1.0"), None);
        var older = await local.GetCheckpointAsync(None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(publisher, "m", "1.2.0"), None);
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var current = await trust.Watch(local, Location, registry.PublicKey).GetCheckpointAsync(None);
        return (registry, local, older, current, trust, registry.PublicKey);
    }

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
        var (registry, local, older, current, trust, key) = await ThreeEntriesSeenAsync(alice);
        await using var opened = registry;
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
        var (registry, local, older, _, trust, key) = await ThreeEntriesSeenAsync(alice);
        await using var opened = registry;

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
        await using var registry = await Open(_dir.Combine("registry"));
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

    [Fact]
    public async Task A_slow_proof_holds_no_lock_and_a_history_advanced_meanwhile_is_checked_again()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var honestDir = _dir.Combine("honest");
        var forkDir = _dir.Combine("fork");
        PublicKey key;
        await using (var registry = await Open(honestDir))
        {
            key = registry.PublicKey;
            await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
            await trust.Watch(new LocalRegistryService(registry), Location, key).GetCheckpointAsync(None);
        }

        Copy(honestDir, forkDir);
        var file = HistoryFile(trust, key);
        await using var honest = await Open(honestDir);
        await using var fork = await Open(forkDir);
        await honest.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), None);
        await fork.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0", image: 'f'), None);
        await fork.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.2.0", image: 'f'), None);

        // One observer sees the honest tree of 2 and waits for its proof of 1 → 2 (a slow registry) ...
        var proofAsked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new Answering(new LocalRegistryService(honest)) { BeforeProof = async number =>
        {
            if (number == 1)
            {
                proofAsked.SetResult();
                await answer.Task;
            }
        } };
        var observing = trust.Watch(slow, Location, key).GetCheckpointAsync(None);
        await proofAsked.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // ... without holding the history: another process takes its lock at once, and advances it to the fork's tree of 3
        // (consistent with the tree of 1 both share).
        await using (new FileStream(file + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
        }

        var forkNote = await trust.Watch(new LocalRegistryService(fork), Location, key).GetCheckpointAsync(None);
        Assert.Equal(forkNote, await File.ReadAllTextAsync(file));

        // The first observer's proof arrives: the history it checked against is gone, so it checks against the fork's,
        // which its registry cannot extend: a split view, and the history is not rolled back to the tree of 2.
        answer.SetResult();
        var e = await Assert.ThrowsAsync<RegistryException>(() => observing.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(RegistryErrorCodes.SplitView, e.Code);
        Assert.Contains("now: size 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(forkNote, await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task A_history_that_keeps_moving_is_checked_under_the_lock_after_three_rounds()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(_dir.Combine("registry"));
        var local = new LocalRegistryService(registry);
        var trust = new RegistryTrust(_dir.Combine("trust"));
        var key = registry.PublicKey;
        var file = HistoryFile(trust, key);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
        await trust.Watch(local, Location, key).GetCheckpointAsync(None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), None);
        var two = await local.GetCheckpointAsync(None);

        // While this observer waits for each proof, another process sees the registry grow and advances the history; for
        // the fourth proof the history's lock is this observer's own.
        bool? lockedAtFourth = null;
        var moving = new Answering(local)
        {
            Checkpoint = two,
            BeforeProof = async number =>
            {
                if (number <= CheckpointWatch.OptimisticRounds)
                {
                    await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", $"1.{number + 1}.0"), None);
                    await trust.Watch(local, Location, key).GetCheckpointAsync(None);
                    return;
                }

                try
                {
                    await using (new FileStream(file + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
                    {
                        lockedAtFourth = false;
                    }
                }
                catch (IOException)
                {
                    lockedAtFourth = true;
                }
            },
        };

        Assert.Equal(two, await trust.Watch(moving, Location, key).GetCheckpointAsync(None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(lockedAtFourth);
        // The history stays the newest checkpoint seen (5 entries), proven to extend the tree of 2 this observer saw.
        Assert.Contains("\n5\n", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_history_locked_longer_than_the_wait_is_a_coded_error_naming_the_file()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await Open(_dir.Combine("registry"));
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), None);
        var trust = new RegistryTrust(_dir.Combine("trust")) { LockWait = TimeSpan.FromMilliseconds(300) };
        var file = HistoryFile(trust, registry.PublicKey);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);

        await using (new FileStream(file + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var e = await Assert.ThrowsAsync<RegistryException>(() => trust.Watch(new LocalRegistryService(registry), Location, registry.PublicKey).GetCheckpointAsync(None));
            Assert.Equal(RegistryErrorCodes.TrustHistoryBusy, e.Code);
            Assert.Contains(file, e.Message, StringComparison.Ordinal);
            Assert.Contains("for 0.3 s", e.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(file));
        }

        // Released, the next observer records the checkpoint.
        var note = await trust.Watch(new LocalRegistryService(registry), Location, registry.PublicKey).GetCheckpointAsync(None);
        Assert.Equal(note, await File.ReadAllTextAsync(file));
    }

    /// <summary>A registry as seen through a mirror or a liar: its own answers, but the checkpoint and proofs may be replaced.</summary>
    private sealed class Answering(IRegistryService inner) : IRegistryService
    {
        public string? Checkpoint { get; init; }

        public Func<ConsistencyProof, ConsistencyProof>? Proof { get; init; }

        /// <summary>Awaited before each consistency proof is asked of the registry, with its number from 1 (a slow answer).</summary>
        public Func<int, Task>? BeforeProof { get; init; }

        private int _proofs;

        public Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => inner.PublishAsync(envelope, cancellationToken);

        public Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) => inner.GetModelVersionAsync(name, version, cancellationToken);

        public Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) => inner.GetEntryAsync(index, cancellationToken);

        public Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken) =>
            inner.ListEntriesAsync(start, limit, cancellationToken);

        public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => inner.GetKeyAsync(cancellationToken);

        public async Task<string> GetCheckpointAsync(CancellationToken cancellationToken) => Checkpoint ?? await inner.GetCheckpointAsync(cancellationToken);

        public async Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken)
        {
            var number = Interlocked.Increment(ref _proofs);
            if (BeforeProof is not null)
            {
                await BeforeProof(number);
            }

            var proof = await inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);
            return Proof is null ? proof : Proof(proof);
        }
    }
}

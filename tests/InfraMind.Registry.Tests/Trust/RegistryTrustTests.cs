using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Registry.Trust;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Trust;

/// <summary>
/// Trust on first use and split views (#13 §10), against real registries over SQLite: the registry key is pinned the
/// first time, another key later names both; every checkpoint must extend the last one seen (kept on disk), so a
/// forked or rolled-back log is caught.
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
}

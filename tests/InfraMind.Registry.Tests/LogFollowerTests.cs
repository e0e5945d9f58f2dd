using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Chain;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests;

/// <summary>
/// What a gateway's log follower (<see cref="LogModelSource"/>) takes from a registry's listing, which is the registry's
/// word (or that of anyone answering for it on a plaintext link): entries that do not run on from the next one are
/// IM5132 with nothing skipped, and an entry is passed only once it verifies. Found by an audit: one
/// listed index of 10^12 left the follower waiting past the log's end for good (no later publish was seen), and one
/// below the next made it loop without end. A real log behind a registry that lies only in what the test says.
/// </summary>
public sealed class LogFollowerTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly SigningKey _publisher = SigningKey.CreateEphemeral("publisher", KeyType.Secp256k1);
    private ModelRegistry? _log;
    private Lying? _registry;

    public async Task InitializeAsync()
    {
        _log = await ModelRegistry.OpenAsync(_dir.Path, TimeProvider.System, null, null, CancellationToken.None);
        _registry = new Lying(new LocalRegistryService(_log));
        await _registry.PublishAsync(ChainTestContext.Envelope(_publisher, "first", "1.0.0"), CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_log is not null) await _log.DisposeAsync();
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(1_000_000_000_000L)]
    [InlineData(long.MaxValue)]
    [InlineData(0L)]
    public async Task A_listed_entry_out_of_turn_is_IM5132_and_the_next_publish_is_still_seen(long listed)
    {
        using var source = new LogModelSource(_registry!, _log!.PublicKey);
        Assert.Equal(["first"], (await source.GetServableAsync(CancellationToken.None)).Select(v => v.Name));

        // The next entry is 1: the registry lists another one in its place (0 again would have looped for good).
        _registry!.Listing = (start, entries) => start == 1 ? [entries.Count > 0 ? entries[0] with { Index = listed } : Summary(listed)] : entries;
        var e = await Assert.ThrowsAsync<RegistryException>(() => source.GetServableAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(RegistryErrorCodes.RegistryBadAnswer, e.Code);
        Assert.Contains($"listed entry {listed} where entry 1 was next", e.Message, StringComparison.Ordinal);

        _registry.Listing = null;
        await _registry.PublishAsync(ChainTestContext.Envelope(_publisher, "second", "1.0.0", image: 'b'), CancellationToken.None);
        Assert.Equal(["first", "second"], (await source.GetServableAsync(CancellationToken.None)).Select(v => v.Name));
    }

    [Fact]
    public async Task An_entry_is_passed_only_once_it_verifies_and_a_longer_page_is_refused()
    {
        // The log holds two entries; the follower has read none.
        await _registry!.PublishAsync(ChainTestContext.Envelope(_publisher, "second", "1.0.0", image: 'b'), CancellationToken.None);
        var zero = await _registry.GetEntryAsync(0, CancellationToken.None);
        var one = await _registry.GetEntryAsync(1, CancellationToken.None);
        using var source = new LogModelSource(_registry, _log!.PublicKey);

        // Entry 0's bundle (whose signed checkpoint covers entry 1 too) answered for entry 1: not entry 1, not passed over.
        _registry.Entry = index => index == 1 ? zero : null;
        var e = await Assert.ThrowsAsync<RegistryException>(() => source.GetServableAsync(CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.RegistryBadAnswer, e.Code);
        Assert.Contains("answered entry 0 when asked for entry 1", e.Message, StringComparison.Ordinal);

        // Entry 1 with another entry's inclusion proof: the failed check's error, and not passed over either.
        _registry.Entry = index => index == 1 ? one with { InclusionProof = zero.InclusionProof } : null;
        e = await Assert.ThrowsAsync<RegistryException>(() => source.GetServableAsync(CancellationToken.None));
        Assert.StartsWith("log entry 1 does not verify: inclusion: ", e.Message, StringComparison.Ordinal);

        // Answered as it is, entry 1 is read: the follower never moved past it.
        _registry.Entry = null;
        Assert.Equal(["first", "second"], (await source.GetServableAsync(CancellationToken.None)).Select(v => v.Name));

        // A page longer than the follower asked for is not the registry's list.
        _registry.Listing = (start, _) => [.. Enumerable.Range(0, LogModelSource.PageSize + 1).Select(i => Summary(start + i))];
        e = await Assert.ThrowsAsync<RegistryException>(() => source.GetServableAsync(CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.RegistryBadAnswer, e.Code);
    }

    private static LogEntrySummary Summary(long index) =>
        new(index, "ghost", "1.0.0", "sha256:" + new string('a', 64), "sha256:" + new string('b', 64), "ghost", "none", DateTimeOffset.UnixEpoch);

    /// <summary>The real registry, whose listing and entries a test may replace.</summary>
    private sealed class Lying(IRegistryService inner) : IRegistryService
    {
        public Func<long, IReadOnlyList<LogEntrySummary>, IReadOnlyList<LogEntrySummary>>? Listing { get; set; }

        public Func<long, EntryBundle?>? Entry { get; set; }

        public Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => inner.PublishAsync(envelope, cancellationToken);

        public Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) =>
            inner.GetModelVersionAsync(name, version, cancellationToken);

        public async Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) =>
            Entry?.Invoke(index) ?? await inner.GetEntryAsync(index, cancellationToken);

        public async Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken)
        {
            var (size, entries) = await inner.ListEntriesAsync(start, limit, cancellationToken);
            return (size, Listing?.Invoke(start, entries) ?? entries);
        }

        public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => inner.GetKeyAsync(cancellationToken);

        public Task<string> GetCheckpointAsync(CancellationToken cancellationToken) => inner.GetCheckpointAsync(cancellationToken);

        public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken) =>
            inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);
    }
}

using InfraMind.Registry.Models;
using InfraMind.Signing;
using Microsoft.Extensions.Time.Testing;
using Semver;

namespace InfraMind.Registry.Tests.Models;

/// <summary>
/// Reads while a publish completes. The name/version index commits in the log's own transaction, a moment before the
/// log counts the new leaf (its size, what readers may read and checkpoints cover); a read in between found the index
/// naming an entry the log did not have yet and answered 500 IM5123 (log corrupt): 23 of ~19,500 reads of
/// /v1/models/NAME/latest while 300 versions were published 32 at a time. Here that moment is made to last: the index
/// holds a row for the next entry, which the log has not counted.
/// </summary>
public sealed class PublishRaceTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_version_whose_entry_the_log_has_not_counted_yet_is_not_read_and_latest_is_the_one_before()
    {
        using var dir = new TempDirectory("im-reg-race");
        using var alice = SigningKey.CreateEphemeral("alice");
        await using var registry = await ModelRegistry.OpenAsync(dir.Path, Time, null, null, CancellationToken.None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), CancellationToken.None);
        await registry.PublishAsync(ModelRegistryTests.Envelope(alice, "other", "1.0.0"), CancellationToken.None);

        // The state between the commit of entry 2 (index rows included) and the log counting it.
        var next = ModelRegistry.Verify(ModelRegistryTests.Envelope(alice, "m", "1.1.0"));
        var fresh = ModelRegistry.Verify(ModelRegistryTests.Envelope(alice, "fresh", "1.0.0"));
        using (var index = RegistryIndex.Open(Path.Combine(dir.Path, "log.sqlite")))
        {
            index.Record(2, next.Statement, "0", SemVersion.Parse("1.1.0", SemVersionStyles.Strict));
            index.Record(3, fresh.Statement, "1", SemVersion.Parse("1.0.0", SemVersionStyles.Strict));
        }

        Assert.Equal(2, await registry.GetSizeAsync(CancellationToken.None));
        var latest = await registry.GetModelVersionAsync("m", "latest", CancellationToken.None);
        Assert.Equal(0, latest.Index);
        Assert.Equal(["1.0.0"], (await registry.ListVersionsAsync("m", CancellationToken.None))!.Versions.Select(v => v.Version));
        var notYet = await Assert.ThrowsAsync<RegistryException>(() => registry.GetModelVersionAsync("m", "1.1.0", CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.NotFound, notYet.Code);
        // A name whose first version is still being committed is not published yet.
        Assert.Null(await registry.ListVersionsAsync("fresh", CancellationToken.None));
    }
}

using InfraMind.Registry.Chain;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

public abstract class StatementStoreTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Statements_stored_over_http_are_fetched_and_checked_against_the_chain()
    {
        await using var nginx = await NginxPeer.StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var store = new HttpStatementStore(http, new Uri(nginx.BaseUri, "statements/"));
        await using var ctx = await ChainTestContext.CreateAsync(chain, new ChainRegistryOptions { StatementStore = store });
        var deployer = ctx.NewKey();
        var receipt = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "over-http", "1.0.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);
        Assert.StartsWith(nginx.BaseUri + "statements/", receipt.Record.Record.StatementUri, StringComparison.Ordinal);
        Assert.True((await ctx.Registry.VerifyAsync("over-http", "1.0.0", null, CancellationToken.None)).AllPassed);

        // The server answers other bytes: refused by digest. It answers 404: unavailable, named.
        var file = nginx.FilePath(new Uri(receipt.Record.Record.StatementUri).AbsolutePath);
        var original = await File.ReadAllBytesAsync(file);
        await File.WriteAllBytesAsync(file, [.. original, (byte)' ']);
        Assert.Equal(ChainErrorCodes.StatementDigestMismatch, (await ctx.Registry.VerifyAsync("over-http", "1.0.0", null, CancellationToken.None)).Checks.Single(c => !c.Passed).Code);
        File.Delete(file);
        var gone = (await ctx.Registry.VerifyAsync("over-http", "1.0.0", null, CancellationToken.None)).Checks.Single(c => !c.Passed);
        Assert.Equal(ChainErrorCodes.StatementUnavailable, gone.Code);
        Assert.Contains("HTTP 404", gone.Reason, StringComparison.Ordinal);

        // Larger than the limit: refused unread.
        await File.WriteAllBytesAsync(file, new byte[StatementFetcher.DefaultMaxBytes + 1]);
        var fetcher = new StatementFetcher([store]);
        var big = await Assert.ThrowsAsync<ChainException>(() => fetcher.FetchAsync(receipt.Record.Record.StatementUri, receipt.Record.Record.StatementDigest, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.StatementTooLarge, big.Code);

        // A URI outside the store's prefixes is never requested.
        Assert.False(store.CanFetch("http://127.0.0.1:9/statements/x.dsse.json"));
        Assert.False(store.CanFetch(nginx.BaseUri + "statements/../etc/passwd"));
        Assert.False(store.CanFetch("file:///etc/passwd"));
    }

    [Fact]
    public void Directory_store_fetches_only_its_own_files()
    {
        using var dir = new TempDirectory();
        var store = new DirectoryStatementStore(dir.Combine("s"));
        Assert.False(store.CanFetch("file:///etc/passwd"));
        Assert.False(store.CanFetch(new Uri(dir.Combine("s/../x.dsse.json")).AbsoluteUri));
        Assert.True(store.CanFetch(new Uri(dir.Combine("s/" + new string('a', 64) + ".dsse.json")).AbsoluteUri));
    }
}

[Collection(GanacheCollection.Name)]
public sealed class StatementStoreTestsOnGanache(GanacheFixture chain) : StatementStoreTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class StatementStoreTestsOnHardhat(HardhatFixture chain) : StatementStoreTests(chain);

using InfraMind.Registry.Chain;

namespace InfraMind.Registry.Tests.Chain;

public abstract class ChainIndexerTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Serves_a_publish_once_confirmed_and_resumes_after_a_restart()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        var state = ctx.Dir.Combine("index");
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "followed", "1.0.0"), deployer, payer, CancellationToken.None);

        long indexedBefore;
        using (var indexer = ChainIndexer.Open(ctx.Registry, state, new ChainIndexerOptions { Confirmations = 3 }))
        {
            var changed = 0;
            indexer.Changed += (_, _) => changed++;
            var first = await indexer.SyncAsync(CancellationToken.None);
            Assert.Empty(indexer.Versions);
            Assert.True(first.IndexedBlock < first.Head);

            await chain.Peer.MineAsync(2);
            await indexer.SyncAsync(CancellationToken.None);
            Assert.Empty(indexer.Versions);

            await chain.Peer.MineAsync(1);
            var confirmed = await indexer.SyncAsync(CancellationToken.None);
            Assert.Equal(1, confirmed.Added);
            var served = Assert.Single(indexer.Servable);
            Assert.Equal(("followed", "1.0.0"), (served.Record.Name, served.Record.Version));
            Assert.Equal(deployer.PublicKey, served.Statement!.Publisher);
            Assert.Equal(1, changed);
            Assert.Equal(deployer.PublicKey.EthereumAddress, indexer.Owners["followed"]);
            indexedBefore = indexer.IndexedBlock;
        }

        // A restart keeps what was indexed and where it stopped, before it reads anything.
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "followed", "1.1.0"), deployer, payer, CancellationToken.None);
        await chain.Peer.MineAsync(3);
        using (var reopened = ChainIndexer.Open(ctx.Registry, state, new ChainIndexerOptions { Confirmations = 3 }))
        {
            Assert.Equal(indexedBefore, reopened.IndexedBlock);
            Assert.Single(reopened.Servable);
            var resumed = await reopened.SyncAsync(CancellationToken.None);
            Assert.Equal(1, resumed.Added);
            Assert.Equal(["1.0.0", "1.1.0"], reopened.Servable.Select(v => v.Record.Version));
        }

        // State of one registry is never read as another's.
        await using var other = await ChainTestContext.CreateAsync(chain);
        var ex = Assert.Throws<ChainException>(() => ChainIndexer.Open(other.Registry, state));
        Assert.Equal(ChainErrorCodes.IndexStateInvalid, ex.Code);
    }

    [SkippableFact]
    public async Task A_reorganised_publish_disappears_and_comes_back_only_when_re_included()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        using var indexer = ChainIndexer.Open(ctx.Registry, ctx.Dir.Combine("index"));
        Assert.Equal(0, indexer.Confirmations);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "forked", "1.0.0"), deployer, payer, CancellationToken.None);
        var snapshot = await chain.Peer.SnapshotAsync();
        var envelope = ChainTestContext.Envelope(deployer, "forked", "2.0.0");
        var published = await ctx.Registry.PublishAsync(envelope, deployer, payer, CancellationToken.None);
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(["1.0.0", "2.0.0"], indexer.Servable.Select(v => v.Record.Version));

        // The block holding 2.0.0 is replaced by other blocks (and the chain grows past it): 2.0.0 disappears.
        await chain.Peer.RevertAsync(snapshot);
        await chain.Peer.MineAsync(3);
        Assert.NotEqual(published.Transaction!.BlockHash, await chain.Peer.BlockHashAsync(published.Transaction.BlockNumber));
        var reorg = await indexer.SyncAsync(CancellationToken.None);
        Assert.True(reorg.Reorganised);
        Assert.Equal(1, reorg.Removed);
        Assert.Equal(["1.0.0"], indexer.Servable.Select(v => v.Record.Version));

        // Nothing brings it back but its inclusion in the new chain.
        await chain.Peer.MineAsync(1);
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(["1.0.0"], indexer.Versions.Select(v => v.Record.Version));
        var again = await ctx.Registry.PublishAsync(envelope, deployer, payer, CancellationToken.None);
        await indexer.SyncAsync(CancellationToken.None);
        var back = Assert.Single(indexer.Servable, v => v.Record.Version == "2.0.0");
        Assert.Equal(again.Transaction!.BlockHash, back.Record.BlockHash);
    }

    [SkippableFact]
    public async Task Unverifiable_and_yanked_versions_are_indexed_but_never_servable()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        using var indexer = ChainIndexer.Open(ctx.Registry, ctx.Dir.Combine("index"));
        var lost = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "guarded", "1.0.0"), deployer, payer, CancellationToken.None);
        var statementPath = new Uri(lost.Record.Record.StatementUri).LocalPath;
        var statement = await File.ReadAllBytesAsync(statementPath);
        File.Delete(statementPath);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "guarded", "1.1.0"), deployer, payer, CancellationToken.None);
        await ctx.Registry.SendAsync(ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(deployer, "guarded", "1.2.0"), deployer, "http://127.0.0.1:9/x"), payer, "publishing", CancellationToken.None);
        await ctx.Registry.YankAsync("guarded", "1.1.0", "bad weights", deployer, payer, CancellationToken.None);

        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(3, indexer.Versions.Count);
        Assert.Empty(indexer.Servable);
        var unavailable = indexer.Versions.Single(v => v.Record.Version == "1.0.0");
        Assert.False(unavailable.Verified);
        Assert.Null(unavailable.Statement);
        Assert.Equal(ChainErrorCodes.StatementUnavailable, unavailable.ProblemCode);
        var yanked = indexer.Versions.Single(v => v.Record.Version == "1.1.0");
        Assert.True(yanked.Verified);
        Assert.True(yanked.Record.Yanked);
        Assert.Equal("bad weights", yanked.YankReason);
        Assert.False(indexer.Versions.Single(v => v.Record.Version == "1.2.0").Verified);

        // The statement becomes reachable again: the next sync retries and serves it.
        await File.WriteAllBytesAsync(statementPath, statement);
        var retried = await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(1, retried.Verified);
        Assert.Equal(["1.0.0"], indexer.Servable.Select(v => v.Record.Version));
    }

    [SkippableFact]
    public async Task A_yank_alone_in_later_blocks_makes_a_served_version_unservable_and_says_so()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        using var indexer = ChainIndexer.Open(ctx.Registry, ctx.Dir.Combine("index"));
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "served", "1.0.0"), deployer, payer, CancellationToken.None);
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(["1.0.0"], indexer.Servable.Select(v => v.Record.Version));

        var changed = 0;
        indexer.Changed += (_, _) => changed++;
        await ctx.Registry.YankAsync("served", "1.0.0", "withdrawn", deployer, payer, CancellationToken.None);
        var sync = await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(0, sync.Added);
        Assert.Empty(indexer.Servable);
        Assert.Equal("withdrawn", Assert.Single(indexer.Versions).YankReason);
        Assert.Equal(1, changed);
    }

    [SkippableFact]
    public async Task Each_statement_is_verified_once_per_process_not_again_on_every_sync_that_changed_something()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        var state = ctx.Dir.Combine("index");
        for (var i = 0; i < 3; i++) await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, $"counted{i}", "1.0.0"), deployer, payer, CancellationToken.None);
        using (var indexer = ChainIndexer.Open(ctx.Registry, state))
        {
            await indexer.SyncAsync(CancellationToken.None);
            Assert.Equal(3, indexer.Servable.Count);
            Assert.Equal(3, indexer.Verifications);

            // One more version, and a yank: each sync changed something, and only the new statement is verified (every
            // stored one was verified again on each, before: 3 + 3, then + 1 + 4, then + 4).
            await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "counted3", "1.0.0"), deployer, payer, CancellationToken.None);
            await indexer.SyncAsync(CancellationToken.None);
            Assert.Equal(4, indexer.Servable.Count);
            Assert.Equal(4, indexer.Verifications);
            await ctx.Registry.YankAsync("counted0", "1.0.0", "withdrawn", deployer, payer, CancellationToken.None);
            await indexer.SyncAsync(CancellationToken.None);
            Assert.Equal(["counted1", "counted2", "counted3"], indexer.Servable.Select(v => v.Record.Name));
            Assert.Equal(4, indexer.Verifications);
        }

        // What the state holds is verified again when a process first reads it back: nothing on disk is trusted unchecked.
        using var reopened = ChainIndexer.Open(ctx.Registry, state);
        Assert.Equal(4, reopened.Verifications);
        Assert.Equal(3, reopened.Servable.Count);
    }

    [SkippableFact]
    public async Task A_yank_reason_of_any_text_up_to_the_contracts_limit_is_indexed_as_written_and_one_byte_more_is_refused()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        using var indexer = ChainIndexer.Open(ctx.Registry, ctx.Dir.Combine("index"));
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "odd", "1.0.0"), deployer, payer, CancellationToken.None);

        // The contract checks the reason's length only (256 bytes): control characters and any script pass, and are
        // indexed as the events carry them (escaping is for whoever prints them).
        const string head = "\u001b[31m\u2713 bad\r\nweights ";
        var reason = head + new string('r', 256 - System.Text.Encoding.UTF8.GetByteCount(head));
        var tooLong = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.YankAsync("odd", "1.0.0", reason + "r", deployer, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InvalidField, tooLong.Code);
        Assert.Contains("reason", tooLong.Message, StringComparison.Ordinal);

        await ctx.Registry.YankAsync("odd", "1.0.0", reason, deployer, payer, CancellationToken.None);
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(reason, Assert.Single(indexer.Versions).YankReason);
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainIndexerTestsOnGanache(GanacheFixture chain) : ChainIndexerTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainIndexerTestsOnHardhat(HardhatFixture chain) : ChainIndexerTests(chain);

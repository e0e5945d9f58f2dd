using System.Globalization;
using System.Numerics;
using InfraMind.Registry.Chain;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

public abstract class ChainRaceTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Two_publishers_racing_for_a_name_exactly_one_wins()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var alice = ctx.NewKey("alice");
        var bob = ctx.NewKey("bob");
        // Both transactions wait in the pool and land in one block: the client's checks pass for both, the contract decides.
        await chain.Peer.SetMiningAsync(false);
        Task<ChainPublishReceipt> a, b;
        try
        {
            a = ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "contested", "1.0.0"), alice, ctx.KeyPayer(6), CancellationToken.None);
            b = ctx.Registry.PublishAsync(ChainTestContext.Envelope(bob, "contested", "1.0.0", 'b'), bob, ctx.KeyPayer(7), CancellationToken.None);
            for (var i = 0; i < 200 && await chain.Peer.PendingCountAsync() < 2; i++)
            {
                await Task.Delay(20);
            }
        }
        finally
        {
            await chain.Peer.SetMiningAsync(true);
        }

        var results = await Task.WhenAll(Outcome(a), Outcome(b));
        var winner = Assert.Single(results, r => r.Receipt is not null);
        var loser = Assert.Single(results, r => r.Error is not null);
        Assert.True(loser.Error!.Code == ChainErrorCodes.NameOwnedByAnotherKey, loser.Error.Message);
        // ganache estimates against the mined state, so the loser's transaction is mined and reverts (decoded by replaying
        // it: "… (transaction 0x…, block N)"); Hardhat estimates against the pending block and refuses it before sending.
        Assert.Contains("name owned by another key", loser.Error.Message, StringComparison.Ordinal);
        if (chain.Kind == DevChainKind.Ganache)
        {
            Assert.Contains("(transaction 0x", loser.Error.Message, StringComparison.Ordinal);
        }
        var owner = (await ctx.Registry.GetOwnerAsync("contested", CancellationToken.None)).Owner;
        Assert.Equal(winner.Receipt!.Record.Publisher, owner);
        Assert.True((await ctx.Registry.VerifyAsync("contested", "1.0.0", null, CancellationToken.None)).AllPassed);
    }

    [SkippableFact]
    public async Task Concurrent_publishes_from_one_payer_all_land_without_a_stuck_nonce_even_after_another_sender_took_one()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(8);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "busy", "0.9.0"), deployer, payer, CancellationToken.None);
        // Another sender (as another process would) takes the nonce this payer holds next: its first send is refused and re-read.
        await chain.Peer.CallAsync("eth_sendTransaction", new { from = chain.Peer.Accounts[8], to = chain.Peer.Accounts[9], value = "0x1" });
        var start = await NonceAsync("latest");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Outcome(ctx.Registry.PublishAsync(
            ChainTestContext.Envelope(deployer, "busy", string.Create(CultureInfo.InvariantCulture, $"1.0.{i}")), deployer, payer, CancellationToken.None))));

        Assert.All(results, r => Assert.Null(r.Error));
        Assert.Equal(start + 8, await NonceAsync("latest"));
        Assert.Equal(await NonceAsync("latest"), await NonceAsync("pending"));
        for (var i = 0; i < 8; i++)
        {
            Assert.NotNull(await ctx.Registry.GetVersionAsync("busy", string.Create(CultureInfo.InvariantCulture, $"1.0.{i}"), CancellationToken.None));
        }

        // And the payer goes on sending afterwards.
        Assert.False((await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "busy", "2.0.0"), deployer, payer, CancellationToken.None)).AlreadyPublished);
    }

    private async Task<BigInteger> NonceAsync(string block) =>
        BigInteger.Parse("0" + (await chain.Peer.CallAsync("eth_getTransactionCount", chain.Peer.Accounts[8], block))!.GetValue<string>()[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static async Task<(ChainPublishReceipt? Receipt, ChainException? Error)> Outcome(Task<ChainPublishReceipt> publish)
    {
        try
        {
            return (await publish, null);
        }
        catch (ChainException ex)
        {
            return (null, ex);
        }
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainRaceTestsOnGanache(GanacheFixture chain) : ChainRaceTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainRaceTestsOnHardhat(HardhatFixture chain) : ChainRaceTests(chain);

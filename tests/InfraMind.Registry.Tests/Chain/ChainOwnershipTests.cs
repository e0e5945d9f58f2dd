using InfraMind.Registry.Chain;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

public abstract class ChainOwnershipTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Relayed_publish_belongs_to_the_signing_key_not_the_payer()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var receipt = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "relayed", "1.0.0"), deployer, ctx.UnlockedPayer(2), CancellationToken.None);

        var tx = await chain.Peer.CallAsync("eth_getTransactionByHash", receipt.Transaction!.Hash);
        Assert.Equal(chain.Peer.Accounts[2].ToLowerInvariant(), tx!["from"]!.GetValue<string>().ToLowerInvariant());
        Assert.Equal(deployer.PublicKey.EthereumAddress, receipt.Record.Publisher);
        Assert.Equal(deployer.PublicKey.EthereumAddress, (await ctx.Registry.GetOwnerAsync("relayed", CancellationToken.None)).Owner);
        // The payer pays; the deployer key holds no ether and never needs any.
        Assert.Equal("0x0", (await chain.Peer.CallAsync("eth_getBalance", deployer.PublicKey.EthereumAddress!, "latest"))!.GetValue<string>());

        // A second version paid by someone else entirely is still the same owner's.
        var v2 = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "relayed", "1.1.0"), deployer, ctx.KeyPayer(3), CancellationToken.None);
        Assert.Equal(deployer.PublicKey.EthereumAddress, v2.Record.Publisher);
        Assert.True((await ctx.Registry.VerifyAsync("relayed", "1.1.0", null, CancellationToken.None)).AllPassed);
    }

    [SkippableFact]
    public async Task Second_key_gets_the_owner_error_from_the_client_and_from_the_contract()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var alice = ctx.NewKey("alice");
        var mallory = ctx.NewKey("mallory");
        var payer = ctx.KeyPayer(1);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "owned", "1.0.0"), alice, payer, CancellationToken.None);

        var pre = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(ChainTestContext.Envelope(mallory, "owned", "2.0.0"), mallory, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.NameOwnedByAnotherKey, pre.Code);
        Assert.Equal(FailureKind.CheckFailed, pre.Kind);
        Assert.Contains("name owned by another key", pre.Message, StringComparison.Ordinal);
        Assert.Contains(alice.PublicKey.EthereumAddress!, pre.Message, StringComparison.Ordinal);

        // The contract decides the same when the client's check is skipped: the revert comes back decoded.
        var call = ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(mallory, "owned", "2.0.0"), mallory, "file:///nowhere");
        var onChain = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(call, payer, "publishing owned@2.0.0", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.NameOwnedByAnotherKey, onChain.Code);
        Assert.Equal("NameOwnedByAnotherKey", onChain.Revert!.Error);
        Assert.Contains($"'owned' belongs to {alice.PublicKey.EthereumAddress}", onChain.Message, StringComparison.Ordinal);
        Assert.Contains($"signed by {mallory.PublicKey.EthereumAddress}", onChain.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Versions_are_immutable()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var alice = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        var first = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "stable", "1.0.0", 'a'), alice, payer, CancellationToken.None);

        var other = ChainTestContext.Envelope(alice, "stable", "1.0.0", 'b');
        var pre = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(other, alice, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.VersionExists, pre.Code);
        Assert.Contains("version exists", pre.Message, StringComparison.Ordinal);

        var onChain = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(ChainCalls.Publish(ctx.Registry, other, alice, "file:///x"), payer, "publishing", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.VersionExists, onChain.Code);
        Assert.Contains("stable@1.0.0 is published already", onChain.Message, StringComparison.Ordinal);

        var kept = await ctx.Registry.GetVersionAsync("stable", "1.0.0", CancellationToken.None);
        Assert.Equal(first.Record, kept);
    }

    [SkippableFact]
    public async Task Owner_transfers_the_name_and_yanks_a_version_which_stays_on_record()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var alice = ctx.NewKey("alice");
        var bob = ctx.NewKey("bob");
        var payer = ctx.KeyPayer(1);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "handover", "1.0.0"), alice, payer, CancellationToken.None);

        // Only the owner transfers; the event names both keys.
        var stolen = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.TransferAsync("handover", bob.PublicKey.EthereumAddress!, bob, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.NameOwnedByAnotherKey, stolen.Code);
        var transfer = await ctx.Registry.TransferAsync("handover", bob.PublicKey.EthereumAddress!, alice, payer, CancellationToken.None);
        var events = await ctx.Registry.GetEventsAsync(transfer.BlockNumber, transfer.BlockNumber, CancellationToken.None);
        var moved = Assert.IsType<ChainEvent.Transferred>(Assert.Single(events));
        Assert.Equal((alice.PublicKey.EthereumAddress, bob.PublicKey.EthereumAddress), (moved.From, moved.To));
        Assert.Equal((bob.PublicKey.EthereumAddress, 1), ((await ctx.Registry.GetOwnerAsync("handover", CancellationToken.None)).Owner, (int)(await ctx.Registry.GetOwnerAsync("handover", CancellationToken.None)).Nonce));

        // The old owner can no longer publish; the new one can.
        Assert.Equal(ChainErrorCodes.NameOwnedByAnotherKey, (await Assert.ThrowsAsync<ChainException>(() =>
            ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "handover", "1.1.0"), alice, payer, CancellationToken.None))).Code);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(bob, "handover", "1.1.0"), bob, payer, CancellationToken.None);

        // Yank: only by the current owner; a flag and an event; the record stays and still verifies as authentic.
        Assert.Equal(ChainErrorCodes.NameOwnedByAnotherKey, (await Assert.ThrowsAsync<ChainException>(() =>
            ctx.Registry.YankAsync("handover", "1.0.0", "broken", alice, payer, CancellationToken.None))).Code);
        var yank = await ctx.Registry.YankAsync("handover", "1.0.0", "tokenizer bug", bob, payer, CancellationToken.None);
        var yanked = Assert.IsType<ChainEvent.Yanked>(Assert.Single(await ctx.Registry.GetEventsAsync(yank.BlockNumber, yank.BlockNumber, CancellationToken.None)));
        Assert.Equal(("handover", "1.0.0", "tokenizer bug"), (yanked.Name, yanked.Version, yanked.Reason));
        var record = await ctx.Registry.GetVersionAsync("handover", "1.0.0", CancellationToken.None);
        Assert.True(record!.Yanked);
        Assert.Equal(alice.PublicKey.EthereumAddress, record.Publisher);
        var verification = await ctx.Registry.VerifyAsync("handover", "1.0.0", null, CancellationToken.None);
        Assert.True(verification.Yanked);
        Assert.True(verification.Authentic);
        Assert.False(verification.AllPassed);
        Assert.Equal(ChainErrorCodes.Yanked, Assert.Single(verification.Checks, c => !c.Passed).Code);

        var twice = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.YankAsync("handover", "1.0.0", "again", bob, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.AlreadyYanked, twice.Code);
        var unknown = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.YankAsync("handover", "9.9.9", "x", bob, payer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.UnknownVersion, unknown.Code);
        Assert.True((await ctx.Registry.VerifyAsync("handover", "1.1.0", null, CancellationToken.None)).AllPassed);
    }

    [SkippableFact]
    public async Task Replays_are_refused()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var alice = ctx.NewKey("alice");
        var bob = ctx.NewKey("bob");
        var payer = ctx.KeyPayer(1);

        // A publish replayed by anyone: the version exists.
        var published = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "replayed", "1.0.0"), alice, payer, CancellationToken.None);
        var input = await ChainCalls.InputOf(chain.Peer, published.Transaction!.Hash);
        Assert.Equal(ChainErrorCodes.VersionExists, (await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(input, ctx.UnlockedPayer(4), "replaying", CancellationToken.None))).Code);

        // A transfer replayed after the name came back: its nonce is spent.
        var give = await ctx.Registry.TransferAsync("replayed", bob.PublicKey.EthereumAddress!, alice, payer, CancellationToken.None);
        var giveInput = await ChainCalls.InputOf(chain.Peer, give.Hash);
        await ctx.Registry.TransferAsync("replayed", alice.PublicKey.EthereumAddress!, bob, payer, CancellationToken.None);
        var replay = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(giveInput, ctx.UnlockedPayer(4), "replaying the transfer", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.BadNonce, replay.Code);
        Assert.Contains("nonce 0 but the name's nonce is 2", replay.Message, StringComparison.Ordinal);
        Assert.Equal(alice.PublicKey.EthereumAddress, (await ctx.Registry.GetOwnerAsync("replayed", CancellationToken.None)).Owner);

        // A signature held past its deadline.
        var late = ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(alice, "replayed", "2.0.0"), alice, "file:///x", deadline: (ulong)DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds());
        var expired = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(late, payer, "publishing late", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.SignatureExpired, expired.Code);
        Assert.Contains("signature expired", expired.Message, StringComparison.Ordinal);

        // An altered signature recovers to another key (which owns nothing) or to none: refused either way.
        var tampered = ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(alice, "replayed", "3.0.0"), alice, "file:///x");
        tampered = tampered[..^140] + (tampered[^140] == '0' ? '1' : '0') + tampered[^139..];
        var forged = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(tampered, payer, "publishing a forgery", CancellationToken.None));
        Assert.True(forged.Code == ChainErrorCodes.NameOwnedByAnotherKey || forged.Code == ChainErrorCodes.InvalidSignature, forged.Message);
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainOwnershipTestsOnGanache(GanacheFixture chain) : ChainOwnershipTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainOwnershipTestsOnHardhat(HardhatFixture chain) : ChainOwnershipTests(chain);

using InfraMind.Registry.Chain;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>Bad input and broken peers against the real dev chain: each answer is a clear code, never a stack trace.</summary>
public abstract class ChainFailureTests(ChainFixture chain)
{
    [Fact]
    public async Task Rpc_endpoint_down_is_unavailable_and_named()
    {
        using var closed = new ClosedPort();
        var port = closed.Port;
        var url = $"eth://127.0.0.1:{port}/0x{new string('1', 40)}";
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(url, new ChainRegistryOptions { RpcTimeout = TimeSpan.FromSeconds(5) }, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcUnavailable, ex.Code);
        Assert.Equal(FailureKind.Unavailable, ex.Kind);
        Assert.Contains($"127.0.0.1:{port}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not answer", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Hint);

        using var payer = ChainPayer.Unlocked(ChainPeer.GanacheAccounts[0]);
        var deploy = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.DeployAsync(new Uri($"http://127.0.0.1:{port}/"), payer, null, null, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcUnavailable, deploy.Code);
    }

    [SkippableFact]
    public async Task Node_that_dies_mid_session_is_unavailable()
    {
        await using var own = await ChainPeer.StartAsync(chain.Kind);
        using var payer = ChainPayer.Unlocked(chain.Peer.Accounts[0]);
        var deployment = await ChainModelRegistry.DeployAsync(own.Rpc, payer, null, null, CancellationToken.None);
        using var registry = await ChainModelRegistry.ConnectAsync(deployment.Registry, new ChainRegistryOptions { RpcTimeout = TimeSpan.FromSeconds(5) }, CancellationToken.None);
        await own.StopAsync();
        var ex = await Assert.ThrowsAsync<ChainException>(() => registry.VerifyAsync("m", "1.0.0", null, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcUnavailable, ex.Code);
    }

    [SkippableFact]
    public async Task Wrong_chain_id_is_refused()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var url = ctx.Deployment.Registry with { ChainId = 5 };
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(url, null, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.WrongChain, ex.Code);
        Assert.Contains("serves chain 1337, not chain 5", ex.Message, StringComparison.Ordinal);

        // Read from the node when the URL has none, and written back.
        using var connected = await ChainModelRegistry.ConnectAsync(ctx.Deployment.Registry with { ChainId = null }, null, CancellationToken.None);
        Assert.Equal(ChainPeer.ChainId, connected.ChainId);
        Assert.EndsWith("?chainId=1337", connected.Address.ToString(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Address_without_a_contract_or_with_another_contract_is_refused()
    {
        var empty = $"eth://127.0.0.1:{chain.Peer.Port}/0x{new string('2', 40)}";
        var none = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(empty, null, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.NoContract, none.Code);
        Assert.Contains("no contract at", none.Message, StringComparison.Ordinal);

        // A contract whose code is a single STOP: it answers every call with nothing.
        var hash = (await chain.Peer.CallAsync("eth_sendTransaction", new { from = chain.Peer.Accounts[9], data = "0x6001600c60003960016000f300", gas = "0x30000" }))!.GetValue<string>();
        var receipt = await chain.Peer.CallAsync("eth_getTransactionReceipt", hash);
        var other = $"eth://127.0.0.1:{chain.Peer.Port}/{receipt!["contractAddress"]!.GetValue<string>()}";
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(other, null, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.NotARegistry, ex.Code);
        Assert.Contains("is not an InfraMind model registry", ex.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Gas_estimation_failures_are_named()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();

        // A payer without ether: the node refuses the transaction and the client says who must be funded.
        using var broke = ChainPayer.FromKey(ctx.NewKey("broke"));
        var poor = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "gas", "1.0.0"), deployer, broke, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InsufficientFunds, poor.Code);
        Assert.Contains("fund the payer", poor.Hint, StringComparison.Ordinal);

        // A call the contract refuses while estimating: decoded, and no transaction was sent.
        var before = (await chain.Peer.CallAsync("eth_getTransactionCount", chain.Peer.Accounts[1], "latest"))!.GetValue<string>();
        var bad = ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(deployer, "gas", "1.0.0"), deployer, new string('u', 2000));
        var refused = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync(bad, ctx.KeyPayer(1), "publishing", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InvalidField, refused.Code);
        Assert.Contains("statementUri", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, (await chain.Peer.CallAsync("eth_getTransactionCount", chain.Peer.Accounts[1], "latest"))!.GetValue<string>());

        // Call data that is no function of the registry: reverted without a reason.
        var junk = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.SendAsync("0xdeadbeef", ctx.KeyPayer(1), "calling junk", CancellationToken.None));
        Assert.Equal(ChainErrorCodes.Reverted, junk.Code);
    }

    [SkippableFact]
    public async Task A_replaced_transaction_is_reported_and_the_payer_recovers()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(5);
        await chain.Peer.SetMiningAsync(false);
        Task<ChainPublishReceipt> publish;
        try
        {
            publish = ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "replaced", "1.0.0"), deployer, payer, CancellationToken.None);
            // Wait until the publish sits in the pool, then send another transaction with its nonce and a higher price.
            for (var i = 0; i < 200 && await chain.Peer.PendingCountAsync() < 1; i++)
            {
                await Task.Delay(20);
            }

            Assert.Equal(1, await chain.Peer.PendingCountAsync());
            var pendingNonce = (await chain.Peer.CallAsync("eth_getTransactionCount", chain.Peer.Accounts[5], "latest"))!.GetValue<string>();
            // Through eth_sendTransaction with an explicit nonce: ganache 7 re-numbers a raw transaction whose nonce is
            // pending instead of replacing it (seen here), but replaces one it signs itself.
            await chain.Peer.CallAsync("eth_sendTransaction", new { from = chain.Peer.Accounts[5], to = chain.Peer.Accounts[9], value = "0x1", gas = "0x5208", gasPrice = "0xba43b7400", nonce = pendingNonce });
        }
        finally
        {
            await chain.Peer.SetMiningAsync(true);
        }

        var ex = await Assert.ThrowsAsync<ChainException>(() => publish);
        Assert.Equal(ChainErrorCodes.TransactionReplaced, ex.Code);
        Assert.Equal(FailureKind.Unavailable, ex.Kind);
        Assert.Contains("replaced", ex.Message, StringComparison.Ordinal);

        // The same payer object sends again without a stuck or skipped nonce.
        var again = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "replaced", "1.0.0"), deployer, payer, CancellationToken.None);
        Assert.False(again.AlreadyPublished);
    }

    [SkippableFact]
    public async Task A_transaction_dropped_by_a_rewound_chain_is_gone_and_verification_says_so()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var snapshot = await chain.Peer.SnapshotAsync();
        var receipt = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "dropped", "1.0.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);
        await chain.Peer.RevertAsync(snapshot);
        await chain.Peer.MineAsync(2);

        Assert.Null(await chain.Peer.CallAsync("eth_getTransactionReceipt", receipt.Transaction!.Hash));
        var verification = await ctx.Registry.VerifyAsync("dropped", "1.0.0", null, CancellationToken.None);
        Assert.Equal(ChainErrorCodes.UnknownVersion, Assert.Single(verification.Checks).Code);

        // Publishing again includes it again.
        var again = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "dropped", "1.0.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);
        Assert.False(again.AlreadyPublished);
        Assert.True((await ctx.Registry.VerifyAsync("dropped", "1.0.0", null, CancellationToken.None)).AllPassed);
    }

    [SkippableFact]
    public async Task A_statement_that_cannot_be_fetched_or_was_altered_does_not_verify()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var payer = ctx.KeyPayer(1);
        var gone = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "fragile", "1.0.0"), deployer, payer, CancellationToken.None);
        var altered = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "fragile", "1.1.0"), deployer, payer, CancellationToken.None);
        File.Delete(new Uri(gone.Record.Record.StatementUri).LocalPath);
        var path = new Uri(altered.Record.Record.StatementUri).LocalPath;
        await File.AppendAllTextAsync(path, " ");

        var missing = await ctx.Registry.VerifyAsync("fragile", "1.0.0", null, CancellationToken.None);
        Assert.False(missing.AllPassed);
        Assert.Null(missing.Statement);
        Assert.Equal(ChainErrorCodes.StatementUnavailable, missing.Checks.Single(c => !c.Passed).Code);

        var changed = await ctx.Registry.VerifyAsync("fragile", "1.1.0", null, CancellationToken.None);
        Assert.Null(changed.Statement);
        Assert.Equal(ChainErrorCodes.StatementDigestMismatch, changed.Checks.Single(c => !c.Passed).Code);

        // A record pointing at a location no store serves (any host a publisher names) is never fetched.
        var elsewhere = ChainCalls.Publish(ctx.Registry, ChainTestContext.Envelope(deployer, "fragile", "2.0.0"), deployer, "http://127.0.0.1:9/steal");
        await ctx.Registry.SendAsync(elsewhere, payer, "publishing", CancellationToken.None);
        var foreign = await ctx.Registry.VerifyAsync("fragile", "2.0.0", null, CancellationToken.None);
        Assert.Contains("no configured statement store fetches this location", foreign.Checks.Single(c => !c.Passed).Reason, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task P256_keys_cannot_sign_chain_records_or_pay()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        using var p256 = SigningKey.CreateEphemeral("p256");
        var ex = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(ChainTestContext.Envelope(p256, "p", "1.0.0"), p256, ctx.KeyPayer(1), CancellationToken.None));
        Assert.Equal(ChainErrorCodes.KeyNotSecp256k1, ex.Code);
        Assert.Equal(FailureKind.Usage, ex.Kind);
        Assert.Equal(ChainErrorCodes.KeyNotSecp256k1, Assert.Throws<ChainException>(() => ChainPayer.FromKey(p256)).Code);

        // The statement must be signed by the key that signs the record.
        var alice = ctx.NewKey("alice");
        var bob = ctx.NewKey("bob");
        var mixed = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(ChainTestContext.Envelope(alice, "p", "1.0.0"), bob, ctx.KeyPayer(1), CancellationToken.None));
        Assert.Equal(ChainErrorCodes.StatementInvalid, mixed.Code);
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainFailureTestsOnGanache(GanacheFixture chain) : ChainFailureTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainFailureTestsOnHardhat(HardhatFixture chain) : ChainFailureTests(chain);

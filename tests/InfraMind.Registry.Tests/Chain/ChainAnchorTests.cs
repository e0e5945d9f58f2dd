using InfraMind.Registry.Chain;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Chain;

public abstract class ChainAnchorTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task An_entry_of_the_sqlite_log_is_proven_against_a_root_anchored_on_chain()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        using var logDir = new TempDirectory();
        await using var log = await ModelRegistry.OpenAsync(logDir.Path, TimeProvider.System, null, null, CancellationToken.None);
        using var publisher = SigningKey.CreateEphemeral("p");
        for (var i = 0; i < 3; i++)
        {
            await log.PublishAsync(ModelRegistryTests.Envelope(publisher, "anchored", $"1.0.{i}"), CancellationToken.None);
        }

        var operatorPayer = ctx.KeyPayer(2);
        var checkpoint = await log.GetCheckpointAsync(CancellationToken.None);
        var anchor = await ctx.Registry.AnchorCheckpointAsync(checkpoint, operatorPayer, CancellationToken.None);
        Assert.InRange(anchor.Transaction!.GasUsed, 30_000, 120_000);

        // The log grows after the anchor; an old entry is still proven against the anchored root.
        for (var i = 3; i < 6; i++)
        {
            await log.PublishAsync(ModelRegistryTests.Envelope(publisher, "anchored", $"1.0.{i}"), CancellationToken.None);
        }

        var onChain = await ctx.Registry.GetAnchorAsync(operatorPayer.Address, log.Origin, 3, CancellationToken.None);
        Assert.NotNull(onChain);
        Assert.Equal(checkpoint.Checkpoint.RootHash.ToArray(), onChain!.Root.ToArray());
        Assert.Equal(checkpoint.Note, onChain.CheckpointNote);

        var bundle = await log.GetModelVersionAsync("anchored", "1.0.1", CancellationToken.None);
        var consistency = await log.GetConsistencyProofAsync(3, await log.GetSizeAsync(CancellationToken.None), CancellationToken.None);
        var proven = AnchorVerifier.VerifyEntry(bundle, onChain, log.PublicKey, consistency);
        Assert.True(proven.Passed, proven.Reason);
        Assert.Contains("anchored on chain at size 3", proven.Reason, StringComparison.Ordinal);

        // Without the consistency proof, for an entry the anchor does not cover, or with another registry key: refused.
        Assert.Equal(ChainErrorCodes.AnchorMismatch, AnchorVerifier.VerifyEntry(bundle, onChain, log.PublicKey, null).Code);
        var later = await log.GetModelVersionAsync("anchored", "1.0.4", CancellationToken.None);
        Assert.Equal(ChainErrorCodes.AnchorNotFound, AnchorVerifier.VerifyEntry(later, onChain, log.PublicKey, consistency).Code);
        using var stranger = SigningKey.CreateEphemeral("stranger");
        Assert.Equal(ChainErrorCodes.AnchorMismatch, AnchorVerifier.VerifyEntry(bundle, onChain, stranger.PublicKey, consistency).Code);

        // A root the log never had (a forged note under the operator's address) does not prove anything.
        var forged = onChain with { Root = new byte[32] };
        Assert.Equal(ChainErrorCodes.AnchorMismatch, AnchorVerifier.VerifyEntry(bundle, forged, log.PublicKey, consistency).Code);

        // One root per size and anchorer; anchors are keyed by sender, so anyone else's anchor at that size is separate.
        var twice = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.AnchorCheckpointAsync(checkpoint, operatorPayer, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.AnchorExists, twice.Code);
        Assert.Null(await ctx.Registry.GetAnchorAsync(ctx.UnlockedPayer(3).Address, log.Origin, 3, CancellationToken.None));
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainAnchorTestsOnGanache(GanacheFixture chain) : ChainAnchorTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainAnchorTestsOnHardhat(HardhatFixture chain) : ChainAnchorTests(chain);

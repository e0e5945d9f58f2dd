using InfraMind.Registry.Chain;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

public abstract class ChainPublishTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Publish_then_verify_against_the_chain()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var envelope = ChainTestContext.Envelope(deployer, "summarizer-v1", "0.4.2");
        var receipt = await ctx.Registry.PublishAsync(envelope, deployer, ctx.KeyPayer(1), CancellationToken.None);

        Assert.False(receipt.AlreadyPublished);
        Assert.NotNull(receipt.Transaction);
        Assert.Equal(deployer.PublicKey.EthereumAddress, receipt.Record.Publisher);
        Assert.Equal("summarizer-v1", receipt.Record.Name);
        Assert.Equal(PublishStatement.DeriveEndpointId("summarizer-v1"), receipt.Record.Record.EndpointId);
        Assert.InRange(receipt.Transaction!.GasUsed, 50_000, 120_000);

        var verification = await ctx.Registry.VerifyAsync("summarizer-v1", "0.4.2", new ExpectedPublish(ImageDigest: "sha256:" + new string('a', 64)), CancellationToken.None);
        Assert.True(verification.AllPassed, string.Join("\n", verification.Checks.Select(c => $"{c.Name}: {c.Passed} {c.Code} {c.Reason}")));
        Assert.Equal([ChainVerifier.RecordCheck, ChainVerifier.StatementDigestCheck, ChainVerifier.SignatureCheck, ChainVerifier.SignerCheck, ChainVerifier.StatementCheck, ChainVerifier.YankedCheck],
            verification.Checks.Select(c => c.Name));
        Assert.Equal(deployer.PublicKey, verification.Statement!.Publisher);

        var again = await ctx.Registry.PublishAsync(envelope, deployer, ctx.KeyPayer(1), CancellationToken.None);
        Assert.True(again.AlreadyPublished);
        Assert.Equal(receipt.Record, again.Record);

        var wrongImage = await ctx.Registry.VerifyAsync("summarizer-v1", "0.4.2", new ExpectedPublish(ImageDigest: "sha256:" + new string('b', 64)), CancellationToken.None);
        Assert.False(wrongImage.AllPassed);
        Assert.Equal(ChainErrorCodes.StatementMismatch, Assert.Single(wrongImage.Checks, c => !c.Passed).Code);
    }

    [SkippableFact]
    public async Task The_same_content_signed_again_is_already_published_and_another_key_is_refused()
    {
        await using var ctx = await ChainTestContext.CreateAsync(chain);
        var deployer = ctx.NewKey();
        var first = await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "again", "1.0.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);

        // `infra publish` run again an hour later: a new statement (its time, its signature), the same manifest and image.
        var later = Dsse.SignPublish(PublishStatement.Create("again", "1.0.0", "sha256:" + new string('a', 64), "name: again\nversion: 1.0.0\n"u8,
            [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)],
            deployer.PublicKey, new ShiftedTime(TimeSpan.FromHours(1))), deployer);
        Assert.NotEqual(ChainTestContext.Envelope(deployer, "again", "1.0.0").Payload.ToArray(), later.Payload.ToArray());
        var again = await ctx.Registry.PublishAsync(later, deployer, ctx.KeyPayer(1), CancellationToken.None);
        Assert.True(again.AlreadyPublished);
        Assert.Null(again.Transaction);
        Assert.Equal(first.Record, again.Record);

        // The same content under another key is no republish: the name is owned.
        var mallory = ctx.NewKey("mallory");
        var stolen = await Assert.ThrowsAsync<ChainException>(() => ctx.Registry.PublishAsync(ChainTestContext.Envelope(mallory, "again", "1.0.0"), mallory, ctx.KeyPayer(1), CancellationToken.None));
        Assert.Equal(ChainErrorCodes.VersionExists, stolen.Code);
    }

    private sealed class ShiftedTime(TimeSpan by) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + by;
    }
}

[Collection(GanacheCollection.Name)]
public sealed class ChainPublishTestsOnGanache(GanacheFixture chain) : ChainPublishTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class ChainPublishTestsOnHardhat(HardhatFixture chain) : ChainPublishTests(chain);

using InfraMind.Registry.Chain;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>The log and the chain behind one <see cref="IVerifiedModelSource"/>: what a catalog or a node is written against.</summary>
public abstract class VerifiedModelSourceTests(ChainFixture chain)
{
    [SkippableFact]
    public async Task Log_and_chain_answer_the_same_verified_versions()
    {
        using var deployer = SigningKey.CreateEphemeral("deployer", KeyType.Secp256k1);

        using var logDir = new TempDirectory();
        await using var log = await ModelRegistry.OpenAsync(logDir.Path, TimeProvider.System, null, null, CancellationToken.None);
        var service = new LocalRegistryService(log);
        await service.PublishAsync(ChainTestContext.Envelope(deployer, "both", "1.0.0"), CancellationToken.None);
        using var logSource = new LogModelSource(service, log.PublicKey);

        await using var ctx = await ChainTestContext.CreateAsync(chain);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "both", "1.0.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);
        await ctx.Registry.PublishAsync(ChainTestContext.Envelope(deployer, "both", "1.1.0"), deployer, ctx.KeyPayer(1), CancellationToken.None);
        await ctx.Registry.YankAsync("both", "1.1.0", "bad", deployer, ctx.KeyPayer(1), CancellationToken.None);
        using var indexer = ChainIndexer.Open(ctx.Registry, ctx.Dir.Combine("index"));
        var chainSource = new ChainModelSource(ctx.Registry, indexer);

        foreach (var (source, mismatch) in new (IVerifiedModelSource, string)[] { (logSource, RegistryErrorCodes.StatementDigestMismatch), (chainSource, ChainErrorCodes.StatementMismatch) })
        {
            var served = Assert.Single(await source.GetServableAsync(CancellationToken.None));
            Assert.Equal(("both", "1.0.0", deployer.PublicKey), (served.Name, served.Version, served.Statement.Publisher));
            var one = await source.GetVerifiedAsync("both", "1.0.0", new ExpectedPublish(ImageDigest: "sha256:" + new string('a', 64)), CancellationToken.None);
            Assert.Equal(served.Statement.ManifestDigest, one.Statement.ManifestDigest);
            var wrong = await Assert.ThrowsAnyAsync<InfraMindException>(() => source.GetVerifiedAsync("both", "1.0.0", new ExpectedPublish(ImageDigest: "sha256:" + new string('b', 64)), CancellationToken.None));
            Assert.Equal(FailureKind.CheckFailed, wrong.Kind);
            Assert.Equal(mismatch, wrong.Code);
            // Both say what the statement holds and what was expected (not "on record": the chain's record agrees).
            Assert.Matches($"image (manifest )?digest is sha256:{new string('a', 64)}( in the statement)?, expected sha256:{new string('b', 64)}", wrong.Message);
        }

        Assert.Equal(ChainErrorCodes.Yanked, (await Assert.ThrowsAsync<ChainException>(() => chainSource.GetVerifiedAsync("both", "1.1.0", null, CancellationToken.None))).Code);
        Assert.Equal(ChainErrorCodes.UnknownVersion, (await Assert.ThrowsAsync<ChainException>(() => chainSource.GetVerifiedAsync("both", "9.0.0", null, CancellationToken.None))).Code);
    }
}

[Collection(GanacheCollection.Name)]
public sealed class VerifiedModelSourceTestsOnGanache(GanacheFixture chain) : VerifiedModelSourceTests(chain);

[Collection(HardhatCollection.Name)]
public sealed class VerifiedModelSourceTestsOnHardhat(HardhatFixture chain) : VerifiedModelSourceTests(chain);

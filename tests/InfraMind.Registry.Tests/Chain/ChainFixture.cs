using System.Text;
using InfraMind.Registry.Chain;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>One dev chain for every chain test of a collection (they run one after another: some rewind the chain). Each test deploys its own registry.</summary>
public abstract class ChainFixture(DevChainKind kind) : IAsyncLifetime
{
    private ChainPeer? _peer;
    private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _failure;

    public DevChainKind Kind { get; } = kind;

    /// <summary>
    /// The chain. Where it could not start (not installed: <see cref="Peers.Missing"/>), a test that asks fails or is
    /// skipped with that reason; the tests of the collection that need no chain run regardless.
    /// </summary>
    public ChainPeer Peer
    {
        get
        {
            _failure?.Throw();
            return _peer!;
        }
    }

    public async Task InitializeAsync()
    {
        try
        {
            _peer = await ChainPeer.StartAsync(Kind);
        }
        catch (Exception e)
        {
            _failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }
    }

    public async Task DisposeAsync()
    {
        if (_peer is not null)
        {
            await _peer.DisposeAsync();
        }
    }
}

public sealed class GanacheFixture() : ChainFixture(DevChainKind.Ganache);

public sealed class HardhatFixture() : ChainFixture(DevChainKind.Hardhat);

/// <summary>Every chain test runs on ganache and on Hardhat's node: the client must not depend on one implementation.</summary>
[CollectionDefinition(Name)]
public sealed class GanacheCollection : ICollectionFixture<GanacheFixture>
{
    public const string Name = "dev chain: ganache";
}

[CollectionDefinition(Name)]
public sealed class HardhatCollection : ICollectionFixture<HardhatFixture>
{
    public const string Name = "dev chain: hardhat";
}

/// <summary>A deployed registry with a statement directory, deployer keys and payers for one test.</summary>
internal sealed class ChainTestContext : IAsyncDisposable
{
    private readonly List<IDisposable> _owned = [];

    private ChainTestContext(ChainPeer peer, TempDirectory dir, ChainModelRegistry registry, ChainDeployment deployment)
    {
        Peer = peer;
        Dir = dir;
        Registry = registry;
        Deployment = deployment;
    }

    public ChainPeer Peer { get; }

    public TempDirectory Dir { get; }

    public ChainModelRegistry Registry { get; }

    public ChainDeployment Deployment { get; }

    public static async Task<ChainTestContext> CreateAsync(ChainFixture fixture, ChainRegistryOptions? options = null)
    {
        var dir = new TempDirectory();
        var store = new DirectoryStatementStore(dir.Combine("statements"));
        options = (options ?? new ChainRegistryOptions()) with { StatementStore = options?.StatementStore ?? store, Transactions = new ChainTransactionOptions { PollInterval = TimeSpan.FromMilliseconds(20), ReceiptTimeout = TimeSpan.FromSeconds(30) } };
        using var deployer = ChainPayer.Unlocked(fixture.Peer.Accounts[0]);
        var deployment = await ChainModelRegistry.DeployAsync(fixture.Peer.Rpc, deployer, ChainPeer.ChainId, options, CancellationToken.None);
        var registry = await ChainModelRegistry.ConnectAsync(deployment.Registry, options, CancellationToken.None);
        return new ChainTestContext(fixture.Peer, dir, registry, deployment);
    }

    /// <summary>A fresh secp256k1 deployer key (unfunded: it only signs).</summary>
    public SigningKey NewKey(string name = "deployer") => Own(SigningKey.CreateEphemeral(name, KeyType.Secp256k1));

    /// <summary>A payer that signs with ganache account <paramref name="account"/>'s key.</summary>
    public ChainPayer KeyPayer(int account) =>
        Own(ChainPayer.FromKey(Own(SigningKey.FromSecp256k1Scalar($"payer{account}", Convert.FromHexString(Peer.Keys[account][2..])))));

    public ChainPayer UnlockedPayer(int account) => Own(ChainPayer.Unlocked(Peer.Accounts[account]));

    public static DsseEnvelope Envelope(SigningKey key, string name, string version, char image = 'a') =>
        Dsse.SignPublish(
            PublishStatement.Create(
                name,
                version,
                "sha256:" + new string(image, 64),
                Encoding.UTF8.GetBytes($"name: {name}\nversion: {version}\n"),
                [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)],
                key.PublicKey,
                TimeProvider.System),
            key);

    private T Own<T>(T item)
        where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public ValueTask DisposeAsync()
    {
        Registry.Dispose();
        foreach (var item in _owned)
        {
            item.Dispose();
        }

        Dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal static class ChainCalls
{
    /// <summary>The call data of a publish signed by <paramref name="signer"/>, bypassing the client's pre-flight checks (to see the contract decide).</summary>
    public static string Publish(ChainModelRegistry registry, DsseEnvelope envelope, SigningKey signer, string statementUri, ulong? deadline = null)
    {
        var statement = Dsse.VerifyPublish(envelope).EnsureValid();
        var bytes = envelope.ToCanonicalJson();
        var record = ChainPublishRecord.From(statement, ChainPublishRecord.DigestOf(bytes), statementUri, deadline ?? (ulong)DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds());
        var signature = new ChainTypedData(registry.ChainId, registry.Address.Contract).SignPublish(record, signer);
        return Nethereum.Hex.HexConvertors.Extensions.HexByteConvertorExtensions.ToHex(
            Nethereum.Contracts.FunctionMessageExtensions.GetCallData(new PublishFunction { Record = record.ToDto(), Signature = Nethereum.Hex.HexConvertors.Extensions.HexByteConvertorExtensions.HexToByteArray(signature) }), true);
    }

    /// <summary>The input of a mined transaction (to replay it).</summary>
    public static async Task<string> InputOf(InfraMind.Testing.ChainPeer peer, string txHash) =>
        (await peer.CallAsync("eth_getTransactionByHash", txHash))!["input"]!.GetValue<string>();
}

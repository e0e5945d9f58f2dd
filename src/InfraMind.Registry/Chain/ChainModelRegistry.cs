using System.Numerics;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;

namespace InfraMind.Registry.Chain;

/// <summary>How the chain backend talks to its node and where statements go.</summary>
public sealed record ChainRegistryOptions
{
    /// <summary>One JSON-RPC request, connect included; at most 20 s, Nethereum's own limit per request.</summary>
    public TimeSpan RpcTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public ChainTransactionOptions Transactions { get; init; } = new();

    /// <summary>How long a signed record may wait for inclusion (its EIP-712 deadline); a relayer cannot hold it longer.</summary>
    public TimeSpan SignatureLifetime { get; init; } = TimeSpan.FromHours(1);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where <see cref="ChainModelRegistry.PublishAsync"/> stores statements (required to publish).</summary>
    public IStatementStore? StatementStore { get; init; }

    /// <summary>More places statements are fetched from (the <see cref="StatementStore"/> always is one).</summary>
    public IReadOnlyList<IStatementStore> StatementSources { get; init; } = [];

    public int MaxStatementBytes { get; init; } = StatementFetcher.DefaultMaxBytes;
}

/// <summary>A deployed registry: the URL to use (<c>--registry</c>) and the deployment transaction.</summary>
public sealed record ChainDeployment(ChainRegistryAddress Registry, ChainTransaction Transaction);

/// <summary>A publish: the version's chain record and the transaction (none when it was published before, identically).</summary>
public sealed record ChainPublishReceipt(ChainVersionRecord Record, ChainTransaction? Transaction, bool AlreadyPublished);

/// <summary>A log root anchored on chain by <see cref="Anchorer"/>, with the signed checkpoint note it came from.</summary>
public sealed record ChainAnchor(string Anchorer, string Origin, long Size, ReadOnlyMemory<byte> Root, string CheckpointNote, ChainTransaction? Transaction);

/// <summary>
/// The on-chain model registry (contracts/ModelRegistry.sol) at an <c>eth://</c> address: publish, transfer, yank and
/// anchor (each a transaction paid by a <see cref="ChainPayer"/> and authorised by the owner key's EIP-712 signature),
/// read and verify versions, read events. Connecting checks the chain id and that the address holds the registry.
/// </summary>
public sealed partial class ChainModelRegistry : IDisposable
{
    private readonly ChainRpc _rpc;
    private readonly ChainRegistryOptions _options;
    private readonly ChainTypedData _typed;

    private ChainModelRegistry(ChainRpc rpc, ChainRegistryAddress address, long deployedAt, ChainRegistryOptions options)
    {
        _rpc = rpc;
        Address = address;
        DeployedAt = deployedAt;
        _options = options;
        _typed = new ChainTypedData(address.ChainId!.Value, address.Contract);
        Statements = new StatementFetcher([.. options.StatementStore is null ? [] : new[] { options.StatementStore }, .. options.StatementSources], options.MaxStatementBytes);
    }

    /// <summary>The registry's address with the node's chain id filled in.</summary>
    public ChainRegistryAddress Address { get; }

    public long ChainId => Address.ChainId!.Value;

    /// <summary>The block the contract was deployed in: where following its events starts.</summary>
    public long DeployedAt { get; }

    public StatementFetcher Statements { get; }

    internal ChainRpc Rpc => _rpc;

    /// <summary>The node's latest block number (where reading events ends).</summary>
    public Task<long> GetBlockNumberAsync(CancellationToken cancellationToken) => _rpc.BlockNumberAsync(cancellationToken);

    public void Dispose() => _rpc.Dispose();

    /// <summary>Connects to <c>eth://HOST:PORT/0xCONTRACT[?chainId=N]</c>.</summary>
    public static Task<ChainModelRegistry> ConnectAsync(string url, ChainRegistryOptions? options, CancellationToken cancellationToken) =>
        ConnectAsync(ChainRegistryAddress.Parse(url), options, cancellationToken);

    /// <summary>
    /// Connects and checks: the node answers (<see cref="ChainErrorCodes.RpcUnavailable"/>), its chain id is the URL's
    /// (<see cref="ChainErrorCodes.WrongChain"/>), the address holds code (<see cref="ChainErrorCodes.NoContract"/>)
    /// and that code is this registry with this EIP-712 domain (<see cref="ChainErrorCodes.NotARegistry"/>).
    /// </summary>
    public static async Task<ChainModelRegistry> ConnectAsync(ChainRegistryAddress address, ChainRegistryOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        options ??= new ChainRegistryOptions();
        var rpc = new ChainRpc(address.Rpc, options.RpcTimeout);
        try
        {
            var chainId = await CheckChainAsync(rpc, address.ChainId, cancellationToken).ConfigureAwait(false);
            var code = await rpc.GetCodeAsync(address.Contract, cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrEmpty(code) || code == "0x")
            {
                throw new ChainException(ChainErrorCodes.NoContract, $"no contract at {address.Contract} on chain {chainId} ({address.Rpc}): the address is empty (a wrong address, or a dev chain that was restarted).");
            }

            var resolved = address with { ChainId = chainId };
            var what = $"{address.Contract} on chain {chainId} is not an InfraMind model registry";
            var iface = await TryWordAsync(rpc, address.Contract, new RegistryInterfaceFunction(), cancellationToken).ConfigureAwait(false);
            if (iface is null || !iface.AsSpan().SequenceEqual(RegistryContract.InterfaceId))
            {
                throw new ChainException(ChainErrorCodes.NotARegistry, $"{what}: it does not answer REGISTRY_INTERFACE() with the registry's id.");
            }

            var domain = await TryWordAsync(rpc, address.Contract, new DomainSeparatorFunction(), cancellationToken).ConfigureAwait(false);
            if (domain is null || !domain.AsSpan().SequenceEqual(new ChainTypedData(chainId, resolved.Contract).DomainSeparator()))
            {
                throw new ChainException(ChainErrorCodes.NotARegistry, $"{what} of this version: its EIP-712 domain differs from this client's ('{RegistryContract.DomainName}' version {RegistryContract.DomainVersion}).");
            }

            var deployedAt = await TryWordAsync(rpc, address.Contract, new DeployedAtFunction(), cancellationToken).ConfigureAwait(false);
            return new ChainModelRegistry(rpc, resolved, deployedAt is null ? 0 : (long)new BigInteger(deployedAt, isUnsigned: true, isBigEndian: true), options);
        }
        catch
        {
            rpc.Dispose();
            throw;
        }
    }

    /// <summary>Deploys the registry contract; <paramref name="payer"/> pays. The result's URL is what <c>--registry</c> takes.</summary>
    public static async Task<ChainDeployment> DeployAsync(Uri rpcEndpoint, ChainPayer payer, long? expectedChainId, ChainRegistryOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rpcEndpoint);
        ArgumentNullException.ThrowIfNull(payer);
        options ??= new ChainRegistryOptions();
        using var rpc = new ChainRpc(rpcEndpoint, options.RpcTimeout);
        var chainId = await CheckChainAsync(rpc, expectedChainId, cancellationToken).ConfigureAwait(false);
        var receipt = await ChainTransactions.ExecuteAsync(rpc, chainId, payer, null, RegistryContract.CreationCode, "deploying the registry", options.Transactions, cancellationToken).ConfigureAwait(false);
        var contract = receipt.ContractAddress?.ToLowerInvariant() ?? throw new ChainException(ChainErrorCodes.RpcError, $"deploying the registry: the receipt of {receipt.TransactionHash} names no contract address.");
        var rpcUri = new UriBuilder(rpcEndpoint) { Path = "/" }.Uri;
        return new ChainDeployment(new ChainRegistryAddress(rpcUri, contract, chainId), ToTransaction(receipt));
    }

    private static async Task<long> CheckChainAsync(ChainRpc rpc, long? expected, CancellationToken cancellationToken)
    {
        var chainId = await rpc.ChainIdAsync(cancellationToken).ConfigureAwait(false);
        if (expected is { } want && want != chainId)
        {
            throw new ChainException(ChainErrorCodes.WrongChain, $"the node at {rpc.Endpoint} serves chain {chainId}, not chain {want} as the URL says (?chainId={want}).");
        }

        return chainId;
    }

    private static async Task<byte[]?> TryWordAsync<TFunction>(ChainRpc rpc, string contract, TFunction message, CancellationToken cancellationToken)
        where TFunction : FunctionMessage, new()
    {
        try
        {
            return await rpc.QueryWordAsync(contract, message, "probing the contract", cancellationToken).ConfigureAwait(false);
        }
        catch (ChainException ex) when (ex.Code != ChainErrorCodes.RpcUnavailable && ex.Code != ChainErrorCodes.InvalidAnswer)
        {
            return null;
        }
    }

    /// <summary>
    /// Publishes a signed statement: stores it (<see cref="ChainRegistryOptions.StatementStore"/>), signs the chain
    /// record with <paramref name="deployer"/> (the key that signed the statement; EIP-712) and sends it, paid by
    /// <paramref name="payer"/>. The same statement again, or the same manifest and image signed again by the same key,
    /// answers the existing record (<c>AlreadyPublished</c>).
    /// Refusals carry their codes: <see cref="ChainErrorCodes.NameOwnedByAnotherKey"/>, <see cref="ChainErrorCodes.VersionExists"/> …
    /// </summary>
    public async Task<ChainPublishReceipt> PublishAsync(DsseEnvelope envelope, SigningKey deployer, ChainPayer payer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(deployer);
        ArgumentNullException.ThrowIfNull(payer);
        if (deployer.Type != KeyType.Secp256k1)
        {
            throw new ChainException(ChainErrorCodes.KeyNotSecp256k1, $"key '{deployer.Name}' is {deployer.Type.ToName()}; the chain record must be signed by the statement's secp256k1 key.");
        }

        var verification = Dsse.VerifyPublish(envelope, deployer.PublicKey);
        if (!verification.IsValid || verification.Statement is not { } statement)
        {
            throw new ChainException(ChainErrorCodes.StatementInvalid, $"the statement does not verify with key '{deployer.Name}': {verification.ErrorCode} {verification.Reason}", "sign the statement with the key that signs the chain record");
        }

        var action = $"publishing {statement.ModelName}@{statement.Version}";
        var bytes = envelope.ToCanonicalJson();
        var digest = ChainPublishRecord.DigestOf(bytes);
        var signer = deployer.PublicKey.EthereumAddress!;

        // Refusals that need no gas: the contract decides the same again at inclusion (races).
        if (await GetVersionAsync(statement.ModelName, statement.Version, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            // The same content by the same key is the same publish (a statement signed again differs only in its time
            // and signature): answered with the record there is, as the log answers an identical publish.
            if (existing.Record.StatementDigest == digest || (existing.Publisher.Equals(signer, StringComparison.OrdinalIgnoreCase)
                && existing.Record.ManifestDigest == statement.ManifestDigest && existing.Record.ImageDigest == statement.ImageDigest))
            {
                return new ChainPublishReceipt(existing, null, AlreadyPublished: true);
            }

            throw Refusal("VersionExists", action, ("name", statement.ModelName), ("version", statement.Version));
        }

        var (owner, _) = await GetOwnerAsync(statement.ModelName, cancellationToken).ConfigureAwait(false);
        if (owner is not null && !owner.Equals(signer, StringComparison.OrdinalIgnoreCase))
        {
            throw Refusal("NameOwnedByAnotherKey", action, ("name", statement.ModelName), ("owner", owner), ("signer", signer));
        }

        var store = _options.StatementStore ?? throw new ChainException(ChainErrorCodes.StatementUnavailable, $"{action}: no statement store is configured, so verifiers could not fetch the statement.", "configure where statements are stored");
        var uri = await store.PutAsync(bytes, digest, cancellationToken).ConfigureAwait(false);
        // Read it back as a verifier will: a statement nobody can fetch must not go on chain.
        _ = await Statements.FetchAsync(uri, digest, cancellationToken).ConfigureAwait(false);

        var record = ChainPublishRecord.From(statement, digest, uri, ChainTypedData.Deadline(_options.Time, _options.SignatureLifetime));
        var signature = _typed.SignPublish(record, deployer);
        var call = new PublishFunction { Record = record.ToDto(), Signature = signature.HexToByteArray() };
        var receipt = await SendAsync(call.GetCallData().ToHex(true), payer, action, cancellationToken).ConfigureAwait(false);
        var published = receipt.Logs.Select(l => TryDecode<ModelPublishedEvent>(l)).FirstOrDefault(e => e is not null)
            ?? throw new ChainException(ChainErrorCodes.RecordMismatch, $"{action}: transaction {receipt.TransactionHash} succeeded but emitted no ModelPublished event.");
        var block = await _rpc.BlockAsync((long)receipt.BlockNumber.Value, cancellationToken).ConfigureAwait(false);
        var version = ToRecord(published, block?.Timestamp ?? 0, yanked: false, action);
        return new ChainPublishReceipt(version, ToTransaction(receipt), AlreadyPublished: false);
    }

    /// <summary>Hands <paramref name="name"/> to <paramref name="newOwner"/> (an address); signed by the current owner's key.</summary>
    public async Task<ChainTransaction> TransferAsync(string name, string newOwner, SigningKey owner, ChainPayer payer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!ChainRegistryAddress.IsAddress(newOwner ?? ""))
        {
            throw new ChainException(ChainErrorCodes.InvalidField, $"new owner '{newOwner}' is not an address (0x followed by 40 hex digits).");
        }

        var (_, nonce) = await GetOwnerAsync(name, cancellationToken).ConfigureAwait(false);
        var deadline = ChainTypedData.Deadline(_options.Time, _options.SignatureLifetime);
        var signature = _typed.SignTransfer(name, newOwner!, nonce, deadline, owner);
        var call = new TransferFunction { Name = name, NewOwner = newOwner!, NameNonce = nonce, Deadline = deadline, Signature = signature.HexToByteArray() };
        return ToTransaction(await SendAsync(call.GetCallData().ToHex(true), payer, $"transferring {name} to {newOwner}", cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Yanks name@version (a flag and an event; the record stays); signed by the name's current owner.</summary>
    public async Task<ChainTransaction> YankAsync(string name, string version, string reason, SigningKey owner, ChainPayer payer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(owner);
        var deadline = ChainTypedData.Deadline(_options.Time, _options.SignatureLifetime);
        var signature = _typed.SignYank(name, version, reason ?? "", deadline, owner);
        var call = new YankFunction { Name = name, Version = version, Reason = reason ?? "", Deadline = deadline, Signature = signature.HexToByteArray() };
        return ToTransaction(await SendAsync(call.GetCallData().ToHex(true), payer, $"yanking {name}@{version}", cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Sends call data to the registry (also how a captured call is replayed in tests).</summary>
    internal Task<TransactionReceipt> SendAsync(string callData, ChainPayer payer, string action, CancellationToken cancellationToken) =>
        ChainTransactions.ExecuteAsync(_rpc, ChainId, payer, Address.Contract, callData, action, _options.Transactions, cancellationToken);

    /// <summary>The name's owner (null when nobody published it yet) and its transfer nonce.</summary>
    public async Task<(string? Owner, BigInteger Nonce)> GetOwnerAsync(string name, CancellationToken cancellationToken)
    {
        var o = await _rpc.QueryAsync<OwnerOfFunction, OwnerOfOutput>(Address.Contract, new OwnerOfFunction { Name = name }, $"reading the owner of {name}", cancellationToken).ConfigureAwait(false);
        return (IsZero(o.Owner) ? null : Checksum(o.Owner), o.Nonce);
    }

    /// <summary>
    /// The chain record of name@version, or null when it is not published. The bulky fields come from the version's
    /// ModelPublished event, found in the block the contract stored; they must hash to the stored record hash.
    /// </summary>
    public async Task<ChainVersionRecord?> GetVersionAsync(string name, string version, CancellationToken cancellationToken)
    {
        var stored = await _rpc.QueryAsync<GetVersionFunction, GetVersionOutput>(Address.Contract, new GetVersionFunction { Name = name, Version = version }, $"reading {name}@{version}", cancellationToken).ConfigureAwait(false);
        if (stored.RecordHash.All(b => b == 0))
        {
            return null;
        }

        var nameHash = ChainPublishRecord.Keccak(System.Text.Encoding.UTF8.GetBytes(name));
        var key = VersionKey(nameHash, version);
        var filter = new NewFilterInput
        {
            Address = [Address.Contract],
            FromBlock = new BlockParameter(new HexBigInteger(stored.BlockNumber)),
            ToBlock = new BlockParameter(new HexBigInteger(stored.BlockNumber)),
            Topics = [Topic<ModelPublishedEvent>(), nameHash.ToHex(true), key.ToHex(true)],
        };
        var logs = await _rpc.GetLogsAsync(filter, cancellationToken).ConfigureAwait(false);
        var e = logs.Select(l => (Log: l, Event: TryDecode<ModelPublishedEvent>(l))).FirstOrDefault(x => x.Event is not null);
        if (e.Event is null)
        {
            throw new ChainException(ChainErrorCodes.RecordMismatch, $"{name}@{version} is recorded in block {stored.BlockNumber}, but the node has no ModelPublished event for it there (a pruned or inconsistent node).");
        }

        var record = ToRecord(e.Event, (long)Math.Min(stored.Timestamp, ChainRpc.MaxTimestamp), stored.Yanked, $"reading {name}@{version}");
        if (!record.Record.StructHash().AsSpan().SequenceEqual(stored.RecordHash))
        {
            throw new ChainException(ChainErrorCodes.RecordMismatch, $"the ModelPublished event of {name}@{version} does not hash to the record the contract stored (0x{Convert.ToHexStringLower(stored.RecordHash)}).");
        }

        return record;
    }

    /// <summary>
    /// Verifies name@version against the chain: the record exists, its statement can be fetched and has the recorded
    /// digest, the statement's signature verifies, the key that signed it is the one the contract recovered from the
    /// EIP-712 record, every recorded field matches, and the version is not yanked. Never throws for a failed check;
    /// an unreachable node is <see cref="ChainErrorCodes.RpcUnavailable"/>.
    /// </summary>
    public async Task<ChainVerification> VerifyAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken)
    {
        var record = await GetVersionAsync(name, version, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            return ChainVerifier.Failed(null, ChainVerifier.RecordCheck, new ChainException(ChainErrorCodes.UnknownVersion, $"{name}@{version} is not published in registry {Address}."));
        }

        byte[] bytes;
        try
        {
            bytes = await Statements.FetchAsync(record.Record.StatementUri, record.Record.StatementDigest, cancellationToken).ConfigureAwait(false);
        }
        catch (ChainException ex) when (ex.Code != ChainErrorCodes.RpcUnavailable)
        {
            return ChainVerifier.Failed(record, ChainVerifier.StatementDigestCheck, ex);
        }

        return ChainVerifier.Verify(record, bytes, expected);
    }

    internal static ChainVersionRecord ToRecord(EventLog<ModelPublishedEvent> e, long timestamp, bool yanked, string blockHash, string transactionHash, long block, long logIndex) =>
        new(ChainPublishRecord.FromEvent(e.Event), Checksum(e.Event.Publisher), block, blockHash, transactionHash, logIndex,
            DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(timestamp, 0, ChainRpc.MaxTimestamp)), yanked);

    /// <summary>A record from a log and block time read through <see cref="_rpc"/>: every field the node chose is checked (<see cref="ChainErrorCodes.InvalidAnswer"/>).</summary>
    private ChainVersionRecord ToRecord(EventLog<ModelPublishedEvent> e, long timestamp, bool yanked, string what) =>
        ToRecord(e, timestamp, yanked, _rpc.Hash(e.Log.BlockHash, what, "a block hash"), _rpc.Hash(e.Log.TransactionHash, what, "a transaction hash"),
            _rpc.Quantity(e.Log.BlockNumber, what, "a block number"), _rpc.Quantity(e.Log.LogIndex, what, "a log index", int.MaxValue));

    internal static ChainTransaction ToTransaction(TransactionReceipt receipt) =>
        new(receipt.TransactionHash.ToLowerInvariant(), (long)receipt.BlockNumber.Value, receipt.BlockHash.ToLowerInvariant(), (long)(receipt.GasUsed?.Value ?? 0));

    internal static EventLog<T>? TryDecode<T>(FilterLog log)
        where T : IEventDTO, new()
    {
        if (log.Topics is not { Length: > 0 } topics || !string.Equals(topics[0]?.ToString(), Topic<T>(), StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            return log.DecodeEvent<T>();
        }
        catch (Exception ex) when (ex is Nethereum.ABI.FunctionEncoding.AbiEncodingException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            return null;
        }
    }

    internal static string Topic<T>()
        where T : IEventDTO, new() => "0x" + ABITypedRegistry.GetEvent<T>().Sha3Signature;

    internal static byte[] VersionKey(byte[] nameHash, string version) => ChainPublishRecord.Keccak(new Nethereum.ABI.ABIEncode().GetABIEncoded(
        new Nethereum.ABI.ABIValue("bytes32", nameHash), new Nethereum.ABI.ABIValue("bytes32", ChainPublishRecord.Keccak(System.Text.Encoding.UTF8.GetBytes(version)))));

    private static ChainException Refusal(string error, string action, params (string Name, object? Value)[] args) =>
        new ContractRevert(error, args.ToDictionary(a => a.Name, a => a.Value), "").ToException(action);

    internal static bool IsZero(string? address) => address is null || address.TrimStart('0', 'x').Length == 0;

    internal static string Checksum(string address) => new Nethereum.Util.AddressUtil().ConvertToChecksumAddress(address);
}

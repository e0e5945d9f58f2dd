using Nethereum.ABI;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.RPC.Eth.DTOs;

namespace InfraMind.Registry.Chain;

/// <summary>A registry event in chain order (block, log index).</summary>
public abstract record ChainEvent(long BlockNumber, string BlockHash, long LogIndex, string TransactionHash)
{
    public sealed record Published(ChainVersionRecord Record)
        : ChainEvent(Record.BlockNumber, Record.BlockHash, Record.LogIndex, Record.TransactionHash);

    public sealed record Yanked(string Name, string Version, string Owner, string Reason, long Block, string Hash, long Index, string Tx)
        : ChainEvent(Block, Hash, Index, Tx);

    public sealed record Transferred(string Name, string From, string To, long Block, string Hash, long Index, string Tx)
        : ChainEvent(Block, Hash, Index, Tx);
}

public sealed partial class ChainModelRegistry
{
    /// <summary>
    /// The registry's publish, yank and transfer events in blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/>,
    /// in chain order. The node is not trusted to have filtered or encoded them: every log must come from the registry,
    /// from that range, carry one of its event topics, decode exactly (ABI canonical, topics matching the data) and hold
    /// fields within the contract's limits. Anything else is <see cref="ChainErrorCodes.InvalidAnswer"/> for the whole
    /// range: skipping a log would lose a publish for good, since a follower's progress moves past it.
    /// </summary>
    public async Task<IReadOnlyList<ChainEvent>> GetEventsAsync(long fromBlock, long toBlock, CancellationToken cancellationToken)
    {
        var filter = new NewFilterInput
        {
            Address = [Address.Contract],
            FromBlock = new BlockParameter(new HexBigInteger(fromBlock)),
            ToBlock = new BlockParameter(new HexBigInteger(toBlock)),
            Topics = [new[] { Topic<ModelPublishedEvent>(), Topic<VersionYankedEvent>(), Topic<NameTransferredEvent>() }],
        };
        var logs = await _rpc.GetLogsAsync(filter, cancellationToken).ConfigureAwait(false);
        var what = $"reading registry events of blocks {fromBlock}..{toBlock}";
        var timestamps = new Dictionary<long, long>();
        var checkedLogs = new List<(long Block, long Index, FilterLog Log)>(logs.Length);
        foreach (var log in logs)
        {
            var block = _rpc.Quantity(log?.BlockNumber, what, "a log whose block number is");
            var index = _rpc.Quantity(log!.LogIndex, what, "a log whose index is", int.MaxValue);
            if (block < fromBlock || block > toBlock)
            {
                throw _rpc.Invalid(what, $"a log of block {block}, outside the range asked for");
            }

            if (!string.Equals(log.Address, Address.Contract, StringComparison.OrdinalIgnoreCase))
            {
                throw _rpc.Invalid(what, $"a log of another contract ({ChainRpc.Quote(log.Address)}) in block {block}");
            }

            if (log.Removed)
            {
                throw _rpc.Invalid(what, $"a removed log in block {block}");
            }

            checkedLogs.Add((block, index, log));
        }

        var result = new List<ChainEvent>(checkedLogs.Count);
        foreach (var (block, index, log) in checkedLogs.OrderBy(e => e.Block).ThenBy(e => e.Index))
        {
            var at = $"log {index} of block {block}";
            var blockHash = _rpc.Hash(log.BlockHash, what, $"for {at} a block hash");
            var tx = _rpc.Hash(log.TransactionHash, what, $"for {at} a transaction hash");
            var raw = RegistryEventData.Check(log, at);
            if (raw.Problem is { } problem)
            {
                throw _rpc.Invalid(what, problem);
            }

            switch (raw.Kind)
            {
                case RegistryEventKind.Published when TryDecode<ModelPublishedEvent>(log) is { } published:
                    if (!timestamps.TryGetValue(block, out var time))
                    {
                        time = timestamps[block] = (await _rpc.BlockAsync(block, cancellationToken).ConfigureAwait(false))?.Timestamp ?? 0;
                    }

                    result.Add(new ChainEvent.Published(ToRecord(published, time, yanked: false, blockHash, tx, block, index)));
                    break;
                case RegistryEventKind.Yanked when TryDecode<VersionYankedEvent>(log) is { } yanked:
                    result.Add(new ChainEvent.Yanked(yanked.Event.Name, yanked.Event.Version, Checksum(yanked.Event.Owner), yanked.Event.Reason, block, blockHash, index, tx));
                    break;
                case RegistryEventKind.Transferred when TryDecode<NameTransferredEvent>(log) is { } transferred:
                    result.Add(new ChainEvent.Transferred(transferred.Event.Name, Checksum(transferred.Event.From), Checksum(transferred.Event.To), block, blockHash, index, tx));
                    break;
                default:
                    throw _rpc.Invalid(what, $"{at}, which does not decode as the registry's {raw.Kind} event");
            }
        }

        return result;
    }
}

internal enum RegistryEventKind
{
    Published,
    Yanked,
    Transferred,
}

/// <summary>
/// The checks a registry log must pass before it is decoded: which event its first topic names, that its data is the
/// canonical ABI encoding of that event's fields (so truncated or padded data is refused, not half-decoded), that its
/// indexed topics are the hashes of those fields, and that every field is within the contract's limits. Strings are
/// checked as the bytes the contract holds: a name of bytes that are not UTF-8 is a name still, and decodes as one.
/// </summary>
internal static class RegistryEventData
{
    // The contract's limits (contracts/ModelRegistry.sol): name 1..128 bytes, version 1..64, statement URI 1..1024, reason 0..256.
    public const int MaxName = 128;
    public const int MaxVersion = 64;
    public const int MaxUri = 1024;
    public const int MaxReason = 256;

    public static (RegistryEventKind Kind, string? Problem) Check(FilterLog log, string at)
    {
        var topics = log.Topics?.Select(t => t?.ToString()).ToArray() ?? [];
        var kind = topics.Length == 0 ? (RegistryEventKind?)null
            : Eq(topics[0], ChainModelRegistry.Topic<ModelPublishedEvent>()) ? RegistryEventKind.Published
            : Eq(topics[0], ChainModelRegistry.Topic<VersionYankedEvent>()) ? RegistryEventKind.Yanked
            : Eq(topics[0], ChainModelRegistry.Topic<NameTransferredEvent>()) ? RegistryEventKind.Transferred
            : null;
        if (kind is not { } k)
        {
            return (default, $"{at} with a topic that is none of the registry's events");
        }

        if (topics.Length != 4 || topics.Any(t => t is null || t.Length != 66 || !t.StartsWith("0x", StringComparison.Ordinal) || !ChainHex.IsHex(t.AsSpan(2))))
        {
            return (k, $"{at} ({k}) with {topics.Length} topics, not the event's 4 32-byte topics");
        }

        byte[] data;
        try
        {
            data = (log.Data ?? "0x").HexToByteArray();
        }
        catch (FormatException)
        {
            return (k, $"{at} ({k}) whose data is not hex");
        }

        var problem = k switch
        {
            RegistryEventKind.Published => Published(data, topics),
            RegistryEventKind.Yanked => Yanked(data, topics),
            _ => Transferred(data, topics),
        };
        return (k, problem is null ? null : $"{at} ({k}) {problem}");
    }

    private static string? Published(byte[] data, string?[] topics)
    {
        if (Decode<PublishedData>(data) is not { } d
            || !Canonical(data, V("bytes", d.Name), V("bytes", d.Version), V("bytes32", d.ManifestDigest), V("bytes32", d.ImageDigest), V("bytes8", d.EndpointId),
                V("bytes32", d.StatementDigest), V("bytes", d.StatementUri), V("uint64", d.Deadline)))
        {
            return "whose data is not the event's ABI encoding (truncated, padded or of other fields)";
        }

        return Length("name", d.Name, 1, MaxName) ?? Length("version", d.Version, 1, MaxVersion) ?? Length("statementUri", d.StatementUri, 1, MaxUri)
            ?? NameAndVersion(topics, d.Name, d.Version) ?? Address(topics[3]!, "publisher");
    }

    private static string? Yanked(byte[] data, string?[] topics)
    {
        if (Decode<YankedData>(data) is not { } d || !Canonical(data, V("bytes", d.Name), V("bytes", d.Version), V("bytes", d.Reason)))
        {
            return "whose data is not the event's ABI encoding (truncated, padded or of other fields)";
        }

        return Length("name", d.Name, 1, MaxName) ?? Length("version", d.Version, 1, MaxVersion) ?? Length("reason", d.Reason, 0, MaxReason)
            ?? NameAndVersion(topics, d.Name, d.Version) ?? Address(topics[3]!, "owner");
    }

    private static string? Transferred(byte[] data, string?[] topics)
    {
        if (Decode<TransferredData>(data) is not { } d || !Canonical(data, V("bytes", d.Name)))
        {
            return "whose data is not the event's ABI encoding (truncated, padded or of other fields)";
        }

        return Length("name", d.Name, 1, MaxName)
            ?? (Eq(topics[1], Hex(ChainPublishRecord.Keccak(d.Name))) ? null : "whose name topic is not the hash of its name")
            ?? Address(topics[2]!, "from") ?? Address(topics[3]!, "to");
    }

    private static string? NameAndVersion(string?[] topics, byte[] name, byte[] version)
    {
        var nameHash = ChainPublishRecord.Keccak(name);
        if (!Eq(topics[1], Hex(nameHash)))
        {
            return "whose name topic is not the hash of its name";
        }

        var key = ChainPublishRecord.Keccak(new ABIEncode().GetABIEncoded(new ABIValue("bytes32", nameHash), new ABIValue("bytes32", ChainPublishRecord.Keccak(version))));
        return Eq(topics[2], Hex(key)) ? null : "whose version topic is not the key of its name and version";
    }

    private static string? Length(string field, byte[] value, int min, int max) =>
        value.Length >= min && value.Length <= max ? null : $"whose {field} is {value.Length} bytes, outside the contract's {min}..{max}";

    private static string? Address(string topic, string field) =>
        topic.AsSpan(2, 24).ContainsAnyExcept('0') ? $"whose {field} topic is not an address" : null;

    private static T? Decode<T>(byte[] data)
        where T : IFunctionOutputDTO, new()
    {
        try
        {
            return new FunctionCallDecoder().DecodeFunctionOutput<T>(Hex(data));
        }
        catch (Exception ex) when (ex is AbiEncodingException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            return default;
        }
    }

    private static bool Canonical(byte[] data, params ABIValue[] fields)
    {
        try
        {
            return new ABIEncode().GetABIEncoded(fields).AsSpan().SequenceEqual(data);
        }
        catch (Exception ex) when (ex is AbiEncodingException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            return false;
        }
    }

    private static ABIValue V(string type, object value) => new(type, value);

    private static bool Eq(string? a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static string Hex(byte[] bytes) => "0x" + Convert.ToHexStringLower(bytes);
}

/// <summary>ModelPublished's data with its strings as the bytes they are (string and bytes share one ABI encoding).</summary>
[FunctionOutput]
internal sealed class PublishedData : IFunctionOutputDTO
{
    [Parameter("bytes", "name", 1)] public byte[] Name { get; set; } = [];
    [Parameter("bytes", "version", 2)] public byte[] Version { get; set; } = [];
    [Parameter("bytes32", "manifestDigest", 3)] public byte[] ManifestDigest { get; set; } = [];
    [Parameter("bytes32", "imageDigest", 4)] public byte[] ImageDigest { get; set; } = [];
    [Parameter("bytes8", "endpointId", 5)] public byte[] EndpointId { get; set; } = [];
    [Parameter("bytes32", "statementDigest", 6)] public byte[] StatementDigest { get; set; } = [];
    [Parameter("bytes", "statementUri", 7)] public byte[] StatementUri { get; set; } = [];
    [Parameter("uint64", "deadline", 8)] public ulong Deadline { get; set; }
}

[FunctionOutput]
internal sealed class YankedData : IFunctionOutputDTO
{
    [Parameter("bytes", "name", 1)] public byte[] Name { get; set; } = [];
    [Parameter("bytes", "version", 2)] public byte[] Version { get; set; } = [];
    [Parameter("bytes", "reason", 3)] public byte[] Reason { get; set; } = [];
}

[FunctionOutput]
internal sealed class TransferredData : IFunctionOutputDTO
{
    [Parameter("bytes", "name", 1)] public byte[] Name { get; set; } = [];
}

public sealed partial class ChainModelRegistry
{
    /// <summary>An empty transaction (no value, no call data) from <paramref name="payer"/>: the chain's own round trip, the bench's baseline.</summary>
    internal async Task<ChainTransaction> SendValueAsync(ChainPayer payer, string to, CancellationToken cancellationToken) =>
        ToTransaction(await ChainTransactions.ExecuteAsync(_rpc, ChainId, payer, to, "0x", "sending an empty transaction", _options.Transactions, cancellationToken).ConfigureAwait(false));
}

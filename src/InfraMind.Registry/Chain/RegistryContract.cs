using System.Numerics;
using System.Reflection;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.ABI.Model;
using Nethereum.Contracts;

namespace InfraMind.Registry.Chain;

/// <summary>
/// The compiled contract (contracts/ModelRegistry.sol → ABI + creation bytecode, embedded) and the typed messages the
/// client sends and reads. The typed messages must match the ABI; a test checks every selector against it.
/// </summary>
internal static class RegistryContract
{
    private static readonly Lazy<string> AbiJson = new(() => ReadResource("ModelRegistry.abi.json"));
    private static readonly Lazy<string> Bytecode = new(() => "0x" + ReadResource("ModelRegistry.bin").Trim());
    private static readonly Lazy<ContractABI> Parsed = new(() => new Nethereum.ABI.ABIDeserialisation.ABIJsonDeserialiser().DeserialiseContract(AbiJson.Value));

    /// <summary>keccak256("InfraMind.ModelRegistry/1"): what REGISTRY_INTERFACE() answers on a real registry.</summary>
    public static readonly byte[] InterfaceId = Nethereum.Util.Sha3Keccack.Current.CalculateHash("InfraMind.ModelRegistry/1"u8.ToArray());

    public const string DomainName = "InfraMind ModelRegistry";
    public const string DomainVersion = "1";

    public static string Abi => AbiJson.Value;

    public static string CreationCode => Bytecode.Value;

    public static ContractABI Contract => Parsed.Value;

    private static string ReadResource(string name)
    {
        using var stream = typeof(RegistryContract).Assembly.GetManifestResourceStream("InfraMind.Registry.Chain." + name)
            ?? throw new InvalidOperationException($"embedded resource {name} is missing: run contracts/build.sh");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Every typed message and event (for the test that checks them against the ABI).</summary>
    public static IEnumerable<Type> MessageTypes() => typeof(RegistryContract).Assembly.GetTypes()
        .Where(t => t.Namespace == typeof(RegistryContract).Namespace && (t.GetCustomAttribute<FunctionAttribute>() is not null || t.GetCustomAttribute<EventAttribute>() is not null));
}

internal sealed class PublishRecordDto
{
    [Parameter("string", "name", 1)] public string Name { get; set; } = "";
    [Parameter("string", "version", 2)] public string Version { get; set; } = "";
    [Parameter("bytes32", "manifestDigest", 3)] public byte[] ManifestDigest { get; set; } = [];
    [Parameter("bytes32", "imageDigest", 4)] public byte[] ImageDigest { get; set; } = [];
    [Parameter("bytes8", "endpointId", 5)] public byte[] EndpointId { get; set; } = [];
    [Parameter("bytes32", "statementDigest", 6)] public byte[] StatementDigest { get; set; } = [];
    [Parameter("string", "statementUri", 7)] public string StatementUri { get; set; } = "";
    [Parameter("uint64", "deadline", 8)] public ulong Deadline { get; set; }
}

[Function("publish")]
internal sealed class PublishFunction : FunctionMessage
{
    [Parameter("tuple", "r", 1)] public PublishRecordDto Record { get; set; } = new();
    [Parameter("bytes", "signature", 2)] public byte[] Signature { get; set; } = [];
}

[Function("transfer")]
internal sealed class TransferFunction : FunctionMessage
{
    [Parameter("string", "name", 1)] public string Name { get; set; } = "";
    [Parameter("address", "newOwner", 2)] public string NewOwner { get; set; } = "";
    [Parameter("uint96", "nonce", 3)] public BigInteger NameNonce { get; set; }
    [Parameter("uint64", "deadline", 4)] public ulong Deadline { get; set; }
    [Parameter("bytes", "signature", 5)] public byte[] Signature { get; set; } = [];
}

[Function("yank")]
internal sealed class YankFunction : FunctionMessage
{
    [Parameter("string", "name", 1)] public string Name { get; set; } = "";
    [Parameter("string", "version", 2)] public string Version { get; set; } = "";
    [Parameter("string", "reason", 3)] public string Reason { get; set; } = "";
    [Parameter("uint64", "deadline", 4)] public ulong Deadline { get; set; }
    [Parameter("bytes", "signature", 5)] public byte[] Signature { get; set; } = [];
}

[Function("anchorRoot")]
internal sealed class AnchorRootFunction : FunctionMessage
{
    [Parameter("bytes32", "logId", 1)] public byte[] LogId { get; set; } = [];
    [Parameter("uint64", "size", 2)] public ulong Size { get; set; }
    [Parameter("bytes32", "root", 3)] public byte[] Root { get; set; } = [];
    [Parameter("string", "checkpoint", 4)] public string Checkpoint { get; set; } = "";
}

[Function("ownerOf", typeof(OwnerOfOutput))]
internal sealed class OwnerOfFunction : FunctionMessage
{
    [Parameter("string", "name", 1)] public string Name { get; set; } = "";
}

[FunctionOutput]
internal sealed class OwnerOfOutput : IFunctionOutputDTO
{
    [Parameter("address", "owner", 1)] public string Owner { get; set; } = "";
    [Parameter("uint96", "nonce", 2)] public BigInteger Nonce { get; set; }
}

[Function("getVersion", typeof(GetVersionOutput))]
internal sealed class GetVersionFunction : FunctionMessage
{
    [Parameter("string", "name", 1)] public string Name { get; set; } = "";
    [Parameter("string", "version", 2)] public string Version { get; set; } = "";
}

[FunctionOutput]
internal sealed class GetVersionOutput : IFunctionOutputDTO
{
    [Parameter("bytes32", "recordHash", 1)] public byte[] RecordHash { get; set; } = [];
    [Parameter("address", "publisher", 2)] public string Publisher { get; set; } = "";
    [Parameter("uint64", "blockNumber", 3)] public ulong BlockNumber { get; set; }
    [Parameter("uint64", "timestamp", 4)] public ulong Timestamp { get; set; }
    [Parameter("bool", "yanked", 5)] public bool Yanked { get; set; }
}

[Function("anchoredRoot", "bytes32")]
internal sealed class AnchoredRootFunction : FunctionMessage
{
    [Parameter("address", "anchorer", 1)] public string Anchorer { get; set; } = "";
    [Parameter("bytes32", "logId", 2)] public byte[] LogId { get; set; } = [];
    [Parameter("uint64", "size", 3)] public ulong Size { get; set; }
}

[Function("REGISTRY_INTERFACE", "bytes32")]
internal sealed class RegistryInterfaceFunction : FunctionMessage;

[Function("deployedAt", "uint256")]
internal sealed class DeployedAtFunction : FunctionMessage;

[Function("domainSeparator", "bytes32")]
internal sealed class DomainSeparatorFunction : FunctionMessage;

[Event("ModelPublished")]
internal sealed class ModelPublishedEvent : IEventDTO
{
    [Parameter("bytes32", "nameHash", 1, true)] public byte[] NameHash { get; set; } = [];
    [Parameter("bytes32", "versionKey", 2, true)] public byte[] VersionKey { get; set; } = [];
    [Parameter("address", "publisher", 3, true)] public string Publisher { get; set; } = "";
    [Parameter("string", "name", 4)] public string Name { get; set; } = "";
    [Parameter("string", "version", 5)] public string Version { get; set; } = "";
    [Parameter("bytes32", "manifestDigest", 6)] public byte[] ManifestDigest { get; set; } = [];
    [Parameter("bytes32", "imageDigest", 7)] public byte[] ImageDigest { get; set; } = [];
    [Parameter("bytes8", "endpointId", 8)] public byte[] EndpointId { get; set; } = [];
    [Parameter("bytes32", "statementDigest", 9)] public byte[] StatementDigest { get; set; } = [];
    [Parameter("string", "statementUri", 10)] public string StatementUri { get; set; } = "";
    [Parameter("uint64", "deadline", 11)] public ulong Deadline { get; set; }
}

[Event("NameTransferred")]
internal sealed class NameTransferredEvent : IEventDTO
{
    [Parameter("bytes32", "nameHash", 1, true)] public byte[] NameHash { get; set; } = [];
    [Parameter("address", "from", 2, true)] public string From { get; set; } = "";
    [Parameter("address", "to", 3, true)] public string To { get; set; } = "";
    [Parameter("string", "name", 4)] public string Name { get; set; } = "";
}

[Event("VersionYanked")]
internal sealed class VersionYankedEvent : IEventDTO
{
    [Parameter("bytes32", "nameHash", 1, true)] public byte[] NameHash { get; set; } = [];
    [Parameter("bytes32", "versionKey", 2, true)] public byte[] VersionKey { get; set; } = [];
    [Parameter("address", "owner", 3, true)] public string Owner { get; set; } = "";
    [Parameter("string", "name", 4)] public string Name { get; set; } = "";
    [Parameter("string", "version", 5)] public string Version { get; set; } = "";
    [Parameter("string", "reason", 6)] public string Reason { get; set; } = "";
}

[Event("RootAnchored")]
internal sealed class RootAnchoredEvent : IEventDTO
{
    [Parameter("address", "anchorer", 1, true)] public string Anchorer { get; set; } = "";
    [Parameter("bytes32", "logId", 2, true)] public byte[] LogId { get; set; } = [];
    [Parameter("uint64", "size", 3, true)] public ulong Size { get; set; }
    [Parameter("bytes32", "root", 4)] public byte[] Root { get; set; } = [];
    [Parameter("string", "checkpoint", 5)] public string Checkpoint { get; set; } = "";
}

using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using InfraMind.Signing;
using Nethereum.ABI;
using Nethereum.ABI.EIP712;
using Nethereum.Signer;
using Nethereum.Signer.EIP712;
using Nethereum.Util;

namespace InfraMind.Registry.Chain;

/// <summary>
/// What the contract keeps and signs for one name@version: the EIP-712 <c>Publish</c> struct. Digests are written as
/// elsewhere in InfraMind (<c>sha256:&lt;hex&gt;</c>), the endpoint id as <c>ep_&lt;16 hex&gt;</c>; on chain they are
/// bytes32 / bytes8. <see cref="StatementDigest"/> is the SHA-256 of the DSSE envelope's canonical JSON, the bytes
/// stored at <see cref="StatementUri"/>.
/// </summary>
public sealed record ChainPublishRecord(
    string Name,
    string Version,
    string ManifestDigest,
    string ImageDigest,
    string EndpointId,
    string StatementDigest,
    string StatementUri,
    ulong Deadline)
{
    internal const string PublishType = "Publish(string name,string version,bytes32 manifestDigest,bytes32 imageDigest,bytes8 endpointId,bytes32 statementDigest,string statementUri,uint64 deadline)";
    private static readonly byte[] PublishTypeHash = Keccak(System.Text.Encoding.UTF8.GetBytes(PublishType));

    /// <summary>The record of a statement about to be published.</summary>
    public static ChainPublishRecord From(PublishStatement statement, string statementDigest, string statementUri, ulong deadline)
    {
        ArgumentNullException.ThrowIfNull(statement);
        return new ChainPublishRecord(statement.ModelName, statement.Version, statement.ManifestDigest, statement.ImageDigest, statement.EndpointId, statementDigest, statementUri, deadline);
    }

    /// <summary>The EIP-712 struct hash: what the contract stores as the version's record hash.</summary>
    public byte[] StructHash() => Keccak(new ABIEncode().GetABIEncoded(
        new ABIValue("bytes32", PublishTypeHash),
        new ABIValue("bytes32", Keccak(System.Text.Encoding.UTF8.GetBytes(Name))),
        new ABIValue("bytes32", Keccak(System.Text.Encoding.UTF8.GetBytes(Version))),
        new ABIValue("bytes32", Digest(ManifestDigest, "manifest digest")),
        new ABIValue("bytes32", Digest(ImageDigest, "image digest")),
        new ABIValue("bytes8", Endpoint(EndpointId)),
        new ABIValue("bytes32", Digest(StatementDigest, "statement digest")),
        new ABIValue("bytes32", Keccak(System.Text.Encoding.UTF8.GetBytes(StatementUri))),
        new ABIValue("uint64", Deadline)));

    internal PublishRecordDto ToDto() => new()
    {
        Name = Name,
        Version = Version,
        ManifestDigest = Digest(ManifestDigest, "manifest digest"),
        ImageDigest = Digest(ImageDigest, "image digest"),
        EndpointId = Endpoint(EndpointId),
        StatementDigest = Digest(StatementDigest, "statement digest"),
        StatementUri = StatementUri,
        Deadline = Deadline,
    };

    internal static ChainPublishRecord FromEvent(ModelPublishedEvent e) => new(
        e.Name, e.Version, "sha256:" + Convert.ToHexStringLower(e.ManifestDigest), "sha256:" + Convert.ToHexStringLower(e.ImageDigest),
        "ep_" + Convert.ToHexStringLower(e.EndpointId), "sha256:" + Convert.ToHexStringLower(e.StatementDigest), e.StatementUri, e.Deadline);

    /// <summary><c>sha256:</c> + 64 hex → 32 bytes; anything else is <see cref="ChainErrorCodes.StatementInvalid"/>.</summary>
    internal static byte[] Digest(string digest, string what)
    {
        if (digest is null || !digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !ChainHex.IsLowerHex(digest.AsSpan(7)))
        {
            throw new ChainException(ChainErrorCodes.StatementInvalid, $"{what} '{digest}' is not sha256:<64 lowercase hex digits>; the chain record holds SHA-256 digests only.");
        }

        return Convert.FromHexString(digest.AsSpan(7));
    }

    internal static byte[] Endpoint(string endpointId)
    {
        if (endpointId is null || !endpointId.StartsWith("ep_", StringComparison.Ordinal) || endpointId.Length != 19 || !ChainHex.IsLowerHex(endpointId.AsSpan(3)))
        {
            throw new ChainException(ChainErrorCodes.StatementInvalid, $"endpoint id '{endpointId}' is not ep_<16 lowercase hex digits>.");
        }

        return Convert.FromHexString(endpointId.AsSpan(3));
    }

    internal static byte[] Keccak(byte[] data) => Sha3Keccack.Current.CalculateHash(data);

    public static string DigestOf(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>
/// EIP-712 signatures over the registry's typed records with the deployer's secp256k1 key, through Nethereum's
/// typed-data signer (the same encoding wallets use for <c>eth_signTypedData_v4</c>).
/// </summary>
internal sealed class ChainTypedData(long chainId, string contract)
{
    public Domain Domain { get; } = new()
    {
        Name = RegistryContract.DomainName,
        Version = RegistryContract.DomainVersion,
        ChainId = new BigInteger(chainId),
        VerifyingContract = contract,
    };

    private static readonly MemberDescription[] DomainMembers =
    [
        new() { Name = "name", Type = "string" },
        new() { Name = "version", Type = "string" },
        new() { Name = "chainId", Type = "uint256" },
        new() { Name = "verifyingContract", Type = "address" },
    ];

    public string SignPublish(ChainPublishRecord record, SigningKey key)
    {
        var dto = record.ToDto();
        return Sign(key, "Publish",
        [
            ("name", "string", dto.Name), ("version", "string", dto.Version), ("manifestDigest", "bytes32", dto.ManifestDigest),
            ("imageDigest", "bytes32", dto.ImageDigest), ("endpointId", "bytes8", dto.EndpointId), ("statementDigest", "bytes32", dto.StatementDigest),
            ("statementUri", "string", dto.StatementUri), ("deadline", "uint64", dto.Deadline),
        ]);
    }

    public string SignTransfer(string name, string newOwner, BigInteger nonce, ulong deadline, SigningKey key) =>
        Sign(key, "Transfer", [("name", "string", name), ("newOwner", "address", newOwner), ("nonce", "uint96", nonce), ("deadline", "uint64", deadline)]);

    public string SignYank(string name, string version, string reason, ulong deadline, SigningKey key) =>
        Sign(key, "Yank", [("name", "string", name), ("version", "string", version), ("reason", "string", reason), ("deadline", "uint64", deadline)]);

    /// <summary>The domain separator the contract must answer (a check that client and contract agree on the encoding).</summary>
    public byte[] DomainSeparator() => ChainPublishRecord.Keccak(new ABIEncode().GetABIEncoded(
        new ABIValue("bytes32", ChainPublishRecord.Keccak("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"u8.ToArray())),
        new ABIValue("bytes32", ChainPublishRecord.Keccak(System.Text.Encoding.UTF8.GetBytes(RegistryContract.DomainName))),
        new ABIValue("bytes32", ChainPublishRecord.Keccak(System.Text.Encoding.UTF8.GetBytes(RegistryContract.DomainVersion))),
        new ABIValue("uint256", Domain.ChainId!.Value),
        new ABIValue("address", Domain.VerifyingContract)));

    /// <summary>The digest an EIP-712 signature over a struct hash signs: keccak256(0x1901 ‖ domain separator ‖ struct hash).</summary>
    public byte[] Digest(byte[] structHash) => ChainPublishRecord.Keccak([0x19, 0x01, .. DomainSeparator(), .. structHash]);

    /// <summary>The address that signed <paramref name="structHash"/> with <paramref name="signature"/> (65 bytes, hex).</summary>
    public string Recover(byte[] structHash, string signature) =>
        EthECKey.RecoverFromSignature(MessageSigner.ExtractEcdsaSignature(signature), Digest(structHash)).GetPublicAddress();

    private string Sign(SigningKey key, string primaryType, (string Name, string Type, object Value)[] members)
    {
        var scalar = key.ExportSecp256k1Scalar();
        try
        {
            var typed = new TypedData<Domain>
            {
                Domain = Domain,
                PrimaryType = primaryType,
                Types = new Dictionary<string, MemberDescription[]>
                {
                    ["EIP712Domain"] = DomainMembers,
                    [primaryType] = members.Select(m => new MemberDescription { Name = m.Name, Type = m.Type }).ToArray(),
                },
                Message = members.Select(m => new MemberValue { TypeName = m.Type, Value = m.Value }).ToArray(),
            };
            return Eip712TypedDataSigner.Current.SignTypedDataV4(typed, new EthECKey(scalar, true));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(scalar);
        }
    }

    internal static ulong Deadline(TimeProvider time, TimeSpan lifetime) =>
        (ulong)(time.GetUtcNow() + lifetime).ToUnixTimeSeconds();

    internal static string FormatTime(ulong seconds) =>
        DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(seconds, 253402300799UL)).ToString("u", CultureInfo.InvariantCulture);
}

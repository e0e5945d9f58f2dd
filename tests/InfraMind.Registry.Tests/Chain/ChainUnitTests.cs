using System.Numerics;
using InfraMind.Registry.Chain;
using InfraMind.Signing;
using Nethereum.ABI.EIP712;
using Nethereum.Signer.EIP712;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>Pure logic of the chain backend: URLs, the EIP-712 encoding, revert decoding.</summary>
public sealed class ChainUnitTests
{
    private const string Contract = "0x5b1869d9a4c187f2eaa108f3062412ecf0526b24";

    [Theory]
    [InlineData("eth://127.0.0.1:8545/0x5B1869D9A4C187F2EAA108F3062412ECF0526B24", "http://127.0.0.1:8545/", null)]
    [InlineData("eth://node.local:8545/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24?chainId=1337", "http://node.local:8545/", 1337L)]
    [InlineData("eths://rpc.example:443/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24?chainId=1", "https://rpc.example/", 1L)]
    public void Chain_urls_parse(string url, string rpc, long? chainId)
    {
        var address = ChainRegistryAddress.Parse(url);
        Assert.Equal(new Uri(rpc), address.Rpc);
        Assert.Equal(Contract, address.Contract);
        Assert.Equal(chainId, address.ChainId);
        Assert.Equal(address, ChainRegistryAddress.Parse(address.ToString()));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8545/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24", "expected eth://")]
    [InlineData("eth://127.0.0.1/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24", "port is missing")]
    [InlineData("eth://127.0.0.1:8545/", "contract address is missing")]
    [InlineData("eth://127.0.0.1:8545/0x5b18", "is not a contract address")]
    [InlineData("eth://127.0.0.1:8545/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24?chainId=abc", "not a positive decimal")]
    [InlineData("eth://127.0.0.1:8545/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24?chain=1", "unknown parameter 'chain'")]
    [InlineData("eth://user:pw@127.0.0.1:8545/0x5b1869d9a4c187f2eaa108f3062412ecf0526b24", "user info")]
    public void Bad_chain_urls_say_what_is_wrong(string url, string reason)
    {
        var ex = Assert.Throws<ChainException>(() => ChainRegistryAddress.Parse(url));
        Assert.Equal(ChainErrorCodes.InvalidUrl, ex.Code);
        Assert.Equal(FailureKind.Usage, ex.Kind);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains("eth://HOST:PORT/0xCONTRACT", ex.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Record_hash_and_signature_follow_eip712_as_nethereum_encodes_it()
    {
        using var key = SigningKey.CreateEphemeral("k", KeyType.Secp256k1);
        var typed = new ChainTypedData(1337, Contract);
        var record = new ChainPublishRecord("m", "1.0.0", "sha256:" + new string('1', 64), "sha256:" + new string('2', 64), "ep_0123456789abcdef",
            "sha256:" + new string('3', 64), "file:///s.json", 1_900_000_000);
        var signature = typed.SignPublish(record, key);

        // The hand-written struct hash (what the contract stores) leads to the digest Nethereum's encoder signs.
        Assert.Equal(key.PublicKey.EthereumAddress, typed.Recover(record.StructHash(), signature));
        var encoded = Eip712TypedDataSigner.Current.EncodeTypedData(new TypedData<Domain>
        {
            Domain = typed.Domain,
            PrimaryType = "Publish",
            Types = new Dictionary<string, MemberDescription[]>
            {
                ["EIP712Domain"] = [new() { Name = "name", Type = "string" }, new() { Name = "version", Type = "string" }, new() { Name = "chainId", Type = "uint256" }, new() { Name = "verifyingContract", Type = "address" }],
                ["Publish"] = ChainPublishRecord.PublishType["Publish(".Length..^1].Split(',').Select(m => m.Split(' ')).Select(p => new MemberDescription { Type = p[0], Name = p[1] }).ToArray(),
            },
            Message = [new MemberValue { TypeName = "string", Value = "m" }, new MemberValue { TypeName = "string", Value = "1.0.0" }, new MemberValue { TypeName = "bytes32", Value = Convert.FromHexString(new string('1', 64)) },
                new MemberValue { TypeName = "bytes32", Value = Convert.FromHexString(new string('2', 64)) }, new MemberValue { TypeName = "bytes8", Value = Convert.FromHexString("0123456789abcdef") },
                new MemberValue { TypeName = "bytes32", Value = Convert.FromHexString(new string('3', 64)) }, new MemberValue { TypeName = "string", Value = "file:///s.json" }, new MemberValue { TypeName = "uint64", Value = new BigInteger(1_900_000_000) }],
        });
        Assert.Equal(ChainPublishRecord.Keccak(encoded), typed.Digest(record.StructHash()));

        // Any field changed is another record: the signature then recovers to some other key.
        Assert.NotEqual(key.PublicKey.EthereumAddress, typed.Recover((record with { Deadline = 1 }).StructHash(), signature));
        Assert.NotEqual(key.PublicKey.EthereumAddress, new ChainTypedData(1, Contract).Recover(record.StructHash(), signature));
    }

    [Fact]
    public void Digests_and_endpoint_ids_are_checked_before_they_go_on_chain()
    {
        Assert.Equal(ChainErrorCodes.StatementInvalid, Assert.Throws<ChainException>(() => ChainPublishRecord.Digest("sha512:" + new string('a', 64), "image digest")).Code);
        Assert.Equal(ChainErrorCodes.StatementInvalid, Assert.Throws<ChainException>(() => ChainPublishRecord.Digest("sha256:" + new string('A', 64), "image digest")).Code);
        Assert.Equal(ChainErrorCodes.StatementInvalid, Assert.Throws<ChainException>(() => ChainPublishRecord.Endpoint("ep_123")).Code);
    }

    [Fact]
    public void Reverts_decode_to_clear_messages()
    {
        // VersionExists("m", "1.0.0") as the contract encodes it.
        var error = RegistryContract.Contract.Errors.Single(e => e.Name == "VersionExists");
        var data = "0x" + error.Sha3Signature + new Nethereum.ABI.FunctionEncoding.ParametersEncoder().EncodeParameters(error.InputParameters, "m", "1.0.0").ToHexLower();
        var ex = ContractRevert.Decode(data).ToException("publishing m@1.0.0");
        Assert.Equal(ChainErrorCodes.VersionExists, ex.Code);
        Assert.Equal("publishing m@1.0.0: version exists: m@1.0.0 is published already and published versions are immutable.", ex.Message);

        var reason = "0x08c379a0" + new Nethereum.ABI.FunctionEncoding.ParametersEncoder().EncodeParameters([new Nethereum.ABI.Model.Parameter("string", 1)], "paused").ToHexLower();
        Assert.Equal("x: reverted: paused.", ContractRevert.Decode(reason).ToException("x").Message);
        Assert.Equal(ChainErrorCodes.Reverted, ContractRevert.Decode("0x").ToException("x").Code);
        Assert.Contains("unknown error", ContractRevert.Decode("0x12345678").ToException("x").Message, StringComparison.Ordinal);

        // Revert data is found in each shape nodes put it in.
        Assert.Equal(data, ContractRevert.FindRevertData(data));
        Assert.Equal(data, ContractRevert.FindRevertData(Newtonsoft.Json.Linq.JObject.Parse($"{{\"message\":\"revert\",\"data\":\"{data}\"}}")));
        Assert.Equal(data, ContractRevert.FindRevertData(Newtonsoft.Json.Linq.JObject.Parse($"{{\"0xabc\":{{\"error\":\"revert\",\"return\":\"x\",\"result\":\"{data}\"}}}}")));
        Assert.Null(ContractRevert.FindRevertData("not hex"));
    }
}

internal static class HexExtensions
{
    public static string ToHexLower(this byte[] bytes) => Convert.ToHexStringLower(bytes);
}

public sealed class ChainEndpointTests
{
    [Fact]
    public async Task An_http_server_that_is_no_chain_node_is_named_as_such()
    {
        var served = 0;
        await using var server = new ListenerServer(async (context, cancellationToken) =>
        {
            Interlocked.Increment(ref served);
            var body = "<html>gateway</html>"u8.ToArray();
            context.Response.StatusCode = 200;
            await context.Response.OutputStream.WriteAsync(body, cancellationToken);
            context.Response.Close();
        });
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync($"eth://127.0.0.1:{server.Port}/0x{new string('1', 40)}", new ChainRegistryOptions { RpcTimeout = TimeSpan.FromSeconds(5) }, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcUnavailable, ex.Code);
        Assert.Contains("not JSON-RPC", ex.Message, StringComparison.Ordinal);
        Assert.True(served >= 1, "the client never asked the server");
    }
}

using System.Reflection;
using InfraMind.Registry.Chain;
using InfraMind.Testing;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>The contract the client embeds is the one in contracts/, compiled reproducibly, and the client's messages match its ABI.</summary>
public sealed class ContractArtifactsTests
{
    private static string Committed(string file) => Path.Combine(TestEngine.RepoRoot, "src", "InfraMind.Registry", "Chain", file);

    [SkippableFact]
    public async Task Committed_abi_and_bytecode_equal_a_fresh_compile()
    {
        using var dir = new TempDirectory();
        await ChainPeer.CompileContractAsync(dir.Path);
        foreach (var file in new[] { "ModelRegistry.abi.json", "ModelRegistry.bin" })
        {
            Assert.True(File.ReadAllBytes(Committed(file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir.Path, file))),
                $"{file} differs from a fresh compile of contracts/ModelRegistry.sol: run contracts/build.sh and commit its output.");
        }
    }

    [Fact]
    public void Embedded_artefacts_are_the_committed_files()
    {
        Assert.Equal(File.ReadAllText(Committed("ModelRegistry.abi.json")), RegistryContract.Abi);
        Assert.Equal("0x" + File.ReadAllText(Committed("ModelRegistry.bin")).Trim(), RegistryContract.CreationCode);
    }

    [Fact]
    public void Every_typed_message_and_event_is_in_the_abi()
    {
        var abi = RegistryContract.Contract;
        var types = RegistryContract.MessageTypes().ToList();
        Assert.True(types.Count >= 13, $"only {types.Count} message types found");
        foreach (var type in types)
        {
            if (type.GetCustomAttribute<FunctionAttribute>() is not null)
            {
                var selector = ABITypedRegistry.GetFunctionABI(type).Sha3Signature;
                Assert.Contains(abi.Functions, f => f.Sha3Signature == selector);
            }
            else
            {
                var topic = ABITypedRegistry.GetEvent(type).Sha3Signature;
                Assert.Contains(abi.Events, e => e.Sha3Signature == topic);
            }
        }

        // Every custom error the contract can raise has a message of its own.
        foreach (var error in abi.Errors)
        {
            var decoded = new ContractRevert(error.Name, new Dictionary<string, object?>(), "0x").ToException("x");
            Assert.NotEqual(ChainErrorCodes.Reverted, decoded.Code);
        }
    }

    [Fact]
    public void Abi_has_the_events_and_functions_the_issue_names()
    {
        var abi = RegistryContract.Contract;
        Assert.Equal(["ModelPublished", "NameTransferred", "RootAnchored", "VersionYanked"], abi.Events.Select(e => e.Name).Order());
        Assert.Subset(abi.Functions.Select(f => f.Name).ToHashSet(), new HashSet<string> { "publish", "transfer", "yank", "anchorRoot", "getVersion", "ownerOf", "anchoredRoot" });
    }
}

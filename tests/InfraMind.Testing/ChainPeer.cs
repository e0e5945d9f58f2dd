using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace InfraMind.Testing;

/// <summary>
/// A real EVM dev chain: npm ganache 7.9.2 (tests/peers/chain) on a 127.0.0.1 port of its own, chain id 1337, the
/// deterministic wallet (ten funded, unlocked accounts whose keys every dev tool prints), instant mining. Ganache
/// refuses port 0, so a free port is picked and another tried when it was taken meanwhile. Stopped by its PID.
/// </summary>
public sealed class ChainPeer : PeerProcess
{
    public const long ChainId = 1337;

    /// <summary>The private keys of <c>--wallet.deterministic</c> accounts 0-9 (mnemonic "myth like bonus scare …").</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
        "0x6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
        "0x6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
        "0x646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
        "0xadd53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743",
        "0x395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
        "0xe485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
        "0xa453611d9419d0e56f499079478fd72c37b251a94bfde4d19872c44cf65386e3",
        "0x829e924fdf021ba3dbbc4225edfece9aca04b929d6e75613329ca6f1d31c0bb4",
        "0xb0057716d5917badaf911b193b12b910811c1497b5bada8d7711f758981c3773",
    ];

    /// <summary>Their addresses, in the same order.</summary>
    public static readonly IReadOnlyList<string> Accounts =
    [
        "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1", "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0",
        "0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b", "0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d",
        "0xd03ea8624C8C5987235048901fB614fDcA89b117", "0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC",
        "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9", "0x28a8746e75304c0780E011BEd21C72cD78cd535E",
        "0xACa94ef8bD5ffEE41947b4585a84BdA5a3d3DA6E", "0x1dF62f291b2E969fB0849d99D9Ce41e2F137006e",
    ];

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private int _id;

    private ChainPeer()
        : base("im-chain")
    {
    }

    public static string PeerDir => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "chain");

    public static string CliScript => Path.Combine(PeerDir, "node_modules", "ganache", "dist", "node", "cli.js");

    public static string ContractsDir => Path.Combine(TestEngine.RepoRoot, "contracts");

    /// <summary>
    /// Compiles contracts/ModelRegistry.sol with the pinned solc into <paramref name="outputDirectory"/> (what
    /// contracts/build.sh does); false when node or solc is missing and CI is not set. Under CI=true a missing compiler fails.
    /// </summary>
    public static async Task<bool> CompileContractAsync(string outputDirectory)
    {
        var node = FindExecutable("node", "tests/peers/chain/install.sh", "/usr/bin/node", "/usr/local/bin/node");
        if (node is null)
        {
            return false;
        }

        if (!File.Exists(Path.Combine(ContractsDir, "node_modules", "solc", "package.json")))
        {
            if (TestEngine.IsCi)
            {
                Assert.Fail("CI=true but the pinned solc is not installed: run tests/peers/chain/install.sh (it installs contracts/package-lock.json).");
            }

            return false;
        }

        var info = new System.Diagnostics.ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(ContractsDir, "compile.cjs"));
        info.ArgumentList.Add(outputDirectory);
        using var process = System.Diagnostics.Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"contracts/compile.cjs failed ({process.ExitCode}): {await stderr}\n{stdout}");
        return true;
    }

    /// <summary>The JSON-RPC endpoint, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Rpc => BaseUri;

    /// <summary>Starts a chain, or returns null when the peer is not installed and CI is not set. Under CI=true a missing peer fails.</summary>
    public static async Task<ChainPeer?> StartAsync(CancellationToken cancellationToken = default)
    {
        var node = FindExecutable("node", "tests/peers/chain/install.sh", "/usr/bin/node", "/usr/local/bin/node");
        if (node is null)
        {
            return null;
        }

        if (!File.Exists(CliScript))
        {
            if (TestEngine.IsCi)
            {
                Assert.Fail("CI=true but the dev chain is not installed: run tests/peers/chain/install.sh (scripts/setup-peers.sh runs it).");
            }

            return null;
        }

        var peer = new ChainPeer();
        try
        {
            await peer.StartAsync(
                node,
                port => [CliScript, "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--wallet.deterministic", "--chain.chainId", "1337", "--logging.quiet"],
                _ => Task.CompletedTask,
                _ => true,
                cancellationToken);
            // Ganache answers HTTP before its RPC is ready only for an instant; wait for a real answer.
            for (var i = 0; i < 100 && await peer.TryBlockNumberAsync(cancellationToken) is null; i++)
            {
                await Task.Delay(50, cancellationToken);
            }

            return peer;
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    private async Task<long?> TryBlockNumberAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await BlockNumberAsync(cancellationToken);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>One JSON-RPC call; a JSON-RPC error fails the test with the node's message.</summary>
    public async Task<JsonNode?> CallAsync(string method, params object[] parameters) => await CallAsync(method, CancellationToken.None, parameters);

    public async Task<JsonNode?> CallAsync(string method, CancellationToken cancellationToken, params object[] parameters)
    {
        var request = new { jsonrpc = "2.0", id = Interlocked.Increment(ref _id), method, @params = parameters };
        using var response = await Http.PostAsJsonAsync(Rpc, request, cancellationToken);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
        if (body["error"] is { } error)
        {
            throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        }

        return body["result"];
    }

    public async Task<long> BlockNumberAsync(CancellationToken cancellationToken = default) =>
        Convert.ToInt64((await CallAsync("eth_blockNumber", cancellationToken))!.GetValue<string>(), 16);

    /// <summary><c>evm_snapshot</c>: the id to revert to.</summary>
    public async Task<string> SnapshotAsync() => (await CallAsync("evm_snapshot"))!.GetValue<string>();

    /// <summary><c>evm_revert</c>: drops every block after the snapshot (a reorganisation, as a follower sees it).</summary>
    public async Task RevertAsync(string snapshot) => Assert.True((await CallAsync("evm_revert", snapshot))!.GetValue<bool>());

    /// <summary>Mines <paramref name="blocks"/> empty blocks.</summary>
    public async Task MineAsync(int blocks = 1)
    {
        for (var i = 0; i < blocks; i++)
        {
            await CallAsync("evm_mine");
        }
    }

    /// <summary>Stops (<c>miner_stop</c>) or resumes (<c>miner_start</c>) mining: sent transactions wait in the pool meanwhile.</summary>
    public async Task SetMiningAsync(bool on) => await CallAsync(on ? "miner_start" : "miner_stop");

    /// <summary>The hash of block <paramref name="number"/>.</summary>
    public async Task<string> BlockHashAsync(long number) =>
        (await CallAsync("eth_getBlockByNumber", "0x" + number.ToString("x", CultureInfo.InvariantCulture), false))!["hash"]!.GetValue<string>();

}

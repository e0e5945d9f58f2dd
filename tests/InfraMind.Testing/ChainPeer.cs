using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace InfraMind.Testing;

/// <summary>The dev chains tests/peers/chain installs: two implementations, so the client is proven on more than one.</summary>
public enum DevChainKind
{
    /// <summary>npm ganache 7.9.2.</summary>
    Ganache,

    /// <summary>npm hardhat 2.26.5's node (Hardhat 3 needs Node 22).</summary>
    Hardhat,
}

/// <summary>
/// A real EVM dev chain from tests/peers/chain on a 127.0.0.1 port of its own: ganache 7.9.2 or Hardhat 2's node,
/// chain id 1337, ten funded, unlocked accounts whose keys every dev tool prints, instant mining. Neither takes port 0,
/// so a free port is picked and another tried when it was taken meanwhile. Stopped by its PID.
/// </summary>
public sealed class ChainPeer : PeerProcess
{
    public const long ChainId = 1337;

    /// <summary>The private keys of ganache's <c>--wallet.deterministic</c> accounts 0-9 (mnemonic "myth like bonus scare …").</summary>
    public static readonly IReadOnlyList<string> GanacheKeys =
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
    public static readonly IReadOnlyList<string> GanacheAccounts =
    [
        "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1", "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0",
        "0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b", "0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d",
        "0xd03ea8624C8C5987235048901fB614fDcA89b117", "0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC",
        "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9", "0x28a8746e75304c0780E011BEd21C72cD78cd535E",
        "0xACa94ef8bD5ffEE41947b4585a84BdA5a3d3DA6E", "0x1dF62f291b2E969fB0849d99D9Ce41e2F137006e",
    ];

    /// <summary>Hardhat's default accounts 0-9 (mnemonic "test test … junk").</summary>
    public static readonly IReadOnlyList<string> HardhatKeys =
    [
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
        "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
        "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
        "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
        "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
        "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    ];

    public static readonly IReadOnlyList<string> HardhatAccounts =
    [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f", "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    ];

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private int _id;

    private ChainPeer(DevChainKind kind)
        : base("im-chain")
    {
        Kind = kind;
    }

    public DevChainKind Kind { get; }

    /// <summary>The funded accounts' private keys (0x…), 0-9.</summary>
    public IReadOnlyList<string> Keys => Kind == DevChainKind.Hardhat ? HardhatKeys : GanacheKeys;

    /// <summary>The funded, unlocked accounts' addresses, 0-9.</summary>
    public IReadOnlyList<string> Accounts => Kind == DevChainKind.Hardhat ? HardhatAccounts : GanacheAccounts;

    public static string HardhatCliScript => Path.Combine(PeerDir, "node_modules", "hardhat", "internal", "cli", "cli.js");

    public static string PeerDir => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "chain");

    public static string CliScript => Path.Combine(PeerDir, "node_modules", "ganache", "dist", "node", "cli.js");

    public static string ContractsDir => Path.Combine(TestEngine.RepoRoot, "contracts");

    /// <summary>
    /// Compiles contracts/ModelRegistry.sol with the pinned solc into <paramref name="outputDirectory"/> (what
    /// contracts/build.sh does). A missing node or solc fails or skips the test (<see cref="Peers.Missing"/>).
    /// </summary>
    public static async Task CompileContractAsync(string outputDirectory)
    {
        var node = FindExecutable("node", "tests/peers/chain/install.sh", "/usr/bin/node", "/usr/local/bin/node");
        if (!File.Exists(Path.Combine(ContractsDir, "node_modules", "solc", "package.json")))
        {
            throw Peers.Missing("the pinned solc is not installed", "run tests/peers/chain/install.sh (it installs contracts/package-lock.json)");
        }

        var info = new System.Diagnostics.ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(ContractsDir, "compile.cjs"));
        info.ArgumentList.Add(outputDirectory);
        using var process = System.Diagnostics.Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"contracts/compile.cjs failed ({process.ExitCode}): {await stderr}\n{stdout}");
    }

    /// <summary>The JSON-RPC endpoint, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Rpc => BaseUri;

    /// <summary>Starts a chain; a peer that is not installed fails or skips the test (<see cref="Peers.Missing"/>).</summary>
    public static async Task<ChainPeer> StartAsync(DevChainKind kind = DevChainKind.Ganache, CancellationToken cancellationToken = default)
    {
        var node = FindExecutable("node", "tests/peers/chain/install.sh", "/usr/bin/node", "/usr/local/bin/node");
        if (!File.Exists(kind == DevChainKind.Hardhat ? HardhatCliScript : CliScript))
        {
            throw Peers.Missing($"the {kind} dev chain is not installed", "run tests/peers/chain/install.sh (scripts/setup-peers.sh runs it)");
        }

        var peer = new ChainPeer(kind);
        try
        {
            await peer.StartAsync(
                node,
                port => kind == DevChainKind.Hardhat
                    ? [HardhatCliScript, "node", "--config", Path.Combine(PeerDir, "hardhat.config.cjs"), "--hostname", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture)]
                    : [CliScript, "--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--wallet.deterministic", "--chain.chainId", "1337", "--logging.quiet"],
                _ => Task.CompletedTask,
                _ => true,
                cancellationToken,
                // Hardhat runs only from inside the project that installed it.
                workingDirectory: PeerDir);
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

    /// <summary>
    /// Mines <paramref name="blocks"/> empty blocks in one call (ganache: <c>evm_mine {blocks}</c>, ~5,000 blocks a second
    /// here; Hardhat: <c>hardhat_mine</c>): a chain whose head is far past a registry's deployment, as on a public chain.
    /// </summary>
    public async Task MineManyAsync(int blocks)
    {
        var before = await BlockNumberAsync();
        if (Kind == DevChainKind.Ganache) await CallAsync("evm_mine", new JsonObject { ["blocks"] = blocks });
        else await CallAsync("hardhat_mine", "0x" + blocks.ToString("x", CultureInfo.InvariantCulture));
        Assert.Equal(before + blocks, await BlockNumberAsync());
    }

    /// <summary>Stops or resumes mining (ganache: <c>miner_stop</c>/<c>miner_start</c>; Hardhat: <c>evm_setAutomine</c>, then one
    /// block for what waited): sent transactions wait in the pool meanwhile.</summary>
    public async Task SetMiningAsync(bool on)
    {
        if (Kind == DevChainKind.Ganache)
        {
            await CallAsync(on ? "miner_start" : "miner_stop");
            return;
        }

        await CallAsync("evm_setAutomine", on);
        if (on)
        {
            await CallAsync("evm_mine");
        }
    }

    /// <summary>How many transactions wait in the pool.</summary>
    public async Task<int> PendingCountAsync() => Kind == DevChainKind.Ganache
        ? (await CallAsync("txpool_content"))?["pending"]?.AsObject().Sum(account => account.Value!.AsObject().Count) ?? 0
        : (await CallAsync("eth_getBlockByNumber", "pending", false))?["transactions"]?.AsArray().Count ?? 0;

    /// <summary>The hash of block <paramref name="number"/>.</summary>
    public async Task<string> BlockHashAsync(long number) =>
        (await CallAsync("eth_getBlockByNumber", "0x" + number.ToString("x", CultureInfo.InvariantCulture), false))!["hash"]!.GetValue<string>();

}

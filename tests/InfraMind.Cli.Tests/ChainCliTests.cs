using System.Globalization;
using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>One dev chain (ganache 7.9.2 from tests/peers/chain) for the CLI's chain tests; each test deploys its own registry.</summary>
public sealed class DevChainFixture : IAsyncLifetime
{
    private SharedPeer<ChainPeer> Chain { get; } = new(() => ChainPeer.StartAsync(DevChainKind.Ganache), p => p.DisposeAsync());

    /// <summary>The chain, started on first use; where it is missing a test that asks fails (peers required) or is skipped.</summary>
    public Task<ChainPeer> PeerAsync() => Chain.GetAsync();

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 disposes class fixtures only through these (an IAsyncDisposable
    // fixture left its dev chain running after every test run).
    public async Task DisposeAsync() => await Chain.DisposeAsync();
}

/// <summary>
/// The chain flow as a user runs it, each command the real `infra` process against a real dev chain: `chain deploy`,
/// `publish`/`verify`/`log` on an eth:// registry, the owner's `chain yank|transfer`, the chain's refusals named with
/// their codes, and the SQLite log proven against a root anchored on chain.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class ChainCliTests(DevChainFixture chain) : IClassFixture<DevChainFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    private string Home => _cli.Home;

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Chain_deploy_publish_verify_and_log_round_trip()
    {
        var peer = await chain.PeerAsync();
        var deployed = await DeployAsync(peer);
        var registry = deployed.GetProperty("registry").GetString()!;
        Assert.Matches("^eth://127\\.0\\.0\\.1:[0-9]+/0x[0-9a-f]{40}\\?chainId=1337$", registry);
        Assert.Matches("^0x[0-9a-f]{64}$", deployed.GetProperty("txHash").GetString());
        Assert.InRange(deployed.GetProperty("gasUsed").GetInt64(), 500_000, 3_000_000);
        Assert.Equal(peer.Accounts[0], deployed.GetProperty("payer").GetString());
        var reference = await PushTinyAsync();
        var deployer = await NewDeployerAsync("deployer");

        var published = await InfraProcess.JsonAsync(Home, 0, "publish", "--model", Model("chained"), "--image", reference, "--registry", registry, "--key", "deployer", "--payer", "payer");
        Assert.False(published.GetProperty("alreadyPublished").GetBoolean());
        Assert.Equal(JsonValueKind.Null, published.GetProperty("index").ValueKind);
        Assert.Equal(registry, published.GetProperty("registry").GetString());
        Assert.Equal(deployer, published.GetProperty("publisherAddress").GetString());
        Assert.Matches("^0x[0-9a-f]{64}$", published.GetProperty("txHash").GetString());
        Assert.True(published.GetProperty("block").GetInt64() > deployed.GetProperty("block").GetInt64());
        Assert.InRange(published.GetProperty("gasUsed").GetInt64(), 50_000, 120_000);
        Assert.StartsWith("file://" + Home, published.GetProperty("statementUri").GetString(), StringComparison.Ordinal);

        // The same statement again is the same record, and costs nothing.
        var again = await InfraProcess.JsonAsync(Home, 0, "publish", "--model", Model("chained"), "--image", reference, "--registry", registry, "--key", "deployer", "--payer", "payer");
        Assert.True(again.GetProperty("alreadyPublished").GetBoolean());
        Assert.Equal(published.GetProperty("txHash").GetString(), again.GetProperty("txHash").GetString());
        Assert.Equal(JsonValueKind.Null, again.GetProperty("gasUsed").ValueKind);

        var verified = await InfraProcess.JsonAsync(Home, 0, "verify", "chained@1.0.0", "--registry", registry);
        Assert.True(verified.GetProperty("passed").GetBoolean());
        Assert.Equal(["record", "statement-digest", "signature", "chain-signer", "statement", "yanked", "manifest"],
            verified.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(published.GetProperty("block").GetInt64(), verified.GetProperty("block").GetInt64());
        var text = await InfraProcess.RunAsync(Home, "verify", "chained@1.0.0", "--registry", registry);
        Assert.True(text.Code == 0, text.Err);
        Assert.Contains("✓ chain-signer", text.Out, StringComparison.Ordinal);
        Assert.Contains("verified", text.Out, StringComparison.Ordinal);

        // A later version, paid by an unlocked account of the node; NAME alone means the highest release.
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("chained", "1.1.0"), "--image", reference, "--registry", registry, "--key", "deployer", "--payer", peer.Accounts[2])).Code);
        var latest = await InfraProcess.JsonAsync(Home, 0, "verify", "chained", "--registry", registry);
        Assert.Equal("1.1.0", latest.GetProperty("version").GetString());

        var log = await InfraProcess.JsonAsync(Home, 0, "log", "--registry", registry);
        var events = log.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(["1.0.0", "1.1.0"], events.Select(e => e.GetProperty("version").GetString()!).ToArray());
        Assert.All(events, e => Assert.Equal("published", e.GetProperty("type").GetString()));
        Assert.All(events, e => Assert.Equal(deployer, e.GetProperty("publisher").GetString()));
        var page = await InfraProcess.JsonAsync(Home, 0, "log", "--registry", registry, "--start", "1", "--limit", "1");
        Assert.Equal("1.1.0", page.GetProperty("events").EnumerateArray().Single().GetProperty("version").GetString());

        // Without --payer the signing key pays: a fresh key holds no ether.
        var unfunded = await InfraProcess.FailsAsync(Home, 1, "IM5721", "publish", "--model", Model("chained", "1.2.0"), "--image", reference, "--registry", registry, "--key", "deployer");
        Assert.Contains("--payer", unfunded, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Chain_refusals_and_unreachable_nodes_are_named_with_their_codes()
    {
        var peer = await chain.PeerAsync();
        var registry = (await DeployAsync(peer)).GetProperty("registry").GetString()!;
        var reference = await PushTinyAsync();
        await NewDeployerAsync("alice");
        await NewDeployerAsync("mallory");
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "keys", "generate", "--name", "p256")).Code);
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("owned"), "--image", reference, "--registry", registry, "--key", "alice", "--payer", "payer")).Code);

        // The contract's refusals, decoded: another key cannot publish an owned name; a version never changes.
        var owned = await InfraProcess.FailsAsync(Home, 1, "IM5710", "publish", "--model", Model("owned", "1.1.0"), "--image", reference, "--registry", registry, "--key", "mallory", "--payer", "payer");
        Assert.Contains("name owned by another key", owned, StringComparison.Ordinal);
        var changed = Model("owned");
        await File.AppendAllTextAsync(changed, "# other bytes, same version\n");
        var exists = await InfraProcess.FailsAsync(Home, 1, "IM5711", "publish", "--model", changed, "--image", reference, "--registry", registry, "--key", "alice", "--payer", "payer");
        Assert.Contains("version exists", exists, StringComparison.Ordinal);

        // A P-256 key cannot sign a chain record, and a payer the node does not hold unlocked cannot pay: usage errors, found before anything is sent.
        await InfraProcess.FailsAsync(Home, 2, "IM5740", "publish", "--model", Model("owned", "1.2.0"), "--image", reference, "--registry", registry, "--key", "p256", "--payer", "payer");
        await InfraProcess.FailsAsync(Home, 2, "IM5741", "publish", "--model", Model("owned", "1.2.0"), "--image", reference, "--registry", registry, "--key", "alice", "--payer", "0x" + new string('1', 40));
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "publish", "--model", Model("owned", "1.2.0"), "--image", reference, "--key", "alice", "--payer", "payer");

        // Where the registry is not: a node that does not answer (exit 4), another chain, an address without code, a malformed URL.
        var down = $"127.0.0.1:{PeerProcess.FreePort().ToString(CultureInfo.InvariantCulture)}";
        var contract = registry[(registry.LastIndexOf('/') + 1)..registry.IndexOf('?', StringComparison.Ordinal)];
        await InfraProcess.FailsAsync(Home, 4, "IM5701", "chain", "deploy", "--rpc", $"http://{down}/", "--payer", "payer");
        await InfraProcess.FailsAsync(Home, 4, "IM5701", "verify", "owned@1.0.0", "--registry", $"eth://{down}/{contract}");
        await InfraProcess.FailsAsync(Home, 4, "IM5701", "publish", "--model", Model("owned", "1.2.0"), "--image", reference, "--registry", $"eth://{down}/{contract}", "--key", "alice", "--payer", "payer");
        var json = await InfraProcess.JsonAsync(Home, 4, "log", "--registry", $"eth://{down}/{contract}");
        Assert.Equal("IM5701", json.GetProperty("error").GetProperty("code").GetString());
        var wrongChain = await InfraProcess.FailsAsync(Home, 1, "IM5702", "verify", "owned@1.0.0", "--registry", registry.Replace("chainId=1337", "chainId=5", StringComparison.Ordinal));
        Assert.Contains("chain 1337, not chain 5", wrongChain, StringComparison.Ordinal);
        await InfraProcess.FailsAsync(Home, 1, "IM5703", "verify", "owned@1.0.0", "--registry", $"eth://{peer.HostPort}/{peer.Accounts[5]}");
        await InfraProcess.FailsAsync(Home, 2, "IM5705", "verify", "owned@1.0.0", "--registry", $"eth://{peer.HostPort}/0x1234");
        await InfraProcess.FailsAsync(Home, 1, "IM5715", "verify", "never-published", "--registry", registry);
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "verify", "owned@1.0.0", "--registry", registry, "--offline", "bundle.json");
    }

    [SkippableFact]
    public async Task Chain_yank_fails_verification_and_transfer_hands_the_name_over()
    {
        var peer = await chain.PeerAsync();
        var registry = (await DeployAsync(peer)).GetProperty("registry").GetString()!;
        var reference = await PushTinyAsync();
        await NewDeployerAsync("alice");
        var bob = await NewDeployerAsync("bob");
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("handed"), "--image", reference, "--registry", registry, "--key", "alice", "--payer", "payer")).Code);

        // Only the owner's key yanks; the record stays and fails its `yanked` check.
        await InfraProcess.FailsAsync(Home, 1, "IM5710", "chain", "yank", "handed@1.0.0", "--registry", registry, "--key", "bob", "--payer", "payer");
        var yanked = await InfraProcess.JsonAsync(Home, 0, "chain", "yank", "handed@1.0.0", "--registry", registry, "--key", "alice", "--payer", "payer", "--reason", "superseded");
        Assert.InRange(yanked.GetProperty("gasUsed").GetInt64(), 20_000, 80_000);
        var verified = await InfraProcess.JsonAsync(Home, 1, "verify", "handed@1.0.0", "--registry", registry);
        Assert.True(verified.GetProperty("yanked").GetBoolean());
        var failed = verified.GetProperty("checks").EnumerateArray().Where(c => !c.GetProperty("passed").GetBoolean()).ToList();
        Assert.Equal("yanked", Assert.Single(failed).GetProperty("name").GetString());
        Assert.Equal("IM5734", failed[0].GetProperty("code").GetString());
        await InfraProcess.FailsAsync(Home, 1, "IM5716", "chain", "yank", "handed@1.0.0", "--registry", registry, "--key", "alice", "--payer", "payer");
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "chain", "yank", "handed", "--registry", registry, "--key", "alice", "--payer", "payer");

        // A transfer hands the name to bob's key: bob publishes, alice no longer can.
        var transferred = await InfraProcess.JsonAsync(Home, 0, "chain", "transfer", "handed", "--to", bob, "--registry", registry, "--key", "alice", "--payer", "payer");
        Assert.Equal(bob, transferred.GetProperty("newOwner").GetString());
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("handed", "2.0.0"), "--image", reference, "--registry", registry, "--key", "bob", "--payer", "payer")).Code);
        await InfraProcess.FailsAsync(Home, 1, "IM5710", "publish", "--model", Model("handed", "3.0.0"), "--image", reference, "--registry", registry, "--key", "alice", "--payer", "payer");

        var log = await InfraProcess.JsonAsync(Home, 0, "log", "--registry", registry);
        Assert.Equal(["published", "yanked", "transferred", "published"], log.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()!).ToArray());
    }

    [SkippableFact]
    public async Task A_read_across_many_blocks_says_how_far_it_got_on_stderr_and_keeps_stdout_clean()
    {
        // 20,000 empty blocks between two publishes (ten ranges of 2,000): as on a public chain, where a registry's
        // events are far apart. Both reads that walk the events (log, and verify NAME without a version) report each
        // tenth on stderr; stdout stays one JSON document and the events past the blocks are all there.
        var peer = await chain.PeerAsync();
        var registry = (await DeployAsync(peer)).GetProperty("registry").GetString()!;
        var reference = await PushTinyAsync();
        await NewDeployerAsync("far");
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("far", "1.0.0"), "--image", reference, "--registry", registry, "--key", "far", "--payer", "payer")).Code);
        await peer.MineManyAsync(20_000);
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("far", "1.1.0"), "--image", reference, "--registry", registry, "--key", "far", "--payer", "payer")).Code);

        foreach (var args in new[] { new[] { "log", "--registry", registry, "--json" }, ["verify", "far", "--registry", registry, "--json"] })
        {
            var (code, stdout, stderr) = await InfraProcess.RunAsync(Home, args);
            Assert.True(code == 0, stderr);
            var json = System.Text.Json.JsonDocument.Parse(stdout).RootElement;
            if (args[0] == "log") Assert.Equal(["1.0.0", "1.1.0"], json.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("version").GetString()!).ToArray());
            else Assert.Equal("1.1.0", json.GetProperty("version").GetString());
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("registry events: block", StringComparison.Ordinal)).ToList();
            Assert.True(lines.Count >= 5, stderr);
            Assert.All(lines, l => Assert.Matches(@"^  registry events: block [0-9,]+ of [0-9,]+ \([0-9.]+%, [0-9.]+ s\)$", l));
            Assert.Contains("(100%", lines[^1], StringComparison.Ordinal);
        }

        // A short read says nothing: the registry deployed just now.
        var quiet = (await InfraProcess.JsonAsync(Home, 0, "chain", "deploy", "--rpc", peer.Rpc.ToString(), "--payer", "payer", "--chain-id", "1337")).GetProperty("registry").GetString()!;
        var (_, _, silent) = await InfraProcess.RunAsync(Home, "log", "--registry", quiet, "--json");
        Assert.DoesNotContain("registry events", silent, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Chain_anchor_proves_a_log_entry_against_a_root_recorded_on_chain()
    {
        var peer = await chain.PeerAsync();
        var registry = (await DeployAsync(peer)).GetProperty("registry").GetString()!;
        var reference = await PushTinyAsync();
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "keys", "generate")).Code);
        for (var minor = 0; minor < 2; minor++)
            Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("logged", $"1.{minor}.0"), "--image", reference)).Code);

        var anchor = await InfraProcess.JsonAsync(Home, 0, "chain", "anchor", "--chain", registry, "--payer", "payer");
        Assert.Equal(2, anchor.GetProperty("size").GetInt64());
        Assert.Equal(peer.Accounts[0], anchor.GetProperty("anchorer").GetString());
        Assert.False(anchor.GetProperty("alreadyAnchored").GetBoolean());
        Assert.InRange(anchor.GetProperty("gasUsed").GetInt64(), 30_000, 120_000);
        Assert.True((await InfraProcess.JsonAsync(Home, 0, "chain", "anchor", "--chain", registry, "--payer", "payer")).GetProperty("alreadyAnchored").GetBoolean());

        // The log grows after the anchor: an anchored entry is proven through a consistency proof to the entry's checkpoint.
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "publish", "--model", Model("logged", "1.2.0"), "--image", reference)).Code);
        var proven = await InfraProcess.JsonAsync(Home, 0, "verify", "logged@1.0.0", "--anchor", registry, "--anchorer", peer.Accounts[0]);
        var check = proven.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "anchor");
        Assert.True(check.GetProperty("passed").GetBoolean());
        Assert.Contains("anchored on chain at size 2", check.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // An entry after the anchored size, or anchors by someone else, prove nothing; anchoring again covers it.
        var uncovered = await InfraProcess.JsonAsync(Home, 1, "verify", "logged@1.2.0", "--anchor", registry, "--anchorer", peer.Accounts[0]);
        Assert.Equal("IM5751", uncovered.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "anchor").GetProperty("code").GetString());
        await InfraProcess.JsonAsync(Home, 1, "verify", "logged@1.0.0", "--anchor", registry, "--anchorer", peer.Accounts[3]);
        Assert.Equal(3, (await InfraProcess.JsonAsync(Home, 0, "chain", "anchor", "--chain", registry, "--payer", "payer")).GetProperty("size").GetInt64());
        Assert.True((await InfraProcess.JsonAsync(Home, 0, "verify", "logged@1.2.0", "--anchor", registry, "--anchorer", peer.Accounts[0])).GetProperty("passed").GetBoolean());

        // The same proof offline, from a saved bundle (its checkpoint is the anchored size: no consistency proof needed).
        var bundle = Path.Combine(_cli.Work, "bundle.json");
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "verify", "logged@1.2.0", "--save", bundle)).Code);
        Assert.True((await InfraProcess.JsonAsync(Home, 0, "verify", "logged@1.2.0", "--offline", bundle, "--anchor", registry, "--anchorer", peer.Accounts[0])).GetProperty("passed").GetBoolean());
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "verify", "logged@1.0.0", "--anchor", registry);
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "verify", "logged@1.0.0", "--anchor", registry, "--anchorer", "0x12");
    }

    [SkippableFact]
    public async Task Chain_statements_behind_http_verify_from_another_home_and_a_store_it_cannot_read_fails_that_check()
    {
        var peer = await chain.PeerAsync();
        await using var nginx = await NginxPeer.StartAsync();
        var registry = (await DeployAsync(peer)).GetProperty("registry").GetString()!;
        var reference = await PushTinyAsync();
        await NewDeployerAsync("deployer");
        var store = new Uri(nginx.BaseUri, "statements/").ToString();
        var published = await InfraProcess.JsonAsync(Home, 0, "publish", "--model", Model("remote"), "--image", reference, "--registry", registry,
            "--key", "deployer", "--payer", "payer", "--statement-store", store);
        var uri = published.GetProperty("statementUri").GetString()!;
        Assert.StartsWith(store, uri, StringComparison.Ordinal);
        Assert.True(File.Exists(nginx.FilePath(new Uri(uri).AbsolutePath)));

        // A verifier elsewhere (another home: no keys, no local statements) needs the chain URL and the store, nothing else.
        using var elsewhere = new CliRunner();
        var verified = await InfraProcess.JsonAsync(elsewhere.Home, 0, "verify", "remote@1.0.0", "--registry", registry, "--statement-store", store);
        Assert.True(verified.GetProperty("passed").GetBoolean());

        // Without the store it may not fetch from the host the record names (a publisher's URI never sends a verifier anywhere).
        var blind = await InfraProcess.JsonAsync(elsewhere.Home, 1, "verify", "remote@1.0.0", "--registry", registry);
        var digest = blind.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "statement-digest");
        Assert.Equal("IM5730", digest.GetProperty("code").GetString());

        // The store altered after the publish: the digest on chain catches it.
        await File.WriteAllTextAsync(nginx.FilePath(new Uri(uri).AbsolutePath), "{}");
        var altered = await InfraProcess.JsonAsync(elsewhere.Home, 1, "verify", "remote@1.0.0", "--registry", registry, "--statement-store", store);
        Assert.Equal("IM5731", altered.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "statement-digest").GetProperty("code").GetString());
        await InfraProcess.FailsAsync(Home, 2, "IM0002", "verify", "remote@1.0.0", "--registry", registry, "--statement-store", "ipfs://bafy");
    }

    /// <summary>Imports the chain's funded account 0 as key "payer" and deploys a registry it pays for.</summary>
    private async Task<JsonElement> DeployAsync(ChainPeer peer)
    {
        var keyFile = Path.Combine(_cli.Work, "payer.hex");
        await File.WriteAllTextAsync(keyFile, peer.Keys[0]);
        Assert.Equal(0, (await InfraProcess.RunAsync(Home, "keys", "import", "--name", "payer", "--type", "secp256k1", "--private-key-file", keyFile)).Code);
        return await InfraProcess.JsonAsync(Home, 0, "chain", "deploy", "--rpc", peer.Rpc.ToString(), "--payer", "payer", "--chain-id", "1337");
    }

    /// <summary>A fresh (unfunded) secp256k1 deployer key; its Ethereum address.</summary>
    private async Task<string> NewDeployerAsync(string name) =>
        (await InfraProcess.JsonAsync(Home, 0, "keys", "generate", "--name", name, "--type", "secp256k1")).GetProperty("address").GetString()!;

    private async Task<string> PushTinyAsync()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var tag = await TinyImage.EnsureAsync(engine);
        return (await InfraProcess.JsonAsync(Home, 0, "push", "--image", tag, "--to", "local")).GetProperty("reference").GetString()!;
    }

    private string Model(string name, string version = "1.0.0") => _cli.SummarizerModel(name, version);
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using InfraMind.Registry.Chain;
using InfraMind.Registry.Models;
using InfraMind.Signing;

// The on-chain registry on a dev chain (bench/chain.sh starts ganache): gas of each operation, publishes per second
// with concurrent publishers against empty transactions from the same payers (the chain's own ceiling, measured in
// the same run), and the time from a confirmed publish to the follower serving it.
var rpc = new Uri(Arg("--rpc") ?? throw new ArgumentException("--rpc http://127.0.0.1:PORT/ is required (bench/chain.sh gives it)"));
var publishers = int.Parse(Arg("--publishers") ?? "8", CultureInfo.InvariantCulture);
var total = int.Parse(Arg("--publishes") ?? "96", CultureInfo.InvariantCulture);
var chain = Arg("--chain") ?? "hardhat";
string[] keys = chain == "ganache" ?
[
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d", "6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c", "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
    "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743", "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
    "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52", "a453611d9419d0e56f499079478fd72c37b251a94bfde4d19872c44cf65386e3",
    "829e924fdf021ba3dbbc4225edfece9aca04b929d6e75613329ca6f1d31c0bb4", "b0057716d5917badaf911b193b12b910811c1497b5bada8d7711f758981c3773",
] :
[
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80", "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a", "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a", "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e", "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97", "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];
if (publishers is < 1 or > 8) throw new ArgumentException("--publishers is 1-8 (the dev chain funds 10 accounts; 0 deploys, 9 receives)");

var dir = Directory.CreateTempSubdirectory("im-chain-bench-");
try
{
    var fast = new ChainTransactionOptions { PollInterval = TimeSpan.FromMilliseconds(10) };
    var options = new ChainRegistryOptions { StatementStore = new DirectoryStatementStore(Path.Combine(dir.FullName, "statements")), Transactions = fast };
    var payers = keys.Select((k, i) => ChainPayer.FromKey(SigningKey.FromSecp256k1Scalar($"payer{i}", Convert.FromHexString(k)))).ToArray();
    var deployment = await ChainModelRegistry.DeployAsync(rpc, payers[0], null, options, CancellationToken.None);
    using var registry = await ChainModelRegistry.ConnectAsync(deployment.Registry, options, CancellationToken.None);
    Console.WriteLine($"{chain}: registry {deployment.Registry} (deploy: {deployment.Transaction.GasUsed:N0} gas)");

    // Gas: first version of a name (creates the owner slot), a later version, yank, transfer, anchor.
    var owners = Enumerable.Range(0, Math.Max(2, publishers)).Select(i => SigningKey.CreateEphemeral($"deployer{i}", KeyType.Secp256k1)).ToArray();
    var first = await registry.PublishAsync(Envelope(owners[0], "gas-model", "1.0.0"), owners[0], payers[1], CancellationToken.None);
    var second = await registry.PublishAsync(Envelope(owners[0], "gas-model", "1.1.0"), owners[0], payers[1], CancellationToken.None);
    var yank = await registry.YankAsync("gas-model", "1.0.0", "superseded", owners[0], payers[1], CancellationToken.None);
    var transfer = await registry.TransferAsync("gas-model", owners[1].PublicKey.EthereumAddress!, owners[0], payers[1], CancellationToken.None);
    await using var log = await ModelRegistry.OpenAsync(Path.Combine(dir.FullName, "log"), TimeProvider.System, null, null, CancellationToken.None);
    using (var p = SigningKey.CreateEphemeral("log-publisher"))
    {
        await log.PublishAsync(Dsse.SignPublish(PublishStatement.Create("logged", "1.0.0", "sha256:" + new string('a', 64), "name: logged\n"u8, [], p.PublicKey, TimeProvider.System), p), CancellationToken.None);
    }

    var anchor = await registry.AnchorCheckpointAsync(await log.GetCheckpointAsync(CancellationToken.None), payers[2], CancellationToken.None);
    var statementBytes = Envelope(owners[0], "gas-model", "1.0.0").ToCanonicalJson().Length;
    Console.WriteLine();
    Console.WriteLine("gas (target: publish <= 120k; an ENS registration costs ~260k)");
    Console.WriteLine($"  publish, first version of a name  {first.Transaction!.GasUsed,9:N0}  (statement of {statementBytes:N0} bytes stays off chain: sha256 + URI)");
    Console.WriteLine($"  publish, next version             {second.Transaction!.GasUsed,9:N0}");
    Console.WriteLine($"  yank                              {yank.GasUsed,9:N0}");
    Console.WriteLine($"  transfer                          {transfer.GasUsed,9:N0}");
    Console.WriteLine($"  anchor a log checkpoint           {anchor.Transaction!.GasUsed,9:N0}");

    // Throughput: `publishers` tasks, each with its own deployer key and payer, publishing versions back to back;
    // the baseline is the same tasks sending empty transactions (what the chain and RPC round trips allow at all).
    var perPublisher = Math.Max(1, total / publishers);
    var baseline = await Rate(publishers * perPublisher, publishers, async (i, n) =>
        await registry.SendValueAsync(payers[i + 1], payers[9].Address, CancellationToken.None));
    var one = await Rate(perPublisher, 1, async (i, n) =>
        await registry.PublishAsync(Envelope(owners[0], "solo", $"1.0.{n}"), owners[0], payers[1], CancellationToken.None));
    var rate = await Rate(publishers * perPublisher, publishers, async (i, n) =>
        await registry.PublishAsync(Envelope(owners[i], $"model-{i}", $"2.0.{n}"), owners[i], payers[i + 1], CancellationToken.None));
    Console.WriteLine();
    Console.WriteLine("throughput (a publish = store the statement, 3 reads, estimate, send, wait for the receipt; an empty transaction = estimate, send, receipt)");
    Console.WriteLine($"  empty transactions, {publishers} senders, {publishers * perPublisher} in all   {baseline,8:F1}/s  (baseline)");
    Console.WriteLine($"  publishes, 1 publisher, {perPublisher} in all          {one,8:F1}/s  ({one / baseline:F2}x baseline)");
    Console.WriteLine($"  publishes, {publishers} publishers, {publishers * perPublisher} in all        {rate,8:F1}/s  ({rate / baseline:F2}x baseline)");

    // From a confirmed publish (receipt) to the follower serving it, syncing every 100 ms (confirmation depth 0).
    using var indexer = ChainIndexer.Open(registry, Path.Combine(dir.FullName, "index"));
    await indexer.SyncAsync(CancellationToken.None);
    using var cts = new CancellationTokenSource();
    var follow = indexer.RunAsync(TimeSpan.FromMilliseconds(100), cts.Token);
    var latencies = new List<double>();
    for (var n = 0; n < 10; n++)
    {
        var receipt = await registry.PublishAsync(Envelope(owners[0], "followed", $"1.0.{n}"), owners[0], payers[1], CancellationToken.None);
        var watch = Stopwatch.StartNew();
        while (!indexer.Servable.Any(v => v.Record.Name == "followed" && v.Record.Version == receipt.Record.Version))
        {
            await Task.Delay(2);
        }

        latencies.Add(watch.Elapsed.TotalMilliseconds);
    }

    await cts.CancelAsync();
    try
    {
        await follow;
    }
    catch (OperationCanceledException)
    {
    }

    latencies.Sort();
    Console.WriteLine();
    Console.WriteLine($"confirmed publish -> served by the follower (sync every 100 ms, depth 0): median {latencies[latencies.Count / 2]:F0} ms, max {latencies[^1]:F0} ms (10 publishes)");
    foreach (var p in payers)
    {
        p.Dispose();
    }
}
finally
{
    dir.Delete(recursive: true);
}

static DsseEnvelope Envelope(SigningKey key, string name, string version) =>
    Dsse.SignPublish(PublishStatement.Create(name, version, "sha256:" + new string('a', 64), Encoding.UTF8.GetBytes($"name: {name}\nversion: {version}\n"),
        [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)], key.PublicKey, TimeProvider.System), key);

static async Task<double> Rate(int operations, int tasks, Func<int, int, Task> operation)
{
    var per = operations / tasks;
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, tasks).Select(async i =>
    {
        for (var n = 0; n < per; n++)
        {
            await operation(i, n);
        }
    }));
    return per * tasks / watch.Elapsed.TotalSeconds;
}

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

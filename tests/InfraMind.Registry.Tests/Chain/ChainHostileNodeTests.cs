using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Registry.Chain;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>
/// A chain node that is broken or hostile (<see cref="FakeChainNode"/>): every answer it can give ends in bounded time
/// and memory as a coded error in our own words, nothing it sends is indexed half-checked, and the follower resumes
/// where it stopped once the node is healthy again.
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed class ChainHostileNodeTests
{
    private static readonly ChainRegistryOptions Options = new() { RpcTimeout = TimeSpan.FromSeconds(2) };

    /// <summary>Words of .NET, Json.NET or Nethereum that a user must never read in a message.</summary>
    private static readonly string[] LibraryText = ["Exception", "Nethereum", "Newtonsoft", "HttpClient", "Path '", "buffer size", "Int64", "Object reference"];

    private static void AssertOurWords(ChainException ex)
    {
        foreach (var word in LibraryText)
        {
            Assert.DoesNotContain(word, ex.Message, StringComparison.Ordinal);
        }

        Assert.True(ex.Message.Length < 400, $"{ex.Message.Length} characters: {ex.Message[..Math.Min(ex.Message.Length, 400)]}");
        Assert.NotNull(ex.Hint);
    }

    public static TheoryData<string, string> Unanswered => new()
    {
        { "endless", "more than the 32 MiB a JSON-RPC answer may have" },
        { "declared-too-large", "more than the 32 MiB a JSON-RPC answer may have; refused unread" },
        { "slow", "does not answer within 2 s" },
        { "nested", "JSON nested deeper than 64 levels" },
        { "html", "answers something that is not JSON-RPC (invalid JSON at line" },
        { "shape", "answered chain id missing, not a number from 0 to" },
        { "502", "answered HTTP 502 (BadGateway), not a JSON-RPC answer" },
        { "closed", "does not answer (it closed the connection before its answer ended)" },
    };

    [Theory]
    [MemberData(nameof(Unanswered))]
    public async Task An_answer_without_end_too_slow_or_not_json_rpc_is_unavailable_in_our_words(string kind, string says)
    {
        await using var node = new FakeChainNode();
        FakeChainNode.Reply reply = kind switch
        {
            "endless" => FakeChainNode.Reply.Endless(),
            "declared-too-large" => new FakeChainNode.Reply.Raw(async (s, _, ct) => await s.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n{"u8.ToArray(), ct)),
            "slow" => FakeChainNode.Reply.Slow("""{"jsonrpc":"2.0","id":0,"result":"0x539"}"""),
            "nested" => FakeChainNode.Reply.Result(new string('[', 100_000) + new string(']', 100_000)),
            "html" => new FakeChainNode.Reply.Body("<html><body>502 Bad Gateway</body></html>"),
            "shape" => FakeChainNode.Reply.Result("""{"not":"a quantity"}"""),
            "502" => new FakeChainNode.Reply.Raw(async (s, _, ct) => await s.WriteAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>"u8.ToArray(), ct)),
            _ => new FakeChainNode.Reply.Raw(async (s, _, ct) => await s.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"jsonrpc\""u8.ToArray(), ct)),
        };
        node.Override = (method, _) => method == "eth_chainId" ? reply : null;

        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        // Only the slow answer meets the 2 s timeout; the others must end on their own limit, even on a loaded machine.
        var options = kind == "slow" ? Options : Options with { RpcTimeout = TimeSpan.FromSeconds(30) };
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(node.Url, options, CancellationToken.None));
        clock.Stop();
        // An answer of JSON-RPC's shape whose result is not a quantity is an invalid answer; anything else, no answer.
        Assert.Equal(kind == "shape" ? ChainErrorCodes.InvalidAnswer : ChainErrorCodes.RpcUnavailable, ex.Code);
        Assert.Equal(FailureKind.Unavailable, ex.Kind);
        Assert.Contains($"reading the chain id: the chain node at http://127.0.0.1:{node.Port}/ ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(says, ex.Message, StringComparison.Ordinal);
        AssertOurWords(ex);
        // Bounded: the client's timeout (2 s here) and its 32 MiB answer limit, whatever the node sends.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(kind == "slow" ? 8 : 30), $"took {clock.Elapsed}");
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < 400L * 1024 * 1024, $"allocated {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1024 / 1024} MiB");
    }

    [Fact]
    public async Task A_node_error_text_is_quoted_bounded_and_escaped()
    {
        await using var node = new FakeChainNode();
        node.Override = (method, _) => method == "eth_chainId" ? FakeChainNode.Reply.Error(-32000, "\u001b[2J\u001b]0;owned\u0007" + new string('x', 1_000_000)) : null;
        var ex = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcError, ex.Code);
        Assert.Contains("answered error -32000: \\u001B[2J", ex.Message, StringComparison.Ordinal);
        Assert.Matches(@"x… \(100\d{4} characters\)$", ex.Message);
        Assert.DoesNotContain('\u001b', ex.Message);
        Assert.True(ex.Message.Length < 400, $"{ex.Message.Length} characters");
    }

    [Fact]
    public async Task Numbers_and_hashes_no_chain_has_are_invalid_answers_and_the_follower_recovers()
    {
        await using var node = new FakeChainNode();
        node.Override = (method, _) => method == "eth_chainId" ? FakeChainNode.Reply.Result("\"0x1ffffffffffffffffffff\"") : null;
        var id = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InvalidAnswer, id.Code);
        Assert.Equal(FailureKind.Unavailable, id.Kind);
        Assert.Contains("reading the chain id: the chain node at", id.Message, StringComparison.Ordinal);
        Assert.Contains("chain id 0x1ffffffffffffffffffff, not a number from 0 to", id.Message, StringComparison.Ordinal);
        AssertOurWords(id);

        // A null where a call's output belongs (the registry's interface id) is no registry's answer either.
        node.Override = (method, _) => method == "eth_call" ? FakeChainNode.Reply.Result("null") : null;
        var call = await Assert.ThrowsAsync<ChainException>(() => ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InvalidAnswer, call.Code);
        Assert.Contains("probing the contract: the chain node at", call.Message, StringComparison.Ordinal);
        Assert.Contains("answered null, not the call's output", call.Message, StringComparison.Ordinal);

        node.Override = null;
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"));
        node.Logs.Add(FakeChainNode.PublishedLog(3, 0, "m", "1.0.0", "file:///nowhere/1.json"));
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(10, indexer.IndexedBlock);

        // Reading one version: a null list of logs.
        node.Override = (method, _) => method == "eth_getLogs" ? FakeChainNode.Reply.Result("null") : null;
        Assert.Equal(ChainErrorCodes.InvalidAnswer, (await Assert.ThrowsAsync<ChainException>(() => registry.GetEventsAsync(1, 10, CancellationToken.None))).Code);
        node.Override = null;

        node.Head = 20;
        node.Logs.Add(FakeChainNode.PublishedLog(15, 0, "m", "2.0.0", "file:///nowhere/2.json"));
        var nullHash = FakeChainNode.PublishedLog(16, 0, "m", "3.0.0", "file:///nowhere/3.json");
        nullHash["blockHash"] = null;
        (string Method, FakeChainNode.Reply? Reply, JsonObject? Log, string Says)[] hostile =
        [
            ("eth_blockNumber", FakeChainNode.Reply.Result("\"0x1ffffffffffffffffffff\""), null, "reading the block number: the chain node at"),
            ("eth_getBlockByNumber", FakeChainNode.Reply.Result("""{"number":"0xa","hash":null,"timestamp":"0x1"}"""), null, "a block hash missing, not a 32-byte hash"),
            ("eth_getBlockByNumber", FakeChainNode.Reply.Result("""{"number":"0xa","hash":"0x1234","timestamp":"0x1"}"""), null, "a block hash '0x1234', not a 32-byte hash"),
            ("eth_getBlockByNumber", FakeChainNode.Reply.Result($$"""{"number":"0xa","hash":"{{FakeChainNode.BlockHash(10)}}","timestamp":"0xfffffffffffffffffff"}"""), null, "a block time 0xfffffffffffffffffff, not a number from 0 to 253402300799"),
            ("eth_getBlockByNumber", FakeChainNode.Reply.Result($$"""{"number":"0x7","hash":"{{FakeChainNode.BlockHash(20)}}","timestamp":"0x1"}"""), null, "answered block 7 instead"),
            ("", null, nullHash, "for log 0 of block 16 a block hash missing"),
            ("eth_getLogs", FakeChainNode.Reply.Result("null"), null, "reading registry events: the chain node at"),
            ("eth_getLogs", FakeChainNode.Reply.Result("[null]"), null, "a log whose block number is missing"),
        ];
        foreach (var (method, reply, log, says) in hostile)
        {
            node.Override = (m, _) => m == method ? reply : null;
            if (log is not null) node.Logs.Add(log);
            var ex = await Assert.ThrowsAsync<ChainException>(() => indexer.SyncAsync(CancellationToken.None));
            Assert.Equal(ChainErrorCodes.InvalidAnswer, ex.Code);
            Assert.Contains(says, ex.Message, StringComparison.Ordinal);
            AssertOurWords(ex);
            Assert.Equal(10, indexer.IndexedBlock);
            Assert.Equal(["1.0.0"], indexer.Versions.Select(v => v.Record.Version));
            if (log is not null) node.Logs.Remove(log);
        }

        // Healthy again: the follower goes on from block 11 and loses nothing.
        node.Override = null;
        var healed = await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(20, healed.IndexedBlock);
        Assert.Equal(["1.0.0", "2.0.0"], indexer.Versions.Select(v => v.Record.Version));
    }

    public static TheoryData<string, string> BadLogs => new()
    {
        { "truncated", "log 0 of block 12 (Published) whose data is not the event's ABI encoding (truncated, padded or of other fields)" },
        { "padded", "log 0 of block 12 (Published) whose data is not the event's ABI encoding" },
        { "other topic", "log 0 of block 12 with a topic that is none of the registry's events" },
        { "other contract", "a log of another contract (0x00000000000000000000000000000000000000cc) in block 12" },
        { "outside the range", "a log of block 5000, outside the range asked for" },
        { "name too long", "log 0 of block 12 (Published) whose name is 129 bytes, outside the contract's 1..128" },
        { "empty version", "log 0 of block 12 (Published) whose version is 0 bytes, outside the contract's 1..64" },
        { "topic of another name", "log 0 of block 12 (Published) whose name topic is not the hash of its name" },
        { "three topics", "log 0 of block 12 (Published) with 3 topics, not the event's 4 32-byte topics" },
        { "removed", "a removed log in block 12" },
        { "yank reason too long", "log 0 of block 12 (Yanked) whose reason is 257 bytes, outside the contract's 0..256" },
    };

    [Theory]
    [MemberData(nameof(BadLogs))]
    public async Task A_log_that_is_not_the_registrys_event_stops_the_range_and_nothing_is_skipped(string kind, string says)
    {
        await using var node = new FakeChainNode();
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"));
        node.Logs.Add(FakeChainNode.PublishedLog(3, 0, "m", "1.0.0", "file:///nowhere/1.json"));
        await indexer.SyncAsync(CancellationToken.None);

        node.Head = 20;
        node.Logs.Add(FakeChainNode.PublishedLog(15, 0, "m", "2.0.0", "file:///nowhere/2.json"));
        var bad = kind switch
        {
            "name too long" => FakeChainNode.PublishedLog(12, 0, new string('n', 129), "9.0.0", "file:///x"),
            "empty version" => FakeChainNode.PublishedLog(12, 0, "m", "", "file:///x"),
            "yank reason too long" => FakeChainNode.YankedLog(12, 0, "m", "1.0.0", new string('r', 257)),
            "outside the range" => FakeChainNode.PublishedLog(5000, 0, "m", "9.0.0", "file:///x"),
            _ => FakeChainNode.PublishedLog(12, 0, "m", "9.0.0", "file:///x"),
        };
        var data = bad["data"]!.GetValue<string>();
        switch (kind)
        {
            case "truncated": bad["data"] = data[..(data.Length - 64)]; break;
            case "padded": bad["data"] = data + new string('0', 64); break;
            case "other topic": bad["topics"]![0] = "0x" + new string('1', 64); break;
            case "other contract": bad["address"] = "0x00000000000000000000000000000000000000cc"; break;
            case "topic of another name": bad["topics"]![1] = "0x" + new string('2', 64); break;
            case "three topics": bad["topics"]!.AsArray().RemoveAt(3); break;
            case "removed": bad["removed"] = true; break;
        }

        // The node answers the bad log for whatever range is asked (as a node that ignores the filter would).
        node.Override = (method, _) => method == "eth_getLogs" ? FakeChainNode.Reply.Result(new JsonArray(bad.DeepClone()).ToJsonString()) : null;
        var ex = await Assert.ThrowsAsync<ChainException>(() => indexer.SyncAsync(CancellationToken.None));
        Assert.Equal(ChainErrorCodes.InvalidAnswer, ex.Code);
        Assert.Contains("reading registry events of blocks 11..20: the chain node at", ex.Message, StringComparison.Ordinal);
        Assert.Contains(says, ex.Message, StringComparison.Ordinal);
        AssertOurWords(ex);
        Assert.Equal(10, indexer.IndexedBlock);
        Assert.Equal(["1.0.0"], indexer.Versions.Select(v => v.Record.Version));

        // The same log from a healthy node is refused too: no range with it is ever committed, nothing after it skipped.
        node.Override = null;
        node.Logs.Add(bad);
        if (kind != "outside the range")
        {
            Assert.Equal(ChainErrorCodes.InvalidAnswer, (await Assert.ThrowsAsync<ChainException>(() => indexer.SyncAsync(CancellationToken.None))).Code);
        }

        node.Logs.Remove(bad);
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(20, indexer.IndexedBlock);
        Assert.Equal(["1.0.0", "2.0.0"], indexer.Versions.Select(v => v.Record.Version));
    }

    [Fact]
    public async Task Names_of_any_bytes_within_the_contracts_limits_are_indexed_and_come_back_as_they_were()
    {
        await using var node = new FakeChainNode();
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"));
        // What the contract lets a publisher write: any bytes, up to its limits (it checks lengths only).
        var control = "evil\u001b[31m\r\nname";
        node.Logs.Add(FakeChainNode.PublishedLog(2, 0, control, "1.0.0", "file:///nowhere/1.json"));
        node.Logs.Add(FakeChainNode.PublishedLog(3, 0, [0xff, 0xfe, 0x41], [0x31, 0xc0], "file:///nowhere/2.json"));
        node.Logs.Add(FakeChainNode.PublishedLog(4, 0, new string('n', 128), new string('v', 64), "file:///" + new string('u', 1016)));
        node.Logs.Add(FakeChainNode.YankedLog(5, 0, control, "1.0.0", new string('r', 256)));
        var sync = await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(3, sync.Added);
        Assert.Equal(3, indexer.Versions.Count);
        Assert.Empty(indexer.Servable);
        Assert.Equal(control, indexer.Versions[0].Record.Name);
        Assert.Equal(new string('r', 256), indexer.Versions[0].YankReason);
        Assert.Equal("\uFFFD\uFFFDA", indexer.Versions[1].Record.Name);
        Assert.Equal(128, indexer.Versions[2].Record.Name.Length);
        Assert.All(indexer.Versions, v => Assert.Equal(ChainErrorCodes.StatementUnavailable, v.ProblemCode));

        // A restart reads them back from the index as they were.
        indexer.Dispose();
        using var reopened = ChainIndexer.Open(registry, dir.Combine("index"));
        Assert.Equal(indexer.Versions.Select(v => (v.Record.Name, v.Record.Version, v.YankReason)), reopened.Versions.Select(v => (v.Record.Name, v.Record.Version, v.YankReason)));
    }

    [Fact]
    public async Task A_head_far_ahead_ends_each_sync_after_a_bounded_number_of_ranges()
    {
        await using var node = new FakeChainNode { Head = 1L << 46 };
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"), new ChainIndexerOptions { BlocksPerQuery = 100, RangesPerSync = 4 });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var first = await indexer.SyncAsync(deadline.Token);
        Assert.Equal(1L << 46, first.Head);
        Assert.Equal(400, first.IndexedBlock);
        var requests = node.Requests;
        var second = await indexer.SyncAsync(deadline.Token);
        Assert.Equal(800, second.IndexedBlock);
        // A few JSON-RPC calls per range (events, the range's end block twice), one for the head, one to check the last block.
        Assert.InRange(node.Requests - requests, 4, 4 * 3 + 2);
    }

    [Fact]
    public async Task A_head_that_goes_back_rolls_back_to_the_newest_block_the_node_still_has_and_the_follower_catches_up_again()
    {
        await using var node = new FakeChainNode { Head = 20 };
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"));
        node.Logs.Add(FakeChainNode.PublishedLog(3, 0, "m", "1.0.0", "file:///nowhere/1.json"));
        node.Logs.Add(FakeChainNode.PublishedLog(15, 0, "m", "2.0.0", "file:///nowhere/2.json"));
        await indexer.SyncAsync(CancellationToken.None);
        Assert.Equal(["1.0.0", "2.0.0"], indexer.Versions.Select(v => v.Record.Version));

        node.Head = 5;
        var back = await indexer.SyncAsync(CancellationToken.None);
        Assert.True(back.Reorganised);
        Assert.Equal(5, back.IndexedBlock);
        Assert.Equal(["1.0.0"], indexer.Versions.Select(v => v.Record.Version));

        node.Head = 30;
        var again = await indexer.SyncAsync(CancellationToken.None);
        Assert.False(again.Reorganised);
        Assert.Equal(30, again.IndexedBlock);
        Assert.Equal(["1.0.0", "2.0.0"], indexer.Versions.Select(v => v.Record.Version));
    }

    [Fact]
    public async Task An_enormous_eth_getLogs_answer_is_refused_unread()
    {
        await using var node = new FakeChainNode();
        // Its own limit ends it, not the timeout: building and sending 33 MiB takes seconds on a loaded machine.
        using var registry = await ChainModelRegistry.ConnectAsync(node.Url, Options with { RpcTimeout = TimeSpan.FromSeconds(60) }, CancellationToken.None);
        using var dir = new TempDirectory();
        using var indexer = ChainIndexer.Open(registry, dir.Combine("index"));
        var one = FakeChainNode.PublishedLog(3, 0, "m", "1.0.0", "file:///nowhere/1.json").ToJsonString();
        var logs = new StringBuilder("[").Append(one);
        while (logs.Length < 33 * 1024 * 1024) logs.Append(',').Append(one);
        var answer = FakeChainNode.Reply.Result(logs.Append(']').ToString());
        node.Override = (method, _) => method == "eth_getLogs" ? answer : null;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var ex = await Assert.ThrowsAsync<ChainException>(() => indexer.SyncAsync(CancellationToken.None));
        Assert.Equal(ChainErrorCodes.RpcUnavailable, ex.Code);
        Assert.Contains("reading registry events: the chain node at", ex.Message, StringComparison.Ordinal);
        Assert.Contains("more than the 32 MiB a JSON-RPC answer may have; refused unread", ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < 200L * 1024 * 1024, $"allocated {(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1024 / 1024} MiB");
        Assert.Equal(indexer.StartBlock - 1, indexer.IndexedBlock);
    }

    [Fact]
    public async Task A_statement_server_that_trickles_is_cut_at_the_clients_timeout_body_included()
    {
        // A statement store (an HTTP base the operator named) that sends its headers, then one byte a second.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(stop.Token);
            var stream = client.GetStream();
            var head = new byte[4096];
            _ = await stream.ReadAsync(head, stop.Token);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"u8.ToArray(), stop.Token);
            for (var i = 0; i < 1000 && !stop.IsCancellationRequested; i++)
            {
                await stream.WriteAsync("{"u8.ToArray(), stop.Token);
                await Task.Delay(1000, stop.Token);
            }
        });
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var store = new HttpStatementStore(http, new Uri($"http://127.0.0.1:{port}/statements/"));
        var fetcher = new StatementFetcher([store]);
        var uri = $"http://127.0.0.1:{port}/statements/{new string('a', 64)}.dsse.json";
        var clock = Stopwatch.StartNew();
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var ex = await Assert.ThrowsAsync<ChainException>(() => fetcher.FetchAsync(uri, "sha256:" + new string('a', 64), guard.Token));
        Assert.False(guard.IsCancellationRequested, "the fetch was cut by the test's guard, not by the store");
        Assert.Equal(ChainErrorCodes.StatementUnavailable, ex.Code);
        Assert.Contains($"statement {uri} cannot be fetched: it did not arrive within 2 s", ex.Message, StringComparison.Ordinal);
        AssertOurWords(ex);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
        await stop.CancelAsync();
        await ServerTask.EndedAsync(serving);
    }
}

/// <summary>
/// Alone: a test here bounds the process's allocations around one sync (GC.GetTotalAllocatedBytes counts every thread),
/// which other test classes running at the same time inflated (CI once read 714 MiB against 200).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    public const string Name = "registry allocations";
}

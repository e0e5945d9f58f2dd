using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Registry.Chain;
using Nethereum.ABI;
using Nethereum.Contracts;

namespace InfraMind.Registry.Tests.Chain;

/// <summary>
/// A JSON-RPC "chain node" on 127.0.0.1 that a test scripts: by default it answers as a healthy node holding a registry
/// (chain id, code, the registry's interface id and EIP-712 domain, blocks with stable hashes, the logs it is given);
/// <see cref="Override"/> replaces any answer with a hostile one: a body without end, one byte a second, JSON nested
/// without end, numbers past 64 bits, logs that do not decode. One request per connection (Connection: close).
/// </summary>
internal sealed class FakeChainNode : IAsyncDisposable
{
    public const string Contract = "0x00000000000000000000000000000000000000aa";

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Task> _connections = [];
    private int _requests;

    public FakeChainNode(long chainId = 1337)
    {
        ChainId = chainId;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public long ChainId { get; set; }

    /// <summary>What eth_blockNumber answers.</summary>
    public long Head { get; set; } = 10;

    /// <summary>Changes every block hash (a reorganisation of the whole chain) when bumped.</summary>
    public int Fork { get; set; }

    /// <summary>The logs eth_getLogs answers (those inside the asked range), as JSON objects.</summary>
    public List<JsonObject> Logs { get; } = [];

    /// <summary>A hostile answer for a method: return null to answer as a healthy node.</summary>
    public Func<string, JsonArray, Reply?>? Override { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    public string Url => $"eth://127.0.0.1:{Port}/{Contract}";

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static string BlockHash(long number, int fork = 0) => "0x" + Convert.ToHexStringLower(ChainPublishRecord.Keccak(Encoding.ASCII.GetBytes($"block {number} fork {fork}")));

    /// <summary>An answer: a whole body, or a writer that owns the connection after the status line.</summary>
    public abstract record Reply
    {
        public sealed record Body(string Json) : Reply;

        /// <summary>Writes the response head and body itself (chunked, slow, endless …).</summary>
        public sealed record Raw(Func<Stream, string, CancellationToken, Task> Write) : Reply;

        public static Reply Result(string jsonValue) => new Body($$"""{"jsonrpc":"2.0","id":0,"result":{{jsonValue}}}""");

        public static Reply Error(int code, string message) => new Body("{\"jsonrpc\":\"2.0\",\"id\":0,\"error\":{\"code\":" + code.ToString(CultureInfo.InvariantCulture) + ",\"message\":" + JsonValue.Create(message)!.ToJsonString() + "}}");

        /// <summary>A 200 whose body never ends (chunked), as fast as the client reads.</summary>
        public static Reply Endless() => new Raw(async (stream, _, ct) =>
        {
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"u8.ToArray(), ct);
            var chunk = Encoding.ASCII.GetBytes("10000\r\n" + new string(' ', 0x10000) + "\r\n");
            await stream.WriteAsync("6\r\n{\"a\":[\r\n"u8.ToArray(), ct);
            while (!ct.IsCancellationRequested) await stream.WriteAsync(chunk, ct);
        });

        /// <summary>A valid answer, one byte a second.</summary>
        public static Reply Slow(string json) => new Raw(async (stream, id, ct) =>
        {
            var body = Encoding.UTF8.GetBytes(json.Replace("\"id\":0", $"\"id\":{id}", StringComparison.Ordinal));
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), ct);
            foreach (var b in body)
            {
                await stream.WriteAsync(new[] { b }, ct);
                await stream.FlushAsync(ct);
                await Task.Delay(1000, ct);
            }
        });
    }

    /// <summary>The data and topics of a ModelPublished log as the registry emits it.</summary>
    public static JsonObject PublishedLog(long block, int logIndex, string name, string version, string statementUri, string? publisher = null, int fork = 0) =>
        PublishedLog(block, logIndex, Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(version), statementUri, publisher, fork);

    /// <summary>A ModelPublished log whose name and version are any bytes (the contract checks their length only).</summary>
    public static JsonObject PublishedLog(long block, int logIndex, byte[] name, byte[] version, string statementUri, string? publisher = null, int fork = 0)
    {
        var data = new ABIEncode().GetABIEncoded(
            new ABIValue("bytes", name), new ABIValue("bytes", version), new ABIValue("bytes32", new byte[32].Select(_ => (byte)1).ToArray()),
            new ABIValue("bytes32", new byte[32].Select(_ => (byte)2).ToArray()), new ABIValue("bytes8", new byte[8].Select(_ => (byte)3).ToArray()),
            new ABIValue("bytes32", new byte[32].Select(_ => (byte)4).ToArray()), new ABIValue("string", statementUri), new ABIValue("uint64", 1_900_000_000UL));
        var nameHash = ChainPublishRecord.Keccak(name);
        var key = ChainPublishRecord.Keccak(new ABIEncode().GetABIEncoded(new ABIValue("bytes32", nameHash), new ABIValue("bytes32", ChainPublishRecord.Keccak(version))));
        return Log(block, logIndex, ChainModelRegistry.Topic<ModelPublishedEvent>(), [Hex(nameHash), Hex(key), Word(publisher ?? "0x00000000000000000000000000000000000000bb")], data, fork);
    }

    public static JsonObject YankedLog(long block, int logIndex, string name, string version, string reason, int fork = 0)
    {
        var data = new ABIEncode().GetABIEncoded(new ABIValue("string", name), new ABIValue("string", version), new ABIValue("string", reason));
        var nameHash = ChainPublishRecord.Keccak(Encoding.UTF8.GetBytes(name));
        return Log(block, logIndex, ChainModelRegistry.Topic<VersionYankedEvent>(), [Hex(nameHash), Hex(ChainModelRegistry.VersionKey(nameHash, version)), Word("0x00000000000000000000000000000000000000bb")], data, fork);
    }

    public static JsonObject Log(long block, int logIndex, string topic0, string[] topics, byte[] data, int fork = 0) => new()
    {
        ["address"] = Contract,
        ["blockNumber"] = Quantity(block),
        ["blockHash"] = BlockHash(block, fork),
        ["transactionHash"] = "0x" + new string('e', 63) + (logIndex % 10).ToString(CultureInfo.InvariantCulture),
        ["transactionIndex"] = "0x0",
        ["logIndex"] = Quantity(logIndex),
        ["removed"] = false,
        ["topics"] = new JsonArray([JsonValue.Create(topic0), .. topics.Select(t => (JsonNode)JsonValue.Create(t)!)]),
        ["data"] = Hex(data),
    };

    public static string Quantity(long n) => "0x" + n.ToString("x", CultureInfo.InvariantCulture);

    private static string Hex(byte[] bytes) => "0x" + Convert.ToHexStringLower(bytes);

    private static string Word(string address) => "0x" + new string('0', 24) + address[2..];

    private static string Selector<T>()
        where T : FunctionMessage, new() => "0x" + Nethereum.Contracts.ABITypedRegistry.GetFunctionABI<T>().Sha3Signature;

    private Reply Healthy(string method, JsonArray parameters)
    {
        switch (method)
        {
            case "eth_chainId":
                return Reply.Result($"\"{Quantity(ChainId)}\"");
            case "eth_blockNumber":
                return Reply.Result($"\"{Quantity(Head)}\"");
            case "eth_getCode":
                return Reply.Result("\"0x6000\"");
            case "eth_getBlockByNumber":
            {
                var n = Convert.ToInt64(parameters[0]!.GetValue<string>(), 16);
                if (n > Head) return Reply.Result("null");
                return Reply.Result(new JsonObject
                {
                    ["number"] = Quantity(n), ["hash"] = BlockHash(n, Fork), ["parentHash"] = BlockHash(n - 1, Fork), ["timestamp"] = Quantity(1_700_000_000 + n),
                    ["transactions"] = new JsonArray(),
                }.ToJsonString());
            }

            case "eth_call":
            {
                var data = parameters[0]!["data"]?.GetValue<string>() ?? parameters[0]!["input"]!.GetValue<string>();
                var selector = data[..10];
                byte[] word = selector == Selector<RegistryInterfaceFunction>() ? RegistryContract.InterfaceId
                    : selector == Selector<DomainSeparatorFunction>() ? new ChainTypedData(ChainId, Contract).DomainSeparator()
                    : selector == Selector<DeployedAtFunction>() ? new byte[31].Append((byte)1).ToArray()
                    : new byte[32];
                return Reply.Result($"\"{Hex(word)}\"");
            }

            case "eth_getLogs":
            {
                var filter = parameters[0]!;
                var from = Convert.ToInt64(filter["fromBlock"]!.GetValue<string>(), 16);
                var to = Convert.ToInt64(filter["toBlock"]!.GetValue<string>(), 16);
                var logs = new JsonArray([.. Logs.Where(l => Convert.ToInt64(l["blockNumber"]!.GetValue<string>(), 16) is var b && b >= from && b <= to).Select(l => l.DeepClone())]);
                return Reply.Result(logs.ToJsonString());
            }

            default:
                return Reply.Error(-32601, $"method {method} not found");
        }
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_connections) _connections.Add(Task.Run(() => ServeAsync(client)));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await stream.ReadAsync(one, _stop.Token) == 0) return;
                    head.Append((char)one[0]);
                }

                var length = head.ToString().Split("\r\n").Select(l => l.Split(':', 2)).Where(kv => kv.Length == 2 && kv[0].Trim().Equals("content-length", StringComparison.OrdinalIgnoreCase))
                    .Select(kv => int.Parse(kv[1].Trim(), CultureInfo.InvariantCulture)).FirstOrDefault();
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                var request = JsonNode.Parse(body)!;
                Interlocked.Increment(ref _requests);
                var method = request["method"]!.GetValue<string>();
                var parameters = request["params"] as JsonArray ?? [];
                var id = request["id"]!.ToJsonString();
                var reply = Override?.Invoke(method, parameters) ?? Healthy(method, parameters);
                switch (reply)
                {
                    case Reply.Body b:
                        var json = Encoding.UTF8.GetBytes(b.Json.Replace("\"id\":0", $"\"id\":{id}", StringComparison.Ordinal));
                        await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                        await stream.WriteAsync(json, _stop.Token);
                        break;
                    case Reply.Raw r:
                        await r.Write(stream, id, _stop.Token);
                        break;
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        Task[] open;
        lock (_connections) open = [.. _connections];
        await Task.WhenAll(open);
        _stop.Dispose();
    }
}

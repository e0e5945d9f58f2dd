using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BoundaryCollection
{
    /// <summary>Alone: some tests measure the process's allocations around one request.</summary>
    public const string Name = "gateway boundaries";
}

/// <summary>
/// The gateway's trust boundaries (issue #13), each against a real gateway on Kestrel and a node played by the test
/// over real sockets: what clients send, what nodes say and answer.
/// </summary>
[Collection(BoundaryCollection.Name)]
public sealed class BoundaryTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private GatewayHost _gateway = null!;
    private FakeNode _node = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 1, MaxAttempts = 1, AttemptTimeout = TimeSpan.FromSeconds(2) },
            _catalog, CancellationToken.None);
        _http.BaseAddress = _gateway.Url;
        _node = new FakeNode(_gateway.Url, _token);
        using (var r = await _node.RegisterAsync("fake")) r.EnsureSuccessStatusCode();
        await _node.ReadyAsync("fake");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    public void Dispose() => _http.Dispose();

    private async Task<(HttpStatusCode Status, JsonObject Body)> InferAsync(byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var r = await _http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        return (r.StatusCode, JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject());
    }

    private Task<(HttpStatusCode Status, JsonObject Body)> InferAsync(string body) => InferAsync(Encoding.UTF8.GetBytes(body));

    [Fact]
    public async Task A_valid_request_reaches_the_node_with_its_own_credential_not_the_mesh_token()
    {
        var (status, body) = await InferAsync("""{"text": "hi"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", (string?)body["summary"]);
        var job = Assert.Single(_node.Jobs);
        Assert.Equal("/jobs/echo/1.0.0", job.Path);
        Assert.Equal(MeshToken.Header(_node.Credential!), job.Authorization);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'e', (byte)'x', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)'}' })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'e', (byte)'x', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xc3, (byte)'"', (byte)'}' })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'t', (byte)'e', (byte)'x', (byte)'t', (byte)'"', (byte)':', (byte)'"', 0xed, 0xa0, 0x80, (byte)'"', (byte)'}' })]
    public async Task Invalid_utf8_is_a_400_and_never_reaches_a_node(byte[] body)
    {
        var (status, problem) = await InferAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.BodyNotUtf8.Value, (string?)problem["code"]);
        Assert.Contains("offset 9", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Empty(_node.Jobs);
    }

    /// <summary>
    /// The place of a bad byte is counted in the client's bytes, a byte-order mark's among them: before, the gateway
    /// skipped the mark and counted from after it, three bytes short.
    /// </summary>
    [Fact]
    public async Task A_bad_byte_after_a_byte_order_mark_is_placed_in_the_clients_bytes()
    {
        var (status, problem) = await InferAsync([0xEF, 0xBB, 0xBF, .. "{\"text\":\""u8, 0xff, .. "\"}"u8]);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.BodyNotUtf8.Value, (string?)problem["code"]);
        Assert.Contains("the byte at offset 12 ", (string?)problem["detail"], StringComparison.Ordinal);

        // And a parse error on the first line: its byte counts the mark; on a later line, it does not.
        (status, problem) = await InferAsync("\uFEFF{\"text\":\"a\",}");
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, (string?)problem["code"]);
        Assert.Contains("(line 1, byte 16)", (string?)problem["detail"], StringComparison.Ordinal);
        (status, problem) = await InferAsync("\uFEFF{\"text\":\n \"a\" \"b\"}");
        Assert.Contains("(line 2, byte 6)", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.Empty(_node.Jobs);
    }

    [Theory]
    [InlineData("{\"text\":\"a\",}", "(line 1, byte 13)")]
    [InlineData("{\"text\":\n \"a\" \"b\"}", "(line 2, byte 6)")]
    [InlineData("{\"text\":", "(line 1, byte 9)")]
    [InlineData("", "the body is empty")]
    [InlineData("  \n", "the body is empty")]
    public async Task Malformed_json_is_described_in_the_gateways_words_with_where(string body, string said)
    {
        // Found by an audit: the parser's own text came back, speaking of its API ("Change the reader options",
        // "isFinalBlock", "LineNumber: 0 | BytePositionInLine: 12").
        var (status, problem) = await InferAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, (string?)problem["code"]);
        var detail = (string?)problem["detail"];
        Assert.Contains(said, detail, StringComparison.Ordinal);
        foreach (var api in new[] { "reader options", "isFinalBlock", "LineNumber", "BytePositionInLine" })
            Assert.DoesNotContain(api, detail, StringComparison.Ordinal);
        Assert.Empty(_node.Jobs);
    }

    [Fact]
    public async Task An_unpaired_surrogate_escape_is_a_400_and_never_reaches_a_node()
    {
        var (status, problem) = await InferAsync("""{"text": "\ud800"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.BodyNotUtf8.Value, (string?)problem["code"]);
        Assert.Equal("/text", (string?)problem["errors"]![0]!["pointer"]);
        Assert.Empty(_node.Jobs);
    }

    [Theory]
    [InlineData("""{"text": "a", "text": "b"}""", "/text")]
    [InlineData("""{"text": "a", "\u0074ext": "b"}""", "/text")]
    [InlineData("""{"text": "a", "extra": {"k": 1, "k": 2}}""", "/extra/k")]
    public async Task Duplicate_keys_are_a_400_and_never_reach_a_node(string body, string pointer)
    {
        var (status, problem) = await InferAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.DuplicateKey.Value, (string?)problem["code"]);
        Assert.Equal(pointer, (string?)problem["errors"]![0]!["pointer"]);
        Assert.Empty(_node.Jobs);
    }

    [Fact]
    public async Task The_model_reads_exactly_the_document_the_gateway_validated()
    {
        var (status, _) = await InferAsync("\uFEFF{ \"text\" :\t\"\\u0061b\\/é\" , \"n\": 1.50e0 }  ");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"text":"ab/é","n":1.50e0}""", Encoding.UTF8.GetString(Assert.Single(_node.Jobs).Body));
    }

    [Fact]
    public async Task Nesting_beyond_the_depth_limit_is_a_400()
    {
        var deep = "{\"text\": \"x\", \"d\": " + new string('[', 200) + new string(']', 200) + "}";
        var (status, problem) = await InferAsync(deep);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, (string?)problem["code"]);
        Assert.Empty(_node.Jobs);
    }

    [Fact]
    public async Task A_chunked_7_MB_body_is_a_413_and_never_reaches_a_node()
    {
        var big = Encoding.UTF8.GetBytes("{\"text\": \"" + new string('a', 7 * 1024 * 1024) + "\"}");
        using var content = new StreamContent(new MemoryStream(big));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("inference/v1/echo", UriKind.Relative)) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(MeshErrorCodes.BodyTooLarge.Value, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
        Assert.Empty(_node.Jobs);
    }

    [Fact]
    public async Task A_forged_endpoint_in_a_heartbeat_is_never_sent_a_job()
    {
        // The old attack: a node reports a 127.0.0.1 "container endpoint" of its choosing.
        var forged = 0;
        await using var attacker = new FakeNode(_gateway.Url, null)
        {
            Answer = (s, ct) =>
            {
                Interlocked.Increment(ref forged);
                return FakeNode.WriteAsync(s, 200, """{"summary":"forged"}""", ct);
            },
        };
        await _node.ReadyAsync("fake", claimedEndpoint: attacker.Address);
        for (var i = 0; i < 5; i++)
        {
            var (status, body) = await InferAsync("""{"text": "secret input"}""");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("ok", (string?)body["summary"]);
        }

        Assert.Equal(0, forged);
        Assert.Empty(attacker.Jobs);
        Assert.Equal(5, _node.Jobs.Count);
    }

    [Fact]
    public async Task A_node_cannot_take_another_nodes_id_nor_report_for_it()
    {
        await using var intruder = new FakeNode(_gateway.Url, _token);
        using (var taken = await intruder.RegisterAsync("fake"))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeIdTaken.Value, (string?)JsonNode.Parse(await taken.Content.ReadAsStringAsync())!["code"]);
        }

        using (var r = await intruder.RegisterAsync("intruder")) r.EnsureSuccessStatusCode();
        var failed = """[{"name":"echo","version":"1.0.0","state":"failed","verdict":"output-schema-violation","failures":9,"since":"2026-01-01T00:00:00Z"}]""";
        foreach (var credential in new[] { null, intruder.Credential, MeshToken.Create() })
        {
            using var beat = await intruder.BeatAsync("fake", failed, credential);
            Assert.Equal(HttpStatusCode.Forbidden, beat.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeCredentialInvalid.Value, (string?)JsonNode.Parse(await beat.Content.ReadAsStringAsync())!["code"]);
        }

        // Still the real node's, still ready.
        var (status, _) = await InferAsync("""{"text": "hi"}""");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Made_up_nodes_cannot_quarantine_a_version_they_were_never_given()
    {
        var failed = """[{"name":"echo","version":"1.0.0","state":"failed","verdict":"output-schema-violation","failures":9,"since":"2026-01-01T00:00:00Z"}]""";
        foreach (var id in new[] { "made-up-1", "made-up-2", "made-up-3" })
        {
            await using var liar = new FakeNode(_gateway.Url, _token);
            using (var r = await liar.RegisterAsync(id)) r.EnsureSuccessStatusCode();
            using var beat = await liar.BeatAsync(id, failed, liar.Credential);
            Assert.Equal(HttpStatusCode.OK, beat.StatusCode);
        }

        Assert.False(_gateway.Mesh.IsQuarantined("echo@1.0.0"));
        var (status, _) = await InferAsync("""{"text": "hi"}""");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task Many_requests_that_fail_on_every_node_neither_quarantine_the_version_nor_penalise_the_node()
    {
        // Two nodes, and a "model" that fails whatever it is sent: from the gateway's side exactly what a client's
        // poisoned input looks like. Only a pre-flight (the node's own inputs) may now tell the model's fault.
        await using var second = new FakeNode(_gateway.Url, _token);
        using (var r = await second.RegisterAsync("second")) r.EnsureSuccessStatusCode();
        await second.ReadyAsync("second");
        _node.Answer = second.Answer = (s, ct) => FakeNode.WriteAsync(s, 500, """{"error":"boom"}""", ct);
        for (var i = 0; i < 30; i++)
        {
            var (status, _) = await InferAsync("""{"text": "poison"}""");
            Assert.Equal(HttpStatusCode.BadGateway, status);
        }

        Assert.False(_gateway.Mesh.IsQuarantined("echo@1.0.0"));
        Assert.All(_gateway.Mesh.NodeSummaries(), s => Assert.Equal(1.0, s.Reputation, 3));
        // The node the version is placed on (one replica: the rank decides which) is asked, once, to pre-flight it again.
        const string ready = """[{"name":"echo","version":"1.0.0","state":"ready","preflightGeneration":1,"since":"2026-01-01T00:00:00Z"}]""";
        var asked = new List<string>();
        foreach (var (node, id) in new[] { (_node, "fake"), (second, "second") })
        {
            using var reply = await node.BeatAsync(id, ready, node.Credential);
            var answer = (await reply.Content.ReadFromJsonAsync<HeartbeatReply>(MeshJson.Options))!;
            var holds = answer.Assignments.Any(a => a.Name == "echo");
            Assert.Equal(holds ? ["echo@1.0.0"] : [], answer.Preflight);
            if (holds) asked.Add(id);
        }

        Assert.Single(asked);
    }
    /// <summary>Bytes the whole process allocated while <paramref name="action"/> ran (this collection runs alone).</summary>
    private static async Task<long> AllocatedAsync(Func<Task> action)
    {
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await action();
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    [Fact]
    public async Task A_node_declaring_a_huge_length_and_sending_nothing_costs_the_gateway_no_memory()
    {
        // 16,000,000 bytes declared (just under the limit), none sent: the old reader allocated all of it up front.
        _node.Answer = async (s, ct) =>
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16000000\r\n\r\n"), ct);
            await Task.Delay(Timeout.Infinite, ct);
        };
        await InferAsync("""{"text": "warm-up"}""");
        (HttpStatusCode Status, JsonObject Body) result = default;
        var allocated = await AllocatedAsync(async () => result = await InferAsync("""{"text": "hi"}"""));
        Assert.Equal(HttpStatusCode.BadGateway, result.Status);
        Assert.Equal(Verdict.RequestTimeout.WireName, (string?)result.Body!["attempts"]![0]!["verdict"]);
        Assert.True(allocated < 4_000_000, $"the gateway allocated {allocated:N0} bytes for a declared length it never received");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_300_MB_answer_is_response_too_large_its_connection_dropped_and_memory_flat(bool declared)
    {
        const long Size = 300L * 1024 * 1024;
        _node.Answer = async (s, ct) =>
        {
            var head = declared ? $"Content-Length: {Size}" : "Transfer-Encoding: chunked";
            await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}\r\n\r\n"), ct);
            var block = new byte[64 * 1024];
            Array.Fill(block, (byte)'a');
            var chunkHead = Encoding.ASCII.GetBytes($"{block.Length:x}\r\n");
            for (long sent = 0; sent < Size; sent += block.Length)
            {
                if (!declared) await s.WriteAsync(chunkHead, ct);
                await s.WriteAsync(block, ct);
                if (!declared) await s.WriteAsync("\r\n"u8.ToArray(), ct);
            }
        };
        (HttpStatusCode Status, JsonObject Body) result = default;
        var allocated = await AllocatedAsync(async () => result = await InferAsync("""{"text": "hi"}"""));
        Assert.Equal(HttpStatusCode.BadGateway, result.Status);
        Assert.Equal(Verdict.ResponseTooLarge.WireName, (string?)result.Body!["attempts"]![0]!["verdict"]);
        // Read no further than the limit (16 MiB) and some socket buffers: the node could not write the rest.
        await Task.Delay(500);
        Assert.True(Interlocked.Read(ref _node.AnswerBytesWritten) < 100L * 1024 * 1024, $"the node wrote {_node.AnswerBytesWritten:N0} bytes");
        Assert.True(allocated < 100L * 1024 * 1024, $"the gateway allocated {allocated:N0} bytes for one over-limit answer");
        // The node is not at fault for what its model answered, and the gateway still serves.
        _node.Answer = (s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
        Assert.Equal(HttpStatusCode.OK, (await InferAsync("""{"text": "after"}""")).Status);
    }

    [Fact]
    public async Task A_pattern_that_backtracking_would_never_finish_is_answered_at_once()
    {
        var yaml = """
            name: strict
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            input_schema: {type: object, properties: {text: {type: string, pattern: '^(a+)+$'}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """;
        var manifest = InfraMind.Manifest.ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        _catalog.Publish(manifest, "sha256:" + new string('1', 64));
        await LocalWaitAsync(() => _gateway.Mesh.Models.Any(m => m.Published.Name == "strict"));
        // ^(a+)+$ doubles per character under a backtracking engine: 50,000 would outlive the machine.
        using var content = new StringContent($$"""{"text": "{{new string('a', 50_000)}}!"}""", Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(new Uri("inference/v1/strict", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(MeshErrorCodes.InputInvalid.Value, (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["code"]);
    }

    private static async Task LocalWaitAsync(Func<bool> condition)
    {
        for (var i = 0; i < 300 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition());
    }
}

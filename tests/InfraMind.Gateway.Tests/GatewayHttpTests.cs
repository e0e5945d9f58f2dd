using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>The gateway's HTTP surface on a real Kestrel, before any node joins: checks, descriptions, registration.</summary>
public sealed class GatewayHttpTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private GatewayHost _gateway = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _catalog.Publish(MeshStateTests.Served("1.1.0").Published);
        _catalog.Publish(MeshStateTests.Served("2.0.0-rc.1").Published);
        _gateway = await GatewayHost.StartAsync(new GatewayOptions(), _catalog, CancellationToken.None);
        _http = new HttpClient { BaseAddress = _gateway.Url };
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task<(HttpResponseMessage Response, JsonObject Body)> PostAsync(string path, HttpContent content, string? credential = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = content };
        if (credential is not null) request.Headers.Add(MeshHeaders.NodeCredential, credential);
        var r = await _http.SendAsync(request);
        return (r, JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task A_valid_request_with_no_node_that_fits_is_503_with_retry_after_and_says_what_is_needed()
    {
        var (r, body) = await PostAsync("inference/v1/echo", Json("""{"text": "hi"}"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType!.MediaType);
        Assert.NotNull(r.Headers.RetryAfter);
        Assert.Equal(MeshErrorCodes.NoReadyNode.Value, (string?)body["code"]);
        Assert.Contains("1000m CPU, 256Mi memory", (string?)body["detail"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"text\": ", "application/json", 400, "IM6008")]
    [InlineData("", "application/json", 400, "IM6008")]
    [InlineData("{\"text\": 5}", "application/json", 400, "IM6003")]
    [InlineData("{}", "application/json", 400, "IM6003")]
    [InlineData("\"text\"", "application/json", 400, "IM6003")]
    [InlineData("{\"text\": \"x\"}", "text/plain", 415, "IM6006")]
    [InlineData("{\"text\": \"x\"}", "application/xml", 415, "IM6006")]
    public async Task Client_mistakes_are_4xx_problems(string body, string contentType, int status, string code)
    {
        var (r, problem) = await PostAsync("inference/v1/echo", new StringContent(body, Encoding.UTF8, contentType));
        Assert.Equal(status, (int)r.StatusCode);
        Assert.Equal(code, (string?)problem["code"]);
        // The code is in `code` only; the detail is the plain explanation.
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
        Assert.DoesNotContain(code, (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_errors_carry_json_pointers()
    {
        var (_, problem) = await PostAsync("inference/v1/echo/versions/1.0.0", Json("""{"text": ["a"]}"""));
        var error = Assert.Single(problem["errors"]!.AsArray())!;
        Assert.Equal("/text", (string?)error["pointer"]);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_even_without_a_content_length()
    {
        var big = "{\"text\": \"" + new string('a', 2 * 1024 * 1024) + "\"}";
        var (r, problem) = await PostAsync("inference/v1/echo", Json(big));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Equal(MeshErrorCodes.BodyTooLarge.Value, (string?)problem["code"]);
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("inference/v1/echo", UriKind.Relative)) { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData("inference/v1/nope", 404, "IM6001")]
    [InlineData("inference/v1/echo/versions/3.0.0", 404, "IM6001")]
    [InlineData("inference/v1/echo/versions/latest", 400, "IM6009")]
    public async Task Unknown_models_and_versions(string path, int status, string code)
    {
        var (r, problem) = await PostAsync(path, Json("""{"text": "x"}"""));
        Assert.Equal(status, (int)r.StatusCode);
        Assert.Equal(code, (string?)problem["code"]);
        // How to fix it (the code's hint, as the command line prints it), where the code has one; no empty member where not.
        var declared = ErrorCatalog.Index(typeof(MeshErrorCodes))[code];
        Assert.Equal(declared.DefaultHint, (string?)problem["hint"]);
        Assert.Equal(declared.DefaultHint is not null, problem.ContainsKey("hint"));
    }

    [Fact]
    public async Task The_listing_shows_versions_and_latest_skips_prereleases()
    {
        var state = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!;
        var echo = state["models"]!.AsArray().Single()!;
        Assert.Equal("1.1.0", (string?)echo["latest"]);
        Assert.Equal(["2.0.0-rc.1", "1.1.0", "1.0.0"], echo["versions"]!.AsArray().Select(v => (string?)v!["version"]));
    }

    [Fact]
    public async Task Openapi_comes_from_the_schemas()
    {
        var doc = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1/echo/openapi.json", UriKind.Relative)))!;
        Assert.Equal("1.1.0", (string?)doc["info"]!["version"]);
        var post = doc["paths"]!["/inference/v1/echo/versions/1.1.0"]!["post"]!;
        Assert.Equal("summary", (string?)post["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["required"]![0]);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri("inference/v1/nope/openapi.json", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Openapi_describes_the_problem_documents_the_gateway_really_answers()
    {
        var doc = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1/echo/openapi.json", UriKind.Relative)))!;
        var responses = doc["paths"]!["/inference/v1/echo"]!["post"]!["responses"]!.AsObject();
        foreach (var (status, response) in responses.Where(r => r.Key != "200"))
            Assert.Equal("#/components/schemas/Problem", (string?)response!["content"]!["application/problem+json"]!["schema"]!["$ref"]);
        var schema = global::Json.Schema.JsonSchema.FromText(doc["components"]!["schemas"]!["Problem"]!.ToJsonString());

        // Real answers of this gateway, each an error the document lists: all of them match the schema it publishes.
        var answers = new List<JsonObject>
        {
            (await PostAsync("inference/v1/echo", Json("""{"text": 5}"""))).Body,      // 400 with errors[]
            (await PostAsync("inference/v1/echo", Json("""{"text": """))).Body,        // 400, not JSON
            (await PostAsync("inference/v1/nope", Json("""{"text": "x"}"""))).Body,    // 404 with a hint
            (await PostAsync("inference/v1/echo", new StringContent("x", Encoding.UTF8, "text/plain"))).Body, // 415
            (await PostAsync("inference/v1/echo", Json("""{"text": "hi"}"""))).Body,   // 503, no node
        };
        Assert.Contains(answers, a => a.ContainsKey("errors"));
        Assert.Contains(answers, a => a.ContainsKey("hint"));
        foreach (var answer in answers)
        {
            var result = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(answer), new global::Json.Schema.EvaluationOptions { OutputFormat = global::Json.Schema.OutputFormat.List });
            Assert.True(result.IsValid, $"{answer.ToJsonString()} does not match the published schema: " +
                string.Join("; ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        }

        // And the schema is not one that takes anything: a document without a code, or with a malformed one, fails it.
        Assert.False(schema.Evaluate(System.Text.Json.JsonDocument.Parse("""{"type":"t","title":"t","status":400,"detail":"d"}""").RootElement).IsValid);
        Assert.False(schema.Evaluate(System.Text.Json.JsonDocument.Parse("""{"type":"t","title":"t","status":400,"detail":"d","code":"E1"}""").RootElement).IsValid);
    }

    [Fact]
    public async Task Health_and_metrics()
    {
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri("healthz", UriKind.Relative))).StatusCode);
        await PostAsync("inference/v1/echo", Json("{}"));
        var metrics = await _http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains("inframind_gateway_requests_total{model=\"echo\",status=\"400\"} 1", metrics, StringComparison.Ordinal);
        // Names no model has are one series, whatever a stranger makes up.
        await PostAsync("inference/v1/made-up-1", Json("{}"));
        await PostAsync("inference/v1/made-up-2", Json("{}"));
        metrics = await _http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains("inframind_gateway_requests_total{model=\"(unknown)\",status=\"404\"} 2", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("made-up", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_is_checked_and_an_unknown_node_is_told_to_register()
    {
        using var bad = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), new { nodeId = "" }, MeshJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains(MeshErrorCodes.RegistrationInvalid.Value, await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var unknown = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes/ghost/heartbeat", UriKind.Relative), new NodeHeartbeat("ghost", []), MeshJson.Options);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));
        using var ok = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), registration, MeshJson.Options);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        using var beatRequest = new HttpRequestMessage(HttpMethod.Post, new Uri("mesh/v1/nodes/n1/heartbeat", UriKind.Relative))
        {
            Content = JsonContent.Create(new NodeHeartbeat("n1", []), options: MeshJson.Options),
        };
        beatRequest.Headers.Add(MeshHeaders.NodeCredential, credential);
        using var beat = await _http.SendAsync(beatRequest);
        var reply = (await beat.Content.ReadFromJsonAsync<HeartbeatReply>(MeshJson.Options))!;
        Assert.Equal(["echo@1.0.0", "echo@1.1.0"], reply.Assignments.Select(a => a.Key).Order().Take(2));
    }

    [Theory]
    [InlineData("""{"nodeId":"n1","models":[{"name":"echo","version":"1.0.0","state":"ready"},{"name":"echo","version":"1.0.0","state":"failed"}]}""")]
    [InlineData("""{"nodeId":"n1","models":[{"state":"ready"}]}""")]
    [InlineData("""{"nodeId":"n1","models":[null]}""")]
    [InlineData("""{"nodeId":"n1"}""")]
    [InlineData("""{"nodeId":"n1","models":[{"name":"echo","version":"1.0.0","state":"on-fire"}]}""")]
    [InlineData("""{"nodeId":"n1","models":[{"name":"echo","version":"1.0.0","state":"ready","verdict":7}]}""")]
    [InlineData("not json")]
    public async Task A_malformed_heartbeat_is_a_400_not_a_server_error(string body)
    {
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));
        using var ok = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), registration, MeshJson.Options);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var content = Json(body);
        var credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        var (r, problem) = await PostAsync("mesh/v1/nodes/n1/heartbeat", content, credential);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.Value, (string?)problem["code"]);
    }

    [Fact]
    public async Task A_heartbeat_reporting_more_models_than_the_limit_is_refused_with_the_limit_named()
    {
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));
        using var ok = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), registration, MeshJson.Options);
        var credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        string Beat(int models) => $$"""{"nodeId":"n1","models":[{{string.Join(",", Enumerable.Range(0, models).Select(i => $$"""{"name":"m{{i}}","version":"1.0.0","state":"ready"}"""))}}]}""";

        var (atLimit, _) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json(Beat(new GatewayOptions().MaxReportsPerHeartbeat)), credential);
        Assert.Equal(HttpStatusCode.OK, atLimit.StatusCode);
        var (over, problem) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json(Beat(new GatewayOptions().MaxReportsPerHeartbeat + 1)), credential);
        Assert.Equal(HttpStatusCode.BadRequest, over.StatusCode);
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.Value, (string?)problem["code"]);
        Assert.Contains("reports 1025 models; a node reports at most 1024", (string?)problem["detail"], StringComparison.Ordinal);
    }

    /// <summary>
    /// A heartbeat is read to NodeApi.MaxHeartbeatBytes (1 MiB) and no further, however few models it reports: one
    /// report whose detail alone is 1 MiB is a 413 with its code and the limit named, and nothing of it is kept (the
    /// state document never shows it); the same report with a short detail is taken.
    /// </summary>
    [Fact]
    public async Task A_heartbeat_over_its_byte_limit_is_413_and_nothing_of_it_is_kept()
    {
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));
        using var ok = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), registration, MeshJson.Options);
        var credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        var padding = "big-" + new string('x', (int)NodeApi.MaxHeartbeatBytes);
        string Beat(string detail) => $$"""{"nodeId":"n1","models":[{"name":"echo","version":"1.0.0","state":"failed","detail":"{{detail}}"}]}""";

        var (over, problem) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json(Beat(padding)), credential);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over.StatusCode);
        Assert.Equal(MeshErrorCodes.BodyTooLarge.Value, (string?)problem["code"]);
        Assert.Contains($"larger than {NodeApi.MaxHeartbeatBytes} bytes", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.DoesNotContain("big-x", await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)), StringComparison.Ordinal);

        var (within, _) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json(Beat("small")), credential);
        Assert.Equal(HttpStatusCode.OK, within.StatusCode);
    }

    /// <summary>
    /// What a node reports is kept within bounds, whatever fits in its heartbeat (found by an audit: one node's 1,000
    /// refused reports with long details put ~1 MB into every state document and dashboard poll): a detail is cut to
    /// 1,024 characters, a name or version longer than any model's is a 400, a node's row lists 10 refusals and counts
    /// the rest, and a registration's address is at most 2,048 characters.
    /// </summary>
    [Fact]
    public async Task What_a_node_reports_is_kept_within_bounds()
    {
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));
        using var ok = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), registration, MeshJson.Options);
        var credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        var detail = new string('d', 50_000);
        var refusals = string.Join(",", Enumerable.Range(0, 15).Select(i => $$"""{"name":"m{{i}}","version":"1.0.0","state":"refused","detail":"{{detail}}"}"""));

        var (taken, _) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json($$"""{"nodeId":"n1","models":[{{refusals}}]}"""), credential);
        Assert.Equal(HttpStatusCode.OK, taken.StatusCode);
        var state = await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative));
        var node = JsonNode.Parse(state)!["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "n1")!;
        var listed = node["refused"]!.AsArray();
        Assert.Equal(10, listed.Count);
        Assert.Equal(15, (int)node["refusedCount"]!);
        Assert.All(listed, r => Assert.Equal(RegistrationRules.MaxReportDetailLength + 1, ((string?)r!["reason"])!.Length));
        Assert.True(state.Length < 40_000, $"{state.Length} characters in the state document");

        var longName = new string('n', 64);
        var (refused, problem) = await PostAsync("mesh/v1/nodes/n1/heartbeat", Json($$"""{"nodeId":"n1","models":[{"name":"{{longName}}","version":"1.0.0","state":"ready"}]}"""), credential);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.Value, (string?)problem["code"]);
        Assert.Contains("a name is at most 63 characters and a version at most 256", (string?)problem["detail"], StringComparison.Ordinal);

        var far = registration with { NodeId = "n2", Address = new Uri("http://127.0.0.1:9/" + new string('a', 3000)) };
        using var tooLong = await _http.PostAsJsonAsync(new Uri("mesh/v1/nodes", UriKind.Relative), far, MeshJson.Options);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var why = (await tooLong.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Contains("is longer than 2048 characters", (string?)why["detail"], StringComparison.Ordinal);
        Assert.True(((string?)why["detail"])!.Length < 600);
    }

    [Fact]
    public async Task With_a_mesh_token_only_nodes_that_send_it_register_and_heartbeat()
    {
        var token = MeshToken.Create();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token }, _catalog, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = gateway.Url };
        var registration = new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1));

        string? credential = null;
        async Task<HttpResponseMessage> Send(string path, object body, string? authorization)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = JsonContent.Create(body, options: MeshJson.Options) };
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            if (credential is not null) request.Headers.Add(MeshHeaders.NodeCredential, credential);
            return await http.SendAsync(request);
        }

        foreach (var authorization in new string?[] { null, MeshToken.Header(MeshToken.Create()), "Basic " + token, token, MeshToken.Header(token + "x") })
        {
            using var refused = await Send("mesh/v1/nodes", registration, authorization);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
            var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(MeshErrorCodes.NodeUnauthorized.Value, (string?)problem["code"]);
            Assert.Equal(MeshErrorCodes.NodeUnauthorized.DefaultHint, (string?)problem["hint"]);
            Assert.DoesNotContain(token, problem.ToJsonString(), StringComparison.Ordinal);
        }

        using (var ok = await Send("mesh/v1/nodes", registration, MeshToken.Header(token)))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            credential = (await ok.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        }

        using (var beat = await Send("mesh/v1/nodes/n1/heartbeat", new NodeHeartbeat("n1", []), null)) Assert.Equal(HttpStatusCode.Unauthorized, beat.StatusCode);
        using (var beat = await Send("mesh/v1/nodes/n1/heartbeat", new NodeHeartbeat("n1", []), MeshToken.Header(token))) Assert.Equal(HttpStatusCode.OK, beat.StatusCode);
        Assert.Single(gateway.Mesh.NodeSummaries());
    }

    [Fact]
    public async Task A_gateway_rejects_a_token_too_short_to_be_secret()
    {
        var e = await Assert.ThrowsAsync<InfraMindException>(() => GatewayHost.StartAsync(new GatewayOptions { NodeToken = "short" }, _catalog, CancellationToken.None));
        Assert.Equal(MeshErrorCodes.GatewayOptionInvalid, e.Code);
        Assert.Contains("token", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("IM6020", e.Message, StringComparison.Ordinal);
    }
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>A gateway with real node agents serving a real container: answers, client mistakes, refusals, descriptions.</summary>
[Collection(MeshCollection.Name)]
public sealed class ServingTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [SkippableFact]
    public async Task With_direct_routing_off_jobs_go_through_the_node_job_api()
    {
        await using var mesh = await LocalMesh.StartAsync("mesh-via-node", new GatewayOptions { Replicas = 1, DirectToLocalContainers = false });
        // A node with a key: its job API signs a receipt for every answer, which the gateway checks and passes on.
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("n1");
        await mesh.AddNodeAsync("n1", "good", key: key);
        await mesh.WaitForStateAsync("n1", "ready", TimeSpan.FromSeconds(120));
        for (var i = 0; i < 5; i++)
        {
            using var ok = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), Json($$"""{"text": "via node {{i}}"}"""));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("n1", ok.Headers.GetValues(MeshHeaders.Node).Single());
            var answer = await ok.Content.ReadAsByteArrayAsync();
            Assert.Equal($"via node {i}", (string?)JsonNode.Parse(answer)!["summary"]);
            var receipt = JobReceipts.Verify(ok.Headers.GetValues(MeshHeaders.Receipt).Single(), key.PublicKey);
            Assert.True(receipt.Valid, receipt.Problem);
            Assert.Equal(JobReceipts.Sha256(answer), receipt.Receipt!.OutputSha256);
            Assert.Equal(JobReceipts.Sha256(Encoding.UTF8.GetBytes($$"""{"text":"via node {{i}}"}""")), receipt.Receipt.InputSha256);
            Assert.Equal(("n1", mesh.Model, "sha256:" + new string('0', 64)), (receipt.Receipt.Node, receipt.Receipt.Model, receipt.Receipt.ImageDigest));
        }

        // The node's own series, scraped for real: the five jobs it answered, the pre-flight that admitted its container.
        // A job is counted once its answer is written, which its caller may see first: the scrape waits for the count.
        var node = "";
        await LocalMesh.WaitUntilAsync("the node to count its five jobs", TimeSpan.FromSeconds(10), async () =>
            PrometheusText.Value(node = await mesh.Http.GetStringAsync(new Uri(mesh.Nodes["n1"].Url, "metrics")),
                $"inframind_node_jobs_total{{model=\"{mesh.Key}\",outcome=\"answered\"}}") >= 5);
        Assert.Equal(5, PrometheusText.Value(node, $"inframind_node_jobs_total{{model=\"{mesh.Key}\",outcome=\"answered\"}}"));
        Assert.Equal(5, PrometheusText.Value(node, $"inframind_node_job_duration_seconds_count{{model=\"{mesh.Key}\"}}"));
        Assert.Equal(1, PrometheusText.Value(node, $"inframind_node_preflights_total{{model=\"{mesh.Key}\",verdict=\"passed\"}}"));
        Assert.Equal(1, PrometheusText.Value(node, "inframind_node_containers"));
        Assert.Equal(1, PrometheusText.Value(node, "inframind_node_models{state=\"ready\"}"));
        Assert.Equal(0, PrometheusText.Value(node, "inframind_node_models{state=\"failed\"}"));
        PrometheusText.AssertProcessAndRuntimeSeries(node);
        var gateway = await mesh.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Equal(5, PrometheusText.Value(gateway, $"inframind_gateway_requests_total{{model=\"{mesh.Model}\",status=\"200\"}}"));
        PrometheusText.AssertProcessAndRuntimeSeries(gateway);
    }

    /// <summary>
    /// A node reads a model's answer no further than its MaxAnswerBytes: an answer over it is the node's 502 with the
    /// verdict response-too-large (what the gateway routes on) and the limit named, never the model's bytes passed on;
    /// an answer within it is passed on unchanged. Here the limit is 32 bytes and the good model answers
    /// {"summary": text[:40]}: 17 bytes for "hi", 53 for 40 letters.
    /// </summary>
    [SkippableFact]
    public async Task A_model_answer_over_the_nodes_limit_is_response_too_large_and_not_passed_on()
    {
        await using var mesh = await LocalMesh.StartAsync("mesh-answer-cap", new GatewayOptions { Replicas = 1, DirectToLocalContainers = false });
        await mesh.AddNodeAsync("n1", "good", tune: o => o with { MaxAnswerBytes = 32 });
        await mesh.WaitForStateAsync("n1", "ready", TimeSpan.FromSeconds(120));

        async Task<(HttpStatusCode Status, string? Verdict, string Body)> JobAsync(string text)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes["n1"].Url, $"jobs/{mesh.Model}/{LocalMesh.Version}"))
            {
                Content = Json($$"""{"text": "{{text}}"}"""),
            };
            MeshToken.Authorize(request.Headers, mesh.Nodes["n1"].Agent.Credential);
            using var response = await mesh.Http.SendAsync(request);
            return (response.StatusCode, response.Headers.TryGetValues(MeshHeaders.Verdict, out var v) ? v.Single() : null, await response.Content.ReadAsStringAsync());
        }

        var within = await JobAsync("hi");
        Assert.Equal((HttpStatusCode.OK, (string?)null), (within.Status, within.Verdict));
        Assert.Equal("hi", (string?)JsonNode.Parse(within.Body)!["summary"]);

        var over = await JobAsync(new string('a', 40));
        Assert.Equal(HttpStatusCode.BadGateway, over.Status);
        Assert.Equal(Verdict.ResponseTooLarge.WireName, over.Verdict);
        Assert.Contains("larger than 32 bytes, node n1's limit", (string?)JsonNode.Parse(over.Body)!["detail"], StringComparison.Ordinal);
        Assert.DoesNotContain(new string('a', 40), over.Body, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Serves_through_ready_nodes_and_answers_client_mistakes_with_4xx_without_touching_a_node()
    {
        await using var mesh = await LocalMesh.StartAsync("mesh-serve", new GatewayOptions { Replicas = 3 });
        await mesh.AddNodeAsync("n1", "good");
        await mesh.AddNodeAsync("n2", "good");
        // A machine of 128 MiB, the model's limit 256 MiB: it can never run there, and the node must refuse and say why.
        await mesh.AddNodeAsync("tiny", "good", new NodeCapacity(4000, 128L << 20, 0));
        await mesh.WaitForStateAsync("n1", "ready", TimeSpan.FromSeconds(120));
        await mesh.WaitForStateAsync("n2", "ready", TimeSpan.FromSeconds(60));
        // The gateway places nothing where it does not fit; were it asked anyway, the node refuses and says why.
        Assert.Null(await mesh.NodeStateAsync("tiny"));
        Assert.Empty(mesh.Nodes["tiny"].Agent.Reports());
        var assignment = (await mesh.Catalog.GetModelsAsync(CancellationToken.None)).Single();
        await mesh.Nodes["tiny"].Agent.ApplyAsync(new HeartbeatReply(
            [new ModelAssignment(assignment.Name, assignment.Version.ToString(), assignment.Manifest.Json, assignment.ImageDigest, [], null)], []), CancellationToken.None);
        var refusal = Assert.Single(mesh.Nodes["tiny"].Agent.Reports());
        Assert.Equal(ModelState.Refused, refusal.State);
        Assert.Contains(MeshErrorCodes.NodeRefused.Value, refusal.Detail, StringComparison.Ordinal);
        Assert.Contains("needs 256Mi memory, more than this node's machine has (128Mi): it can never run here", refusal.Detail, StringComparison.Ordinal);
        await LocalMesh.WaitUntilAsync("the gateway to record the refusal", TimeSpan.FromSeconds(30), async () => (await mesh.NodeInfoAsync("tiny"))["refused"]!.AsArray().Count > 0);

        // Good requests, latest and pinned.
        for (var i = 0; i < 10; i++)
        {
            using var ok = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), Json($$"""{"text": "hello {{i}}"}"""));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Contains(ok.Headers.GetValues(MeshHeaders.Node).Single(), new[] { "n1", "n2" });
            Assert.Equal("1", ok.Headers.GetValues(MeshHeaders.Attempts).Single());
            Assert.Equal($"hello {i}", (string?)JsonNode.Parse(await ok.Content.ReadAsStringAsync())!["summary"]);
        }

        using (var pinned = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}/versions/1.0.0", UriKind.Relative), Json("""{"text": "x"}""")))
            Assert.Equal(HttpStatusCode.OK, pinned.StatusCode);

        // Client mistakes: 4xx, never 5xx, never forwarded.
        async Task<JsonObject> Expect(HttpStatusCode status, string path, HttpContent content, ErrorCode code)
        {
            using var r = await mesh.Http.PostAsync(new Uri(path, UriKind.Relative), content);
            var body = await r.Content.ReadAsStringAsync();
            Assert.True(status == r.StatusCode, $"{path}: expected {status}, got {r.StatusCode}: {body}");
            var problem = JsonNode.Parse(body)!.AsObject();
            Assert.Equal(code.Value, (string?)problem["code"]);
            return problem;
        }

        var model = $"inference/v1/{mesh.Model}";
        await Expect(HttpStatusCode.BadRequest, model, Json("{\"text\": "), MeshErrorCodes.MalformedJson);
        var wrongType = await Expect(HttpStatusCode.BadRequest, model, Json("""{"text": 5}"""), MeshErrorCodes.InputInvalid);
        Assert.Contains(wrongType["errors"]!.AsArray(), e => (string?)e!["pointer"] == "/text");
        var missing = await Expect(HttpStatusCode.BadRequest, model, Json("""{"words": "x"}"""), MeshErrorCodes.InputInvalid);
        Assert.Contains("text", missing["errors"]!.ToJsonString(), StringComparison.Ordinal);
        await Expect(HttpStatusCode.BadRequest, model, Json("[]"), MeshErrorCodes.InputInvalid);
        await Expect(HttpStatusCode.RequestEntityTooLarge, model, Json("{\"text\": \"" + new string('a', 10 * 1024 * 1024) + "\"}"), MeshErrorCodes.BodyTooLarge);
        await Expect(HttpStatusCode.UnsupportedMediaType, model, new StringContent("""{"text": "x"}""", Encoding.UTF8, "text/plain"), MeshErrorCodes.UnsupportedMediaType);
        await Expect(HttpStatusCode.NotFound, "inference/v1/no-such-model", Json("""{"text": "x"}"""), MeshErrorCodes.ModelNotFound);
        await Expect(HttpStatusCode.NotFound, $"{model}/versions/9.9.9", Json("""{"text": "x"}"""), MeshErrorCodes.ModelNotFound);
        await Expect(HttpStatusCode.BadRequest, $"{model}/versions/one", Json("""{"text": "x"}"""), MeshErrorCodes.VersionInvalid);

        foreach (var node in new[] { "n1", "n2" })
        {
            var s = await mesh.NodeStateAsync(node);
            Assert.Equal(0, (long)s!["failures"]!);
        }

        Assert.Equal(11, (long)(await mesh.NodeStateAsync("n1"))!["successes"]! + (long)(await mesh.NodeStateAsync("n2"))!["successes"]!);
        // The operators' view of the same traffic: 11 answers in the last 5 minutes, with latencies; no failed attempt
        // (client mistakes never reach a node).
        var traffic = (await mesh.StateAsync())["models"]![0]!["versions"]![0]!["traffic"]!;
        Assert.Equal(11, (int)traffic["answers"]!);
        Assert.True((double)traffic["p50Ms"]! > 0 && (double)traffic["p99Ms"]! >= (double)traffic["p50Ms"]!, traffic.ToJsonString());
        Assert.Equal(0, (int)traffic["failedAttempts"]!);

        // A node's job API takes jobs only from its gateway, with the credential the gateway issued that node: neither a
        // stranger nor another member of the mesh (which holds the mesh token) gets around the gateway's checks.
        foreach (var token in new[] { null, mesh.Token, mesh.Nodes["n2"].Agent.Credential })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes["n1"].Url, $"jobs/{mesh.Model}/{LocalMesh.Version}")) { Content = Json("""{"text": 5}""") };
            MeshToken.Authorize(request.Headers, token);
            using var refused = await mesh.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal(Verdict.NodeUnauthorized.WireName, refused.Headers.GetValues(MeshHeaders.Verdict).Single());
        }

        // A node asked for a model it does not have ready says so, with a verdict the gateway can route on.
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes["n1"].Url, "jobs/nope/1.0.0")) { Content = Json("""{"text": "x"}""") })
        {
            MeshToken.Authorize(request.Headers, mesh.Nodes["n1"].Agent.Credential);
            using var notReady = await mesh.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Equal(Verdict.NotReady.WireName, notReady.Headers.GetValues(MeshHeaders.Verdict).Single());
        }

        // The node's job API holds its body cap for a chunked body too (no Content-Length to check up front): a 7 MB job
        // to a ready model is a 413 with its code, and the model never sees it; the node keeps answering.
        var big = Encoding.UTF8.GetBytes("{\"text\": \"" + new string('a', 7 * 1024 * 1024) + "\"}");
        using (var content = new StreamContent(new MemoryStream(big)))
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes["n1"].Url, $"jobs/{mesh.Model}/{LocalMesh.Version}")) { Content = content })
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.TransferEncodingChunked = true;
            MeshToken.Authorize(request.Headers, mesh.Nodes["n1"].Agent.Credential);
            using var tooLarge = await mesh.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            Assert.Equal(MeshErrorCodes.BodyTooLarge.Value, (string?)JsonNode.Parse(await tooLarge.Content.ReadAsStringAsync())!["code"]);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes["n1"].Url, $"jobs/{mesh.Model}/{LocalMesh.Version}")) { Content = Json("""{"text": "after the big one"}""") })
        {
            MeshToken.Authorize(request.Headers, mesh.Nodes["n1"].Agent.Credential);
            using var after = await mesh.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }

        // Descriptions.
        var openapi = JsonNode.Parse(await mesh.Http.GetStringAsync(new Uri($"inference/v1/{mesh.Model}/openapi.json", UriKind.Relative)))!;
        Assert.Equal("3.1.0", (string?)openapi["openapi"]);
        Assert.Equal("string", (string?)openapi["paths"]![$"/inference/v1/{mesh.Model}"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!["properties"]!["text"]!["type"]);
        Assert.Equal(HttpStatusCode.OK, (await mesh.Http.GetAsync(new Uri("healthz", UriKind.Relative))).StatusCode);
        var metrics = await mesh.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains($"inframind_gateway_requests_total{{model=\"{mesh.Model}\",status=\"200\"}} 11", metrics, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_request_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_node_reputation", metrics, StringComparison.Ordinal);

        foreach (var n in mesh.Nodes.Values.ToList()) await n.DisposeAsync();
        mesh.Nodes.Clear();
        Assert.Equal((0, 0), await mesh.LeftoversAsync());
    }
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Containers;
using InfraMind.Hosting;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Node.Tests;

/// <summary>
/// What a node's job API on a real Kestrel answers a request no endpoint takes: routing's 404 and 405, which had no body
/// and no code, are problem documents (IM6030, IM6031 with Allow); HEAD gets the status and headers only; the
/// endpoints' own answers are what they were.
/// </summary>
public sealed class UnroutedTests
{
    private const string Served = "the node serves POST /jobs/NAME/VERSION (jobs from its gateway), GET /healthz, GET /models and GET /metrics; " +
                                  "inference requests go to the gateway.";

    /// <summary>A node whose gateway never answers (port 9: it keeps trying), on an ephemeral port.</summary>
    private static async Task<NodeHost> StartAsync(ContainerEngine engine)
    {
        var options = new NodeOptions
        {
            NodeId = "unrouted", Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
        };
        return await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), CancellationToken.None);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (method is "POST" or "PUT" or "PATCH") request.Content = new StringContent("""{"text": "x"}""", Encoding.UTF8, "application/json");
        return await http.SendAsync(request);
    }

    /// <summary>The mesh's problem document (as the gateway's): the code in <c>code</c>, the detail without it.</summary>
    private static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, ErrorCode code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(code.Value, (string?)problem["code"]);
        Assert.Equal((int)status, (int?)problem["status"]);
        Assert.Equal($"https://inframind.dev/errors/{code.Value}", (string?)problem["type"]);
        var detail = (string?)problem["detail"];
        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.DoesNotContain(code.Value, detail, StringComparison.Ordinal);
        // How to fix it, as the command line's hint: line says it (no member where the code has no hint).
        Assert.Equal(code.DefaultHint, (string?)problem["hint"]);
        Assert.Equal(code.DefaultHint is not null, problem.AsObject().ContainsKey("hint"));
        return detail!;
    }

    [SkippableFact]
    public async Task Unknown_paths_are_404_IM6030_and_other_methods_405_IM6031_with_Allow()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        await using var node = await StartAsync(engine);
        using var http = new HttpClient { BaseAddress = node.Url };

        foreach (var (method, path) in new[]
                 {
                     ("GET", ""), ("GET", "nope"), ("POST", "jobs/echo"), ("POST", "jobs/echo/1.0.0/extra"), ("POST", "inference/v1/echo"), ("GET", "models/echo"),
                 })
        {
            using var response = await SendAsync(http, method, path);
            var detail = await AssertProblemAsync(response, HttpStatusCode.NotFound, MeshErrorCodes.NodeNoSuchPath);
            Assert.Equal($"nothing is served at '/{path}': {Served}", detail);
        }

        foreach (var (method, path, allow) in new[]
                 {
                     ("GET", "jobs/echo/1.0.0", "POST"), ("PUT", "jobs/echo/1.0.0", "POST"), ("DELETE", "jobs/echo/1.0.0", "POST"),
                     ("POST", "healthz", "GET"), ("DELETE", "models", "GET"),
                 })
        {
            using var response = await SendAsync(http, method, path);
            var detail = await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, MeshErrorCodes.NodeMethodNotAllowed);
            Assert.Equal([allow], response.Content.Headers.Allow);
            Assert.Equal($"'/{path}' does not take '{method}', only {allow} (the Allow header)" +
                (path.StartsWith("jobs/", StringComparison.Ordinal) ? ": a job is a POST from the node's gateway; inference requests go to the gateway." : "."), detail);
        }

        // A stranger's path: quoted, its control characters escaped, cut short.
        using (var control = await SendAsync(http, "GET", "jobs/%1B%5B31mred"))
            Assert.StartsWith("nothing is served at '/jobs/\\u001B[31mred'", await AssertProblemAsync(control, HttpStatusCode.NotFound, MeshErrorCodes.NodeNoSuchPath), StringComparison.Ordinal);
        using (var longPath = await SendAsync(http, "POST", "jobs/echo/1.0.0/" + new string('p', 5000)))
        {
            var detail = await AssertProblemAsync(longPath, HttpStatusCode.NotFound, MeshErrorCodes.NodeNoSuchPath);
            Assert.StartsWith($"nothing is served at '/jobs/echo/1.0.0/{new string('p', UnroutedAnswers.ShownChars - "/jobs/echo/1.0.0/".Length)}…'", detail, StringComparison.Ordinal);
            Assert.True(detail.Length < 1000, detail);
        }
    }

    [SkippableFact]
    public async Task HEAD_gets_the_status_and_headers_and_no_body_and_the_endpoints_own_answers_are_unchanged()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        await using var node = await StartAsync(engine);
        foreach (var (path, status, allow) in new (string, string, string?)[]
                 {
                     ("/jobs/echo/1.0.0", "405 Method Not Allowed", "POST"), ("/healthz", "405 Method Not Allowed", "GET"),
                     ("/jobs/echo", "404 Not Found", null), ("/nope", "404 Not Found", null),
                 })
        {
            var (head, body) = await RawHttpExchange.SendAsync(node.Url, $"HEAD {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n");
            Assert.StartsWith($"HTTP/1.1 {status}\r\n", head, StringComparison.Ordinal);
            Assert.Contains("\r\nContent-Type: application/problem+json\r\n", head, StringComparison.OrdinalIgnoreCase);
            if (allow is not null) Assert.Contains($"\r\nAllow: {allow}\r\n", head, StringComparison.Ordinal);
            Assert.Empty(body);
        }

        using var http = new HttpClient { BaseAddress = node.Url };
        // A job for a version the node does not run: its own refusal, a verdict for the gateway to judge by, as before.
        using (var job = await SendAsync(http, "POST", "jobs/echo/1.0.0"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, job.StatusCode);
            Assert.Equal("application/json", job.Content.Headers.ContentType?.MediaType);
            Assert.Equal([Verdict.NotReady.WireName], job.Headers.GetValues(MeshHeaders.Verdict));
            var refusal = JsonNode.Parse(await job.Content.ReadAsStringAsync())!;
            Assert.Equal(MeshErrorCodes.ModelNotReadyOnNode.Value, (string?)refusal["code"]);
        }

        using (var health = await SendAsync(http, "GET", "healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        }

        using (var models = await SendAsync(http, "GET", "models"))
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        using var metrics = await SendAsync(http, "GET", "metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// What the gateway on a real Kestrel answers a request no endpoint takes: routing's 404 and 405, which had no body and
/// no code, are problem documents (IM6028, IM6029 with Allow); HEAD gets the status and headers only; the endpoints'
/// own answers are what they were.
/// </summary>
public sealed class UnroutedTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private GatewayHost _gateway = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _gateway = await GatewayHost.StartAsync(new GatewayOptions(), _catalog, CancellationToken.None);
        _http = new HttpClient { BaseAddress = _gateway.Url };
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (method is "POST" or "PUT" or "PATCH") request.Content = new StringContent("""{"text": "x"}""", Encoding.UTF8, "application/json");
        return await _http.SendAsync(request);
    }

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

    [Theory]
    [InlineData("GET", "inference/v1/echo", "POST")]
    [InlineData("PUT", "inference/v1/echo", "POST")]
    [InlineData("DELETE", "inference/v1/echo", "POST")]
    [InlineData("PATCH", "inference/v1/no-such-model", "POST")]
    [InlineData("GET", "inference/v1/echo/versions/1.0.0", "POST")]
    [InlineData("POST", "inference/v1", "GET")]
    [InlineData("POST", "healthz", "GET")]
    [InlineData("GET", "mesh/v1/nodes/n1", "DELETE")]
    public async Task A_method_the_path_does_not_take_is_405_IM6029_with_Allow(string method, string path, string allow)
    {
        using var response = await SendAsync(method, path);
        var detail = await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, MeshErrorCodes.MethodNotAllowed);
        Assert.Equal([allow], response.Content.Headers.Allow);
        Assert.StartsWith($"'/{path}' does not take '{method}', only {allow} (the Allow header)", detail, StringComparison.Ordinal);
        if (path.StartsWith("inference/v1/", StringComparison.Ordinal))
            Assert.EndsWith("an inference request is a POST with the input as its JSON body.", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "inference/v1/summarizer-v1/foo")]
    [InlineData("POST", "inference/v1/echo/foo")]
    [InlineData("GET", "inference/v1/echo/foo/bar")]
    [InlineData("POST", "inference/v1/echo/versions/1.0.0/extra")]
    [InlineData("POST", "inference/v1/echo/versions/")]
    [InlineData("POST", "inference/v2/echo")]
    [InlineData("GET", "nope")]
    public async Task A_path_the_gateway_does_not_serve_is_404_IM6028_naming_what_it_serves(string method, string path)
    {
        using var response = await SendAsync(method, path);
        var detail = await AssertProblemAsync(response, HttpStatusCode.NotFound, MeshErrorCodes.NoSuchPath);
        Assert.StartsWith($"nothing is served at '/{path}': the gateway serves POST /inference/v1/NAME and POST /inference/v1/NAME/versions/VERSION",
            detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_strangers_path_is_shown_escaped_and_cut_short()
    {
        using var control = await SendAsync("GET", "inference/v1/echo/%1B%5B31mred");
        var detail = await AssertProblemAsync(control, HttpStatusCode.NotFound, MeshErrorCodes.NoSuchPath);
        Assert.StartsWith("nothing is served at '/inference/v1/echo/\\u001B[31mred'", detail, StringComparison.Ordinal);

        using var longPath = await SendAsync("POST", "inference/v1/echo/" + new string('p', 5000));
        detail = await AssertProblemAsync(longPath, HttpStatusCode.NotFound, MeshErrorCodes.NoSuchPath);
        Assert.StartsWith($"nothing is served at '/inference/v1/echo/{new string('p', 100 - "/inference/v1/echo/".Length)}…'", detail, StringComparison.Ordinal);
        Assert.True(detail.Length < 1000, detail);
    }

    [Fact]
    public async Task The_endpoints_own_answers_are_unchanged()
    {
        using (var unknownModel = await SendAsync("POST", "inference/v1/no-such-model"))
            await AssertProblemAsync(unknownModel, HttpStatusCode.NotFound, MeshErrorCodes.ModelNotFound);
        using (var unknownVersion = await SendAsync("POST", "inference/v1/echo/versions/3.0.0"))
            await AssertProblemAsync(unknownVersion, HttpStatusCode.NotFound, MeshErrorCodes.ModelNotFound);
        using (var openapi = await SendAsync("GET", "inference/v1/no-such-model/openapi.json"))
            await AssertProblemAsync(openapi, HttpStatusCode.NotFound, MeshErrorCodes.ModelNotFound);
        using (var ghost = await SendAsync("DELETE", "mesh/v1/nodes/ghost"))
            await AssertProblemAsync(ghost, HttpStatusCode.NotFound, MeshErrorCodes.UnknownNode);
        using (var wrongType = new HttpRequestMessage(HttpMethod.Post, new Uri("inference/v1/echo", UriKind.Relative)) { Content = new StringContent("x", Encoding.UTF8, "text/plain") })
        using (var unsupported = await _http.SendAsync(wrongType))
            await AssertProblemAsync(unsupported, HttpStatusCode.UnsupportedMediaType, MeshErrorCodes.UnsupportedMediaType);
        using (var health = await SendAsync("GET", "healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        }

        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _gateway.Url };
        using var root = await noRedirect.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
        Assert.Equal("/dashboard", root.Headers.Location?.OriginalString);
    }

    [Theory]
    [InlineData("/inference/v1/echo", "405 Method Not Allowed", "POST")]
    [InlineData("/inference/v1/echo/versions/1.0.0", "405 Method Not Allowed", "POST")]
    [InlineData("/inference/v1/echo/foo", "404 Not Found", null)]
    [InlineData("/nope", "404 Not Found", null)]
    public async Task HEAD_gets_the_status_and_headers_and_no_body(string path, string status, string? allow)
    {
        var (head, body) = await RawAsync($"HEAD {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
        Assert.StartsWith($"HTTP/1.1 {status}\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/problem+json\r\n", head, StringComparison.OrdinalIgnoreCase);
        if (allow is not null) Assert.Contains($"\r\nAllow: {allow}\r\n", head, StringComparison.Ordinal);
        Assert.Empty(body);
    }

    [Fact]
    public async Task A_NUL_in_the_path_is_refused_by_Kestrel_before_the_gateway()
    {
        // Kestrel's request-line parser refuses %00 and closes the connection before any middleware runs, so this one
        // answer has no body and no code (docs/errors.md says so); what matters here is that it is a 400, not a route.
        var (head, body) = await RawAsync("POST /inference/v1/ec%00ho HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close\r\n", head, StringComparison.Ordinal);
        Assert.Empty(body);
    }

    private Task<(string Head, byte[] Body)> RawAsync(string request) => RawHttpExchange.SendAsync(_gateway.Url, request);
}

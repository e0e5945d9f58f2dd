using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Hosting;
using InfraMind.Registry.Http;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Registry.Tests.Http;

/// <summary>
/// What the registry on a real Kestrel answers a request no endpoint takes: routing's 404 and 405, which had no body and
/// no code, are problem documents like the API's others (IM5115, IM5116 with Allow); HEAD gets the status and headers
/// only; the endpoints' own answers are what they were.
/// </summary>
public sealed class UnroutedTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private RegistryServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartAsync(new RegistryServerOptions(_dir.Path, "http://127.0.0.1:0"), CancellationToken.None);
        _http = new HttpClient { BaseAddress = _server.Address };
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // xunit runs this after DisposeAsync: the server is stopped before its directory goes.
    public void Dispose()
    {
        _http.Dispose();
        _dir.Dispose();
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative));
        if (method is "POST" or "PUT" or "PATCH") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        return await _http.SendAsync(request);
    }

    /// <summary>The registry's problem document: the code in <c>code</c> and <c>title</c>, the detail without it, the code's hint in <c>hint</c>.</summary>
    private static async Task<string> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, ErrorCode code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(code.Value, (string?)problem["code"]);
        Assert.Equal(code.Value, (string?)problem["title"]);
        Assert.Equal((int)status, (int?)problem["status"]);
        Assert.Equal($"https://inframind.dev/errors/{code.Value}", (string?)problem["type"]);
        var detail = (string?)problem["detail"];
        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.DoesNotContain(code.Value, detail, StringComparison.Ordinal);
        // How to fix it, as the command line's hint: line says it.
        Assert.Equal(code.DefaultHint, (string?)problem["hint"]);
        return detail!;
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("GET", "nope")]
    [InlineData("GET", "v1")]
    [InlineData("GET", "v1/models")]
    [InlineData("GET", "v1/models/m/1.0.0/extra")]
    [InlineData("GET", "v1/entries/0/proof")]
    [InlineData("POST", "v1/publish")]
    [InlineData("GET", "v2/entries")]
    [InlineData("GET", "inference/v1")]
    public async Task A_path_the_registry_does_not_serve_is_404_IM5115_naming_what_it_serves(string method, string path)
    {
        using var response = await SendAsync(method, path);
        var detail = await AssertProblemAsync(response, HttpStatusCode.NotFound, RegistryErrorCodes.NoSuchPath);
        Assert.Equal($"nothing is served at '/{path}': the registry serves POST /v1/entries (publish), GET /v1/entries, GET /v1/entries/INDEX, " +
            "GET /v1/models/NAME, GET /v1/models/NAME/VERSION, GET /v1/checkpoint, GET /v1/key, GET /v1/proof/consistency?from=N&to=M and GET /metrics.", detail);
    }

    [Theory]
    [InlineData("PUT", "v1/entries")]
    [InlineData("DELETE", "v1/entries")]
    public async Task Another_method_on_the_log_is_405_IM5116_with_Allow_and_how_to_publish(string method, string path)
    {
        using var response = await SendAsync(method, path);
        var detail = await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, RegistryErrorCodes.MethodNotAllowed);
        Assert.Equal(["GET", "POST"], response.Content.Headers.Allow.Order(StringComparer.Ordinal));
        var allow = string.Join(", ", response.Content.Headers.Allow);
        Assert.Equal($"'/{path}' does not take '{method}', only {allow} (the Allow header): a publish is a POST of a signed envelope (infra publish sends it).", detail);
    }

    [Theory]
    [InlineData("POST", "v1/key")]
    [InlineData("DELETE", "v1/checkpoint")]
    [InlineData("PUT", "v1/models/m")]
    [InlineData("POST", "v1/models/m/1.0.0")]
    [InlineData("PATCH", "v1/entries/0")]
    [InlineData("POST", "v1/proof/consistency")]
    public async Task A_method_a_read_does_not_take_is_405_IM5116_with_Allow_GET(string method, string path)
    {
        using var response = await SendAsync(method, path);
        var detail = await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, RegistryErrorCodes.MethodNotAllowed);
        Assert.Equal(["GET"], response.Content.Headers.Allow);
        Assert.Equal($"'/{path}' does not take '{method}', only GET (the Allow header).", detail);
    }

    [Fact]
    public async Task A_strangers_path_is_shown_escaped_and_cut_short()
    {
        using var control = await SendAsync("GET", "v1/nope/%1B%5B31mred");
        var detail = await AssertProblemAsync(control, HttpStatusCode.NotFound, RegistryErrorCodes.NoSuchPath);
        Assert.StartsWith("nothing is served at '/v1/nope/\\u001B[31mred'", detail, StringComparison.Ordinal);

        using var longPath = await SendAsync("GET", "v1/nope/" + new string('p', 5000));
        detail = await AssertProblemAsync(longPath, HttpStatusCode.NotFound, RegistryErrorCodes.NoSuchPath);
        Assert.StartsWith($"nothing is served at '/v1/nope/{new string('p', UnroutedAnswers.ShownChars - "/v1/nope/".Length)}…'", detail, StringComparison.Ordinal);
        Assert.True(detail.Length < 1000, detail);
    }

    [Fact]
    public async Task The_endpoints_own_answers_are_unchanged()
    {
        using (var unknownModel = await SendAsync("GET", "v1/models/unknown"))
            await AssertProblemAsync(unknownModel, HttpStatusCode.NotFound, RegistryErrorCodes.NotFound);
        using (var unknownEntry = await SendAsync("GET", "v1/entries/7"))
            await AssertProblemAsync(unknownEntry, HttpStatusCode.NotFound, RegistryErrorCodes.NotFound);
        using (var notAnIndex = await SendAsync("GET", "v1/entries/abc"))
            await AssertProblemAsync(notAnIndex, HttpStatusCode.BadRequest, RegistryErrorCodes.InvalidRequest);
        using (var garbage = await SendAsync("POST", "v1/entries"))
            await AssertProblemAsync(garbage, HttpStatusCode.BadRequest, SigningErrorCodes.EnvelopeMalformed);
        using (var key = await SendAsync("GET", "v1/key"))
        {
            Assert.Equal(HttpStatusCode.OK, key.StatusCode);
            Assert.Equal("application/x-pem-file", key.Content.Headers.ContentType?.MediaType);
        }

        using (var log = await SendAsync("GET", "v1/entries"))
        {
            Assert.Equal(HttpStatusCode.OK, log.StatusCode);
            Assert.Equal("application/json", log.Content.Headers.ContentType?.MediaType);
        }

        using var metrics = await SendAsync("GET", "metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Theory]
    [InlineData("/v1/key", "405 Method Not Allowed", "GET")]
    [InlineData("/v1/entries", "405 Method Not Allowed", null)]
    [InlineData("/v1/nope", "404 Not Found", null)]
    [InlineData("/", "404 Not Found", null)]
    public async Task HEAD_gets_the_status_and_headers_and_no_body(string path, string status, string? allow)
    {
        var (head, body) = await RawHttpExchange.SendAsync(_server.Address, $"HEAD {path} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n");
        Assert.StartsWith($"HTTP/1.1 {status}\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: application/problem+json\r\n", head, StringComparison.OrdinalIgnoreCase);
        if (allow is not null) Assert.Contains($"\r\nAllow: {allow}\r\n", head, StringComparison.Ordinal);
        if (status.StartsWith("405", StringComparison.Ordinal)) Assert.Contains("\r\nAllow: ", head, StringComparison.Ordinal);
        Assert.Empty(body);
    }

    [Fact]
    public async Task A_client_given_the_registry_under_another_path_is_told_what_it_serves()
    {
        using var http = new HttpClient { BaseAddress = new Uri(_server.Address, "extra/") };
        var e = await Assert.ThrowsAsync<RegistryException>(() => new RegistryClient(http).GetCheckpointAsync(CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.NoSuchPath, e.Code);
        Assert.Equal(RegistryErrorKind.NotFound, e.Category);
        Assert.StartsWith("nothing is served at '/extra/v1/checkpoint': the registry serves POST /v1/entries", e.Message, StringComparison.Ordinal);
        Assert.Equal(RegistryErrorCodes.NoSuchPath.DefaultHint, e.Hint);
    }
}

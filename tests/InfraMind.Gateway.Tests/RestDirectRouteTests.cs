using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// A REST model's container that answers what is not HTTP, on the direct route `infra mesh up` takes (a node of the
/// gateway's process hands over the connector): the model's doing, malformed-answer, not connection-failed, which would
/// cost the honest node that runs it its standing whenever another node answered the same input.
/// </summary>
public sealed class RestDirectRouteTests
{
    private static PublishedModel RestEcho()
    {
        var yaml = """
            name: echo
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """;
        var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        return new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1);
    }

    public static TheoryData<string, string> Answers => new()
    {
        { "garbage status line", "HELLO THERE\r\n\r\n" },
        { "headers over the limit", "HTTP/1.1 200 OK\r\nX-Pad: " + new string('x', 200 * 1024) + "\r\nContent-Length: 2\r\n\r\n{}" },
        { "bad chunk", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n" },
        { "closed without an answer", "" },
        { "a body shorter than its Content-Length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"summary\": \"" },
        { "a chunked body without its last chunk", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n" },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task An_answer_that_is_not_HTTP_is_the_models_malformed_answer_a_closed_connection_stays_connection_failed(string what, string raw)
    {
        using var model = new RawModel(raw);
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(RestEcho());
        var token = MeshToken.Create();
        var local = new LocalNodes();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token, Replicas = 1, MaxAttempts = 1, LocalNodes = local },
            catalog, CancellationToken.None);
        await using var node = new FakeNode(gateway.Url, token);
        using (var r = await node.RegisterAsync("local")) r.EnsureSuccessStatusCode();
        using var attached = local.Attach("local", new LocalNode(node, model));
        await node.ReadyAsync("local");

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(60) };
        using var content = new StringContent("""{"text": "hi"}""", Encoding.UTF8, "application/json");
        using var answer = await http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        var body = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
        Assert.True(answer.StatusCode == HttpStatusCode.BadGateway, body.ToJsonString());
        var attempt = body["attempts"]![0]!;
        Assert.True(what switch
            {
                "closed without an answer" => (string?)attempt["verdict"] == "connection-failed",
                // The model's server answered its headers and ended the answer short: the model's, as garbage is.
                _ when what.StartsWith('a') => (string?)attempt["verdict"] == "malformed-answer" && ((string?)attempt["detail"])!.Contains("ended its answer before the body its headers declared", StringComparison.Ordinal),
                _ => (string?)attempt["verdict"] == "malformed-answer" && ((string?)attempt["detail"])!.Contains("not a valid HTTP/1.1 answer", StringComparison.Ordinal),
            },
            $"{what}: {attempt.ToJsonString()}");
        Assert.Empty(node.Jobs);
    }

    private sealed class LocalNode(FakeNode node, RawModel model) : ILocalNode
    {
        public string? Credential => node.Credential;

        public IModelConnector? ConnectorOf(string name, string version) => name == "echo" ? model : null;

        public string? SignReceipt(string requestId, string name, string version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output) => null;

        public void JobStarted()
        {
        }

        public void JobEnded()
        {
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// A new release takes over from its predecessor once it serves: while its image is still being pulled and
/// pre-flighted, a request that names no version is answered by the newest released version that is ready, not with a
/// 503 (before: every such request failed with model-not-ready until a node had the new version ready). A request that
/// names the new version waits for it, as before. A real gateway on Kestrel, a node played over real sockets.
/// </summary>
public sealed class RolloutTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string Report(string version, string state) =>
        $$"""{"name":"echo","version":"{{version}}","state":"{{state}}","preflightGeneration":1,"since":"2026-01-01T00:00:00Z"}""";

    [Fact]
    public async Task A_release_not_yet_ready_leaves_its_predecessor_answering_and_takes_over_once_ready()
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        var token = MeshToken.Create();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token, Replicas = 1 }, catalog, CancellationToken.None);
        await using var node = new FakeNode(gateway.Url, token);
        using (var r = await node.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url };

        async Task<(HttpStatusCode Status, string? Version, string? Code)> Call(string path)
        {
            using var response = await http.PostAsync(path, Json("""{"text": "hello"}"""));
            var version = response.Headers.TryGetValues(MeshHeaders.ModelVersion, out var v) ? v.Single() : null;
            var code = response.IsSuccessStatusCode ? null : (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())?["code"];
            return (response.StatusCode, version, code);
        }

        async Task Beat(params string[] reports)
        {
            using var r = await node.BeatAsync("n1", $"[{string.Join(",", reports)}]", node.Credential);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        await Beat(Report("1.0.0", "ready"));
        Assert.Equal((HttpStatusCode.OK, "1.0.0", null), await Call("inference/v1/echo"));

        // 1.1.0 is published; the node is still starting it.
        catalog.Publish(MeshStateTests.Served("1.1.0").Published);
        var published = Stopwatch.StartNew();
        while ((string?)JsonNode.Parse(await http.GetStringAsync("inference/v1"))!["models"]![0]!["latest"] != "1.1.0")
        {
            Assert.True(published.Elapsed < TimeSpan.FromSeconds(30), "the gateway never saw 1.1.0");
            await Task.Delay(50);
        }

        await Beat(Report("1.0.0", "ready"), Report("1.1.0", "starting"));
        for (var i = 0; i < 5; i++) Assert.Equal((HttpStatusCode.OK, "1.0.0", null), await Call("inference/v1/echo"));
        // Named, the new version is what is asked for, and it is not ready yet.
        Assert.Equal((HttpStatusCode.ServiceUnavailable, null, MeshErrorCodes.NoReadyNode.Value), await Call("inference/v1/echo/versions/1.1.0"));

        // Ready: it answers from now on.
        await Beat(Report("1.0.0", "ready"), Report("1.1.0", "ready"));
        for (var i = 0; i < 5; i++) Assert.Equal((HttpStatusCode.OK, "1.1.0", null), await Call("inference/v1/echo"));

        // A new release that fails its pre-flight leaves the last good one answering; with none ready, the latest's own 503.
        catalog.Publish(MeshStateTests.Served("1.2.0").Published);
        published.Restart();
        while ((string?)JsonNode.Parse(await http.GetStringAsync("inference/v1"))!["models"]![0]!["latest"] != "1.2.0")
        {
            Assert.True(published.Elapsed < TimeSpan.FromSeconds(30), "the gateway never saw 1.2.0");
            await Task.Delay(50);
        }

        await Beat(Report("1.0.0", "ready"), Report("1.1.0", "ready"), Report("1.2.0", "failed"));
        Assert.Equal((HttpStatusCode.OK, "1.1.0", null), await Call("inference/v1/echo"));
        await Beat(Report("1.0.0", "starting"), Report("1.1.0", "starting"), Report("1.2.0", "starting"));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, null, MeshErrorCodes.NoReadyNode.Value), await Call("inference/v1/echo"));
    }
}

/// <summary>
/// DELETE /mesh/v1/nodes/{id}, a node leaving: only the node itself, by its credential (and its key's signature when
/// bound), may make the gateway stop sending it jobs; a stranger who knows the id gets nothing.
/// </summary>
public sealed class LeaveTests
{
    [Fact]
    public async Task Only_the_node_itself_leaves_and_a_heartbeat_brings_it_back()
    {
        var catalog = new InMemoryModelCatalog();
        var token = MeshToken.Create();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token }, catalog, CancellationToken.None);
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("leaver");
        await using var plain = new FakeNode(gateway.Url, token);
        await using var keyed = new FakeNode(gateway.Url, token) { Key = key };
        using (var r = await plain.RegisterAsync("plain")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await keyed.RegisterAsync("keyed")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url };
        http.DefaultRequestHeaders.Authorization = System.Net.Http.Headers.AuthenticationHeaderValue.Parse(MeshToken.Header(token));

        async Task<(HttpStatusCode Status, string? Code)> Leave(string id, string? credential, string? signature = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"mesh/v1/nodes/{id}");
            if (credential is not null) request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, credential);
            if (signature is not null) request.Headers.TryAddWithoutValidation(MeshHeaders.Signature, signature);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, response.IsSuccessStatusCode ? null : (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())?["code"]);
        }

        async Task<JsonNode> Info(string id) =>
            JsonNode.Parse(await http.GetStringAsync("inference/v1"))!["nodes"]!.AsArray().Single(n => (string?)n!["id"] == id)!;

        Assert.Equal((HttpStatusCode.NotFound, MeshErrorCodes.UnknownNode.Value), await Leave("nobody", plain.Credential));
        Assert.Equal((HttpStatusCode.Forbidden, MeshErrorCodes.NodeCredentialInvalid.Value), await Leave("plain", null));
        Assert.Equal((HttpStatusCode.Forbidden, MeshErrorCodes.NodeCredentialInvalid.Value), await Leave("plain", keyed.Credential));
        // A key-bound node's credential alone is not enough: the request must be signed by its key.
        Assert.Equal((HttpStatusCode.Unauthorized, MeshErrorCodes.NodeSignatureInvalid.Value), await Leave("keyed", keyed.Credential));
        Assert.True((bool)(await Info("plain"))["online"]! && (bool)(await Info("keyed"))["online"]!);

        Assert.Equal((HttpStatusCode.NoContent, null), await Leave("plain", plain.Credential));
        Assert.Equal((HttpStatusCode.NoContent, null), await Leave("keyed", keyed.Credential, keyed.Sign("/mesh/v1/nodes/keyed", [], method: "DELETE")));
        foreach (var id in new[] { "plain", "keyed" })
        {
            var info = await Info(id);
            Assert.True((bool)info["left"]! && !(bool)info["online"]!, info.ToJsonString());
        }

        // Back: its next heartbeat.
        await plain.ReadyAsync("plain");
        Assert.True((bool)(await Info("plain"))["online"]! && !(bool)(await Info("plain"))["left"]!);
    }
}

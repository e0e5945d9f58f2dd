using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// Nodes that serve two gateways (#16): each gateway places on its own from what nodes report, both place alike, each
/// sends jobs with the credential it issued, a gateway that is down holds up no other, and losing a gateway stops
/// nothing the other still assigns. Real gateways and nodes on Kestrel, real containers.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class TwoGatewaysTests
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [SkippableFact]
    public async Task Two_gateways_place_alike_without_talking_and_either_serves_alone()
    {
        // Gateway B is the mesh's; A is another over the same registry (catalog) and mesh token. Each reaches a node
        // through its job API with the credential it issued (a node's first gateway is A, so B's direct route is off).
        await using var mesh = await LocalMesh.StartAsync("mesh-two-gateways", new GatewayOptions { Replicas = 1 });
        var a = await GatewayHost.StartAsync(new GatewayOptions { Replicas = 1, NodeToken = mesh.Token }, mesh.Catalog, CancellationToken.None);
        var aUp = true;
        var b = mesh.Gateway;
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            // n2 names a gateway that is not there first: it registers with the two that are, all the same.
            var nowhere = new Uri("http://127.0.0.1:9/");
            await mesh.AddNodeAsync("n1", "good", gateways: [a.Url, b.Url]);
            await mesh.AddNodeAsync("n2", "good", gateways: [nowhere, a.Url, b.Url]);
            await mesh.Nodes["n2"].Agent.Registered.WaitAsync(TimeSpan.FromSeconds(30));

            async Task<List<string>> Placed(Uri gateway)
            {
                var state = JsonNode.Parse(await http.GetStringAsync(new Uri(gateway, "inference/v1")))!;
                return [.. state["models"]!.AsArray().SelectMany(m => m!["versions"]!.AsArray()).SelectMany(v => v!["nodes"]!.AsArray())
                    .Where(n => (string)n!["state"]! == "ready").Select(n => (string)n!["node"]!)];
            }

            await LocalMesh.WaitUntilAsync("the model ready on one node for both gateways", TimeSpan.FromSeconds(120),
                async () => (await Placed(a.Url)).Count == 1 && (await Placed(b.Url)).Count == 1);
            var chosen = Assert.Single(await Placed(a.Url));
            Assert.Equal([chosen], await Placed(b.Url));
            // One replica means one container: the node the gateways agree on runs it, the other runs nothing.
            Assert.Single(mesh.Nodes[chosen].Agent.Reports());
            Assert.Empty(mesh.Nodes[chosen == "n1" ? "n2" : "n1"].Agent.Reports());

            foreach (var gateway in new[] { a.Url, b.Url })
            {
                using var ok = await http.PostAsync(new Uri(gateway, $"inference/v1/{mesh.Model}"), Json("""{"text": "either"}"""));
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
                Assert.Equal(chosen, ok.Headers.GetValues(MeshHeaders.Node).Single());
            }

            // Through its job API the node takes each gateway's own credential and nothing else.
            using (var stranger = new HttpRequestMessage(HttpMethod.Post, new Uri(mesh.Nodes[chosen].Url, $"jobs/{mesh.Model}/{LocalMesh.Version}")))
            {
                stranger.Content = Json("""{"text": "x"}""");
                MeshToken.Authorize(stranger.Headers, mesh.Token);
                using var refused = await http.SendAsync(stranger);
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            }

            // Gateway A goes: B alone still serves, and the model keeps running (B assigns it).
            await a.DisposeAsync();
            aUp = false;
            for (var i = 0; i < 10; i++)
            {
                using var ok = await http.PostAsync(new Uri(b.Url, $"inference/v1/{mesh.Model}"), Json($$"""{"text": "alone {{i}}"}"""));
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
                await Task.Delay(100);
            }

            Assert.Equal(ModelState.Ready, Assert.Single(mesh.Nodes[chosen].Agent.Reports()).State);
        }
        finally
        {
            if (aUp) await a.DisposeAsync();
        }
    }
}

using System.Net;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// GET /dashboard/state (<see cref="MeshState.DashboardView"/>): what the dashboard draws, computed by the gateway. The
/// summary counts the whole mesh; of what the filter keeps, the view says how many there are and carries the first
/// 500 nodes, 100 models and 200 failures, in the order the page shows them, whatever the mesh holds.
/// </summary>
public sealed class DashboardViewTests
{
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(1);
    private static readonly NodeCapacity Large = new(1_000_000, 1L << 40, 0);
    private readonly FakeTimeProvider _time = new();

    private MeshState Mesh(int replicas = 3, int maxNodes = 256) =>
        new(new GatewayOptions { Replicas = replicas, MaxNodes = maxNodes, MaxModelsPerNode = 1024 }, _time, new GatewayMetrics(), NullLogger.Instance);

    private static string Join(MeshState mesh, string id)
    {
        var (outcome, credential) = mesh.Register(new NodeRegistration(id, new Uri($"http://127.0.0.1:1/{id}/"), Large, new Dictionary<string, string>(), Beat), null);
        Assert.Equal(Admission.Registered, outcome);
        return credential!;
    }

    private static JsonNode View(MeshState mesh, string? filter = null) =>
        System.Text.Json.JsonSerializer.SerializeToNode(mesh.DashboardView(filter), MeshJson.Options)!;

    private static int Int(JsonNode node, string path) => (int)path.Split('.').Aggregate(node, (n, p) => n[p]!);

    [Fact]
    public void The_summary_counts_everything_and_a_hundred_models_in_name_order_are_shown_with_all_their_versions()
    {
        var mesh = Mesh();
        // 121 names handed over in no order; the first name has three versions, shown newest first.
        var models = Enumerable.Range(0, 121).Reverse().Select(i => MeshStateTests.Served(name: $"bulk-{i:D3}")).ToList();
        models.Add(MeshStateTests.Served("1.10.0", name: "bulk-000"));
        models.Add(MeshStateTests.Served("1.9.0", name: "bulk-000"));
        mesh.SetModels(models);
        Join(mesh, "n1");
        Join(mesh, "n2");

        var view = View(mesh);
        Assert.Equal(2, Int(view, "summary.nodes"));
        Assert.Equal(121, Int(view, "summary.models"));
        Assert.Equal(123, Int(view, "summary.versions"));
        Assert.Equal(0, Int(view, "summary.quarantined"));
        Assert.Equal(121, Int(view, "models.matching"));
        var shown = view["models"]!["shown"]!.AsArray();
        Assert.Equal(DashboardLimits.Models, shown.Count);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"bulk-{i:D3}"), shown.Select(m => (string)m!["name"]!));
        Assert.Equal(["1.10.0", "1.9.0", "1.0.0"], shown[0]!["versions"]!.AsArray().Select(v => (string)v!["version"]!));
        Assert.Equal("1.10.0", (string?)shown[0]!["latest"]);
        // A model is shown as the state document shows it (the same rows, from the same code).
        var described = System.Text.Json.JsonSerializer.SerializeToNode(mesh.Describe("bulk-001"), MeshJson.Options)!;
        Assert.True(JsonNode.DeepEquals(described["models"]![0], shown[1]));

        // The filter, in any case: what it keeps is counted and shown; the summary still counts everything.
        var filtered = View(mesh, "BULK-11");
        Assert.Equal("BULK-11", (string?)filtered["filter"]);
        Assert.Equal(10, Int(filtered, "models.matching"));
        Assert.Equal(Enumerable.Range(110, 10).Select(i => $"bulk-{i:D3}"), filtered["models"]!["shown"]!.AsArray().Select(m => (string)m!["name"]!));
        Assert.Equal(0, Int(filtered, "nodes.matching"));
        Assert.Empty(filtered["nodes"]!["shown"]!.AsArray());
        Assert.Equal(121, Int(filtered, "summary.models"));
        Assert.Equal(2, Int(filtered, "summary.nodes"));
    }

    [Fact]
    public void Five_hundred_nodes_in_id_order_are_shown_and_each_carries_its_suspended_placements()
    {
        var mesh = Mesh(replicas: 1, maxNodes: 600);
        for (var i = 500; i >= 0; i--) Join(mesh, $"node-{i:D3}");
        var view = View(mesh);
        Assert.Equal(501, Int(view, "summary.nodes"));
        Assert.Equal(501, Int(view, "summary.nodesOnline"));
        Assert.Equal(501, Int(view, "nodes.matching"));
        var shown = view["nodes"]!["shown"]!.AsArray();
        Assert.Equal(DashboardLimits.Nodes, shown.Count);
        Assert.Equal("node-000", (string?)shown[0]!["node"]!["id"]);
        Assert.Equal("node-499", (string?)shown[^1]!["node"]!["id"]);
        Assert.All(shown, n => Assert.Empty(n!["suspensions"]!.AsArray()));

        // Past three missed beats every node is offline: the summary says so.
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(0, Int(View(mesh), "summary.nodesOnline"));

        var filtered = View(mesh, "49");
        Assert.Equal(15, Int(filtered, "nodes.matching")); // node-049, -149, -249, -349, -449 and node-490 … node-499
        Assert.Equal("node-049", (string?)filtered["nodes"]!["shown"]![0]!["node"]!["id"]);
    }

    [Fact]
    public void A_suspension_is_shown_on_its_nodes_row_with_its_reason_and_end()
    {
        var mesh = Mesh();
        mesh.SetModels([MeshStateTests.Served(), MeshStateTests.Served("2.0.0")]);
        foreach (var id in new[] { "a", "b", "c" })
        {
            var credential = Join(mesh, id);
            Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [
                new ModelReport("echo", "1.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow()),
                new ModelReport("echo", "2.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow())]), credential, out _));
        }

        foreach (var key in new[] { "echo@1.0.0", "echo@2.0.0" })
            for (var i = 0; i < 3; i++) mesh.Settle(key, "echo", [("b", Routing.QuarantineTests.Known("request-timeout"))], answered: true);

        var rows = View(mesh)["nodes"]!["shown"]!.AsArray().ToDictionary(n => (string)n!["node"]!["id"]!, n => n!["suspensions"]!.AsArray());
        Assert.Empty(rows["a"]);
        Assert.Empty(rows["c"]);
        Assert.Equal(["2.0.0", "1.0.0"], rows["b"].Select(s => (string)s!["version"]!));
        Assert.All(rows["b"], s =>
        {
            Assert.Equal("echo", (string?)s!["model"]);
            Assert.Equal("request-timeout", (string?)s["reason"]);
            Assert.True(DateTimeOffset.Parse((string)s["until"]!, System.Globalization.CultureInfo.InvariantCulture) > _time.GetUtcNow());
        });

        // Each suspended placement's failures are listed (3 each), by model, newest version first, then node.
        var failures = View(mesh)["failures"]!;
        Assert.Equal(2, Int(failures, "all"));
        Assert.Equal(["echo@2.0.0 b 3", "echo@1.0.0 b 3"], failures["shown"]!.AsArray().Select(f => $"{f!["model"]}@{f["version"]} {f["node"]} {f["failures"]}"));
    }

    [Fact]
    public void Two_hundred_failures_are_shown_and_the_filter_keeps_those_of_a_model_or_node_it_names()
    {
        var mesh = Mesh();
        mesh.SetModels([.. Enumerable.Range(0, 70).Select(i => MeshStateTests.Served(name: $"f-{i:D3}"))]);
        var credentials = new[] { "n-a", "n-b", "n-c" }.ToDictionary(id => id, id => Join(mesh, id));
        // A pre-flight verdict reported by a node and a failure held against it both make a failure row; a placement
        // with neither makes none.
        foreach (var (id, credential) in credentials)
            Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [new ModelReport("f-000", "1.0.0", ModelState.Failed, Verdict.InitFailed, "<b>hostile</b>", 1, 2, 1, _time.GetUtcNow())]), credential, out _));
        for (var i = 1; i < 70; i++)
            foreach (var id in credentials.Keys) mesh.Settle($"f-{i:D3}@1.0.0", $"f-{i:D3}", [(id, Routing.QuarantineTests.Known("output-schema-violation"))], answered: true);

        var view = View(mesh);
        var failures = view["failures"]!;
        Assert.Equal(210, Int(failures, "all"));
        Assert.Equal(210, Int(failures, "matching"));
        var shown = failures["shown"]!.AsArray();
        Assert.Equal(DashboardLimits.Failures, shown.Count);
        var first = shown[0]!;
        Assert.Equal(("f-000", "1.0.0", "n-a", "init-failed", "<b>hostile</b>", 2), ((string)first["model"]!, (string)first["version"]!, (string)first["node"]!, (string)first["verdict"]!, (string)first["detail"]!, (int)first["restarts"]!));
        Assert.Equal("f-066 n-b", $"{shown[^1]!["model"]} {shown[^1]!["node"]}"); // 200th of 210: (66 × 3) + 2

        // A model's name: its failures on every node. A node's: its failures of every model.
        var byModel = View(mesh, "f-06")["failures"]!;
        Assert.Equal(30, Int(byModel, "matching"));
        Assert.Equal(210, Int(byModel, "all"));
        Assert.All(byModel["shown"]!.AsArray(), f => Assert.StartsWith("f-06", (string)f!["model"]!, StringComparison.Ordinal));
        var byNode = View(mesh, "N-B")["failures"]!;
        Assert.Equal(70, Int(byNode, "matching"));
        Assert.All(byNode["shown"]!.AsArray(), f => Assert.Equal("n-b", (string?)f!["node"]));
        Assert.Equal(0, Int(View(mesh, "nothing")["failures"]!, "matching"));
    }

    [Fact]
    public async Task The_gateway_serves_the_view_filtered_and_gzipped_and_its_size_does_not_grow_with_the_catalog()
    {
        var catalog = new InMemoryModelCatalog();
        for (var i = 0; i < 1000; i++) catalog.Publish(MeshStateTests.Served(name: $"model-{i:D4}").Published);
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = MeshToken.Create() }, catalog, CancellationToken.None);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = gateway.Url };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (gateway.Mesh.Models.Count < 1000)
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway did not take the catalog within 10 s");
            await Task.Delay(20);
        }

        var whole = await http.GetByteArrayAsync(new Uri("inference/v1", UriKind.Relative));
        using var answer = await http.GetAsync(new Uri("dashboard/state", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("application/json", answer.Content.Headers.ContentType?.MediaType);
        var view = await answer.Content.ReadAsByteArrayAsync();
        var parsed = JsonNode.Parse(view)!;
        Assert.Equal(1000, Int(parsed, "summary.models"));
        Assert.Equal(100, parsed["models"]!["shown"]!.AsArray().Count);
        // A tenth of the models, so about a tenth of the bytes.
        Assert.True(view.Length * 8 < whole.Length, $"the view is {view.Length} bytes, the whole document {whole.Length}");

        using var filtered = await http.GetAsync(new Uri("dashboard/state?filter=" + Uri.EscapeDataString("MODEL-0999"), UriKind.Relative));
        var one = JsonNode.Parse(await filtered.Content.ReadAsStringAsync())!;
        Assert.Equal("model-0999", (string?)one["models"]!["shown"]!.AsArray().Single()!["name"]);
        Assert.Equal(1, Int(one, "models.matching"));

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("dashboard/state", UriKind.Relative));
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        using var gzipped = await http.SendAsync(request);
        Assert.Equal("gzip", Assert.Single(gzipped.Content.Headers.ContentEncoding));
        Assert.Contains("Accept-Encoding", gzipped.Headers.Vary);
    }
}

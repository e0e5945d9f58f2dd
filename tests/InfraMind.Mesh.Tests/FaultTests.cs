using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// A local mesh with faults under a bounded load: a container killed mid-load, a node whose model lies after passing
/// pre-flight, a node whose model never gets ready. Clients must not notice; the liar must be suspended quickly.
/// Four nodes rather than three: with the killed node restarting, the liar suspended and the silent node never
/// ready, a three-node mesh would have no node left to answer for a moment.
/// Only behaviour is asserted here, never how fast it happened: on a loaded machine everything takes longer. The
/// exact rules (three missed beats make a node offline, a suspension ends with a passing pre-flight after its period)
/// are proven with a fake clock in InfraMind.Gateway.Tests' MeshStateTests.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class FaultTests
{
    private const int Requests = 200;
    private const int Concurrency = 4;

    [SkippableFact]
    public async Task Every_request_succeeds_while_a_container_dies_a_node_lies_and_a_node_never_gets_ready()
    {
        // Two things this test is not about, set so that load cannot decide its outcome:
        // - The router's own steering: each failure cuts a node's reputation (default ×0.7) and power-of-two choices
        //   then sends it little traffic, so under load the liar could end the 200 requests with two lies and never
        //   reach the three in a row that suspend it (seen: failures 2, not suspended). A penalty of 0.99 keeps its
        //   share, so the suspension rule is what catches it. (Reputation and node choice are proven in
        //   InfraMind.Gateway.Tests' Routing/PolicyTests.)
        // - A suspension that outlasts the test. With the default 30 s period, a loaded machine that took longer than
        //   that from the liar's suspension to the last request saw the liar re-admitted (its restarted container
        //   passes a pre-flight: it lies only after its first answers) and answering the requests meant for good-2.
        var gateway = new GatewayOptions
        {
            Replicas = 4,
            AttemptTimeout = TimeSpan.FromSeconds(5),
            FailurePenalty = 0.99,
            SuspensionStep = TimeSpan.FromHours(1),
            MaxSuspension = TimeSpan.FromHours(1),
        };
        await using var mesh = await LocalMesh.StartAsync("mesh-faults", gateway);
        await mesh.AddNodeAsync("good-1", "good");
        await mesh.AddNodeAsync("good-2", "good");
        // The liar lies from its first answer after pre-flight ("liar-early"). One that first answered a few requests
        // right could be measured slow by them (a loaded machine: 237 ms against its peers' few) and then lose nearly
        // every node choice until its estimate aged (LatencyEwma.HalfLife), too seldom chosen to reach its lies within
        // the bounded extra requests below (seen in CI: 4 answers, 0 failures, not suspended after 90 s). A failed
        // attempt records no latency, so a liar that only lies keeps the unmeasured node's estimate and gets chosen.
        await mesh.AddNodeAsync("liar", "liar-early");
        await mesh.AddNodeAsync("silent", "silent");
        foreach (var n in new[] { "good-1", "good-2", "liar" }) await mesh.WaitForStateAsync(n, "ready", TimeSpan.FromSeconds(120));
        await mesh.WaitForStateAsync("silent", "failed", TimeSpan.FromSeconds(120));
        // Which check catches a model that never listens depends on the engine's port proxy; either way it is named.
        Assert.Contains((string?)(await mesh.NodeStateAsync("silent"))!["verdict"], new[] { Verdict.NoAnswerOnPort.WireName, Verdict.ConnectionFailed.WireName });

        var statuses = new ConcurrentBag<(int Index, HttpStatusCode Status, string Body, string? Node, int Attempts)>();
        var done = 0;
        var killed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Requests), new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, async (i, ct) =>
        {
            if (Interlocked.Increment(ref done) == Requests / 3 && Interlocked.Exchange(ref killed, 1) == 0)
                await mesh.Nodes["good-2"].Agent.ContainerOf(mesh.Model, LocalMesh.Version)!.KillAsync(ct);
            using var content = new StringContent($$"""{"text": "request {{i}}"}""", Encoding.UTF8, "application/json");
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), content, ct);
            var node = r.Headers.TryGetValues(MeshHeaders.Node, out var v) ? v.Single() : null;
            var attempts = r.Headers.TryGetValues(MeshHeaders.Attempts, out var a) ? int.Parse(a.Single(), System.Globalization.CultureInfo.InvariantCulture) : 0;
            statuses.Add((i, r.StatusCode, await r.Content.ReadAsStringAsync(ct), node, attempts));
        });

        var failed = statuses.Where(s => s.Status != HttpStatusCode.OK).OrderBy(s => s.Index).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {Requests} failed, e.g. {string.Join("\n", failed.Take(3).Select(f => $"{f.Status} {f.Body}"))}" +
            $"\nmesh now: {(failed.Count == 0 ? "" : (await mesh.StateAsync()).ToJsonString())}");
        Assert.All(statuses, s => Assert.Equal($"request {s.Index}", (string?)System.Text.Json.Nodes.JsonNode.Parse(s.Body)!["summary"]));
        Assert.DoesNotContain(statuses, s => s.Node is "silent" or null);
        Assert.True(statuses.Any(s => s.Attempts > 1), "some requests must have been re-routed");

        // The liar: caught by the output check, suspended at its third failure in a row; attempts already on their way
        // to it then (at most one per other client) may still fail, never more. Node choice decides how much of the load
        // it got; should it have had fewer than three, more requests, one at a time, bounded in count and time, until
        // it is suspended — each must still succeed.
        var more = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 3000 && more.Elapsed < TimeSpan.FromSeconds(90) && !(bool)(await mesh.NodeStateAsync("liar"))!["suspended"]!; i++)
        {
            await Task.Delay(20);
            using var extra = new StringContent($$"""{"text": "more {{i}}"}""", Encoding.UTF8, "application/json");
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), extra);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        var liar = (await mesh.NodeStateAsync("liar"))!;
        Assert.True((bool)liar["suspended"]!, liar.ToJsonString());
        Assert.Equal(Verdict.OutputSchemaViolation.WireName, (string?)liar["suspendedFor"]);
        Assert.InRange((long)liar["failures"]!, gateway.SuspendAfterFailures, gateway.SuspendAfterFailures + Concurrency - 1);
        var metrics = await mesh.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains($"inframind_gateway_failures_total{{model=\"{mesh.Model}\",node=\"liar\",verdict=\"output-schema-violation\"}}", metrics, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_suspensions_total", metrics, StringComparison.Ordinal);

        // The killed container: the node notices, restarts it, pre-flights it and is admitted again.
        await LocalMesh.WaitUntilAsync("good-2 to restart and pass pre-flight", TimeSpan.FromSeconds(60), async () =>
        {
            var s = await mesh.NodeStateAsync("good-2");
            return (string?)s!["state"] == "ready" && (int)s["restarts"]! >= 1 && !(bool)s["suspended"]!;
        });
        var restarted = await mesh.Http.GetStringAsync(new Uri(mesh.Nodes["good-2"].Url, "metrics"));
        Assert.True(PrometheusText.Value(restarted, $"inframind_node_container_restarts_total{{model=\"{mesh.Key}\"}}") >= 1, restarted);
        Assert.True(PrometheusText.Value(restarted, $"inframind_node_preflights_total{{model=\"{mesh.Key}\",verdict=\"passed\"}}") >= 2, restarted);
        var quarantine = (await mesh.StateAsync())["models"]![0]!["versions"]![0]!["quarantine"];
        Assert.Null(quarantine);

        // A node that stops heart-beating goes offline and gets no more jobs. (How many missed beats that takes is
        // MeshStateTests' to prove: here a beat that arrived late before the pause would shorten it.)
        Assert.True((bool)(await mesh.NodeInfoAsync("good-1"))["online"]!);
        mesh.Nodes["good-1"].Agent.HeartbeatsPaused = true;
        await LocalMesh.WaitUntilAsync("good-1 to go offline", TimeSpan.FromSeconds(60), async () => !(bool)(await mesh.NodeInfoAsync("good-1"))["online"]!);
        for (var i = 0; i < 10; i++)
        {
            using var content = new StringContent("""{"text": "after"}""", Encoding.UTF8, "application/json");
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("good-2", r.Headers.GetValues(MeshHeaders.Node).Single());
        }

        foreach (var n in mesh.Nodes.Values.ToList()) await n.DisposeAsync();
        mesh.Nodes.Clear();
        Assert.Equal((0, 0), await mesh.LeftoversAsync());
    }

    [SkippableFact]
    public async Task A_version_that_lies_on_every_node_is_quarantined_and_no_node_is_suspended()
    {
        await using var mesh = await LocalMesh.StartAsync("mesh-quarantine", new GatewayOptions { Replicas = 2 });
        await mesh.AddNodeAsync("a", "liar-early");
        await mesh.AddNodeAsync("b", "liar-early");
        await mesh.WaitForStateAsync("a", "ready", TimeSpan.FromSeconds(120));
        await mesh.WaitForStateAsync("b", "ready", TimeSpan.FromSeconds(60));

        // Requests failing on every node prove nothing by themselves (the input may be the cause): they make the gateway
        // ask both nodes for a pre-flight, whose own inputs the lying version fails too; that quarantines it.
        var last = HttpStatusCode.OK;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (last != HttpStatusCode.ServiceUnavailable || (await mesh.StateAsync())["models"]![0]!["versions"]![0]!["quarantine"] is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"not quarantined after 60 s: {(await mesh.StateAsync()).ToJsonString()}");
            using var content = new StringContent("""{"text": "x"}""", Encoding.UTF8, "application/json");
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), content);
            last = r.StatusCode;
            Assert.True((int)r.StatusCode is 200 or 502 or 503, $"{r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, last);
        var version = (await mesh.StateAsync())["models"]![0]!["versions"]![0]!;
        Assert.Equal(Verdict.OutputSchemaViolation.WireName, (string?)version["quarantine"]!["verdict"]);
        Assert.All(version["nodes"]!.AsArray(), n => Assert.False((bool)n!["suspended"]!));
        foreach (var n in mesh.Nodes.Values.ToList()) await n.DisposeAsync();
        mesh.Nodes.Clear();
        Assert.Equal((0, 0), await mesh.LeftoversAsync());
    }

    [SkippableFact]
    public async Task A_node_that_lies_within_the_schema_is_caught_by_spot_checks_suspended_with_evidence_and_clients_get_the_majority()
    {
        // A deterministic model on three nodes, every answer spot-checked; one node's answers turn wrong (still valid
        // against output_schema) right after its pre-flight: only comparing nodes' answers can tell.
        await using var mesh = await LocalMesh.StartAsync("mesh-spot", new GatewayOptions { Replicas = 3, SpotCheckShare = 1.0 }, deterministic: true);
        using var keys = new KeySet();
        await mesh.AddNodeAsync("good-1", "good", key: keys["good-1"]);
        await mesh.AddNodeAsync("good-2", "good", key: keys["good-2"]);
        await mesh.AddNodeAsync("liar", "subtle-liar-early", key: keys["liar"]);
        foreach (var id in new[] { "good-1", "good-2", "liar" }) await mesh.WaitForStateAsync(id, "ready", TimeSpan.FromSeconds(120));

        for (var i = 0; i < 20; i++)
        {
            using var content = new StringContent($$"""{"text": "spot {{i}}"}""", Encoding.UTF8, "application/json");
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            // The majority's answer, and the receipt of a node that gave it.
            Assert.Equal($"spot {i}", (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["summary"]);
            var node = r.Headers.GetValues(MeshHeaders.Node).Single();
            Assert.NotEqual("liar", node);
            Assert.True(JobReceipts.Verify(r.Headers.GetValues(MeshHeaders.Receipt).Single(), keys[node].PublicKey).Valid);
        }

        var liar = (await mesh.NodeStateAsync("liar"))!;
        Assert.True((bool)liar["suspended"]!, liar.ToJsonString());
        Assert.Equal(Verdict.AnswerDisagrees.WireName, (string?)liar["suspendedFor"]);
        foreach (var id in new[] { "good-1", "good-2" }) Assert.False((bool)(await mesh.NodeStateAsync(id))!["suspended"]!);
        // The evidence: each compared node's receipt of the same request, the liar's signed by the liar's own key.
        var evidence = JsonNode.Parse(await mesh.Http.GetStringAsync(new Uri("mesh/v1/nodes/liar/receipts", UriKind.Relative)))!["disagreements"]!.AsArray();
        var first = Assert.IsType<JsonObject>(evidence[0]);
        var receipts = first["receipts"]!.AsObject();
        Assert.Equal(3, receipts.Count);
        var lie = JobReceipts.Verify((string?)receipts["liar"], keys["liar"].PublicKey);
        Assert.True(lie.Valid, lie.Problem);
        Assert.Equal((string?)first["requestId"], lie.Receipt!.RequestId);
        var honest = receipts.Where(kv => kv.Key != "liar").Select(kv => JobReceipts.Verify((string?)kv.Value, keys[kv.Key].PublicKey).Receipt!).ToList();
        Assert.All(honest, h => Assert.Equal(lie.Receipt.InputSha256, h.InputSha256));
        Assert.All(honest, h => Assert.NotEqual(lie.Receipt.OutputSha256, h.OutputSha256));
        Assert.Equal(honest[0].OutputSha256, honest[1].OutputSha256);
        foreach (var n in mesh.Nodes.Values.ToList()) await n.DisposeAsync();
        mesh.Nodes.Clear();
        Assert.Equal((0, 0), await mesh.LeftoversAsync());
    }

    /// <summary>A key per node id, made on first use.</summary>
    private sealed class KeySet : IDisposable
    {
        private readonly Dictionary<string, InfraMind.Signing.SigningKey> _keys = new(StringComparer.Ordinal);

        public InfraMind.Signing.SigningKey this[string id] => _keys.TryGetValue(id, out var k) ? k : _keys[id] = InfraMind.Signing.SigningKey.CreateEphemeral(id);

        public void Dispose()
        {
            foreach (var k in _keys.Values) k.Dispose();
        }
    }
}

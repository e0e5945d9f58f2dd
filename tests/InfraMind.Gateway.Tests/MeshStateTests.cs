using System.Text;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>The mesh rules together: heartbeats and offline, suspension with its cap, re-admission, quarantine.</summary>
public sealed class MeshStateTests
{
    private const string Key = "echo@1.0.0";
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(1);
    private readonly FakeTimeProvider _time = new();
    private readonly MeshState _mesh;

    public MeshStateTests()
    {
        _mesh = new MeshState(new GatewayOptions { Replicas = 4 }, _time, new GatewayMetrics(), NullLogger.Instance);
        _mesh.SetModels([Served()]);
    }

    internal static ServedModel Served(string version = "1.0.0", string memory = "256Mi")
    {
        var yaml = $$$"""
            name: echo
            version: {{{version}}}
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 1, memory: {{{memory}}}, gpu: false}
            input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """;
        var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        return new ServedModel(new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1));
    }

    private void Join(string id) =>
        _mesh.Register(new NodeRegistration(id, new Uri($"http://127.0.0.1:1/{id}/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat));

    private HeartbeatReply Report(string id, ModelState state, long generation = 1, string? verdict = null, int failures = 0) =>
        _mesh.Heartbeat(new NodeHeartbeat(id, [new ModelReport("echo", "1.0.0", state, verdict is null ? null : Routing.QuarantineTests.Known(verdict), null, generation, 0, failures, _time.GetUtcNow())]))!;

    private string[] Ready() => [.. _mesh.Candidates(Key, new HashSet<string>()).Select(c => c.NodeId).Order()];

    private void Fail(string node, int times, string verdict = "output-schema-violation")
    {
        for (var i = 0; i < times; i++) _mesh.RecordFailure(node, Key, "echo", Routing.QuarantineTests.Known(verdict));
    }

    [Fact]
    public void Heartbeats_place_the_model_and_ready_nodes_take_jobs()
    {
        Join("a");
        Join("b");
        var reply = Report("a", ModelState.Starting, 0);
        Assert.Equal(Key, Assert.Single(reply.Assignments).Key);
        Assert.Empty(Ready());
        Report("a", ModelState.Ready);
        Report("b", ModelState.Ready);
        Assert.Equal(["a", "b"], Ready());
    }

    [Fact]
    public void A_node_goes_offline_after_three_missed_beats()
    {
        Join("a");
        Report("a", ModelState.Ready);
        _time.Advance(Beat * 3);
        Assert.Equal(["a"], Ready());
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(Ready());
        Report("a", ModelState.Ready);
        Assert.Equal(["a"], Ready());
    }

    [Fact]
    public void Repeated_failures_suspend_a_node_and_a_fresh_preflight_readmits_it()
    {
        foreach (var n in new[] { "a", "b", "c", "d" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        Fail("a", 2);
        Assert.Contains("a", Ready());
        Fail("a", 1);
        Assert.DoesNotContain("a", Ready());

        // The period runs; then the gateway asks for one pre-flight, once.
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Empty(Report("a", ModelState.Ready).Preflight);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([Key], Report("a", ModelState.Ready).Preflight);
        Assert.Empty(Report("a", ModelState.Ready).Preflight);
        Assert.DoesNotContain("a", Ready());
        Report("a", ModelState.Ready, generation: 2);
        Assert.Contains("a", Ready());
    }

    [Fact]
    public void Never_more_than_half_of_a_models_nodes_are_suspended()
    {
        foreach (var n in new[] { "a", "b", "c", "d" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        // Different verdicts, so that this is about nodes, not the model.
        Fail("a", 3, "request-timeout");
        Fail("b", 3, "connection-failed");
        Fail("c", 3, "response-not-json");
        Assert.Equal(["c", "d"], Ready());
    }

    [Fact]
    public void One_version_failing_alike_on_two_nodes_is_quarantined_and_the_nodes_keep_their_standing()
    {
        foreach (var n in new[] { "a", "b", "c" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        Fail("a", 1);
        Assert.False(_mesh.IsQuarantined(Key));
        Fail("b", 1);
        Assert.True(_mesh.IsQuarantined(Key));
        Fail("b", 5);
        Fail("c", 5);
        Assert.Equal(["a", "b", "c"], Ready());
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(_mesh.IsQuarantined(Key));
    }

    [Fact]
    public void Preflight_failures_reported_by_nodes_count_toward_quarantine()
    {
        Join("a");
        Join("b");
        Report("a", ModelState.Failed, 0, "no-answer-on-port", failures: 1);
        Assert.False(_mesh.IsQuarantined(Key));
        Report("b", ModelState.Failed, 0, "no-answer-on-port", failures: 1);
        Assert.True(_mesh.IsQuarantined(Key));
    }

    [Fact]
    public void A_refusal_moves_the_model_to_another_node()
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 1 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([Served()]);
        mesh.Register(new NodeRegistration("a", new Uri("http://127.0.0.1:1/"), new NodeCapacity(8000, 8L << 30, 0), new Dictionary<string, string>(), Beat));
        mesh.Register(new NodeRegistration("b", new Uri("http://127.0.0.1:2/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat));
        Assert.Single(mesh.Heartbeat(new NodeHeartbeat("a", []))!.Assignments);
        Assert.Empty(mesh.Heartbeat(new NodeHeartbeat("b", []))!.Assignments);
        mesh.Heartbeat(new NodeHeartbeat("a", [new ModelReport("echo", "1.0.0", ModelState.Refused, Verdict.Refused, "IM6010: no memory", 0, 0, 0, _time.GetUtcNow())]));
        Assert.Single(mesh.Heartbeat(new NodeHeartbeat("b", []))!.Assignments);
    }

    [Fact]
    public void Latest_is_the_highest_release()
    {
        var versions = new[] { Served("1.0.0"), Served("1.10.0"), Served("2.0.0-rc.1"), Served("1.9.9") };
        Assert.Equal("1.10.0", MeshState.Latest(versions)!.Published.Version.ToString());
    }

    [Fact]
    public void Jobs_go_straight_to_a_local_ready_container_and_through_the_job_api_otherwise()
    {
        var container = new Uri("http://127.0.0.1:41000/");
        void Beat(MeshState mesh, string id, ModelState state, Uri? endpoint) =>
            mesh.Heartbeat(new NodeHeartbeat(id, [new ModelReport("echo", "1.0.0", state, null, null, 1, 0, 0, _time.GetUtcNow(), endpoint)]));
        Join("local");
        _mesh.Register(new NodeRegistration("remote", new Uri("http://node-b.example:7000/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1)));

        Beat(_mesh, "local", ModelState.Ready, container);
        Assert.Equal((container, true), _mesh.RouteOf("local", "echo", "1.0.0"));
        Beat(_mesh, "remote", ModelState.Ready, container);
        Assert.Equal((new Uri("http://node-b.example:7000/jobs/echo/1.0.0"), false), _mesh.RouteOf("remote", "echo", "1.0.0"));
        Beat(_mesh, "local", ModelState.Failed, container);
        Assert.Equal((new Uri("http://127.0.0.1:1/local/jobs/echo/1.0.0"), false), _mesh.RouteOf("local", "echo", "1.0.0"));
        Assert.Null(_mesh.RouteOf("nobody", "echo", "1.0.0"));

        var viaNodes = new MeshState(new GatewayOptions { DirectToLocalContainers = false }, _time, new GatewayMetrics(), NullLogger.Instance);
        viaNodes.Register(new NodeRegistration("local", new Uri("http://127.0.0.1:1/local/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1)));
        Beat(viaNodes, "local", ModelState.Ready, container);
        Assert.Equal((new Uri("http://127.0.0.1:1/local/jobs/echo/1.0.0"), false), viaNodes.RouteOf("local", "echo", "1.0.0"));
    }

    [Fact]
    public async Task Failures_are_counted_in_metrics_by_the_verdicts_wire_name_and_a_foreign_name_as_unknown()
    {
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(new GatewayOptions(), _time, metrics, NullLogger.Instance);
        mesh.SetModels([Served()]);
        mesh.Register(new NodeRegistration("a", new Uri("http://127.0.0.1:1/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat));
        var beat = System.Text.Json.JsonSerializer.Deserialize<NodeHeartbeat>(
            """{"nodeId":"a","models":[{"name":"echo","version":"1.0.0","state":"failed","verdict":"gpu-melted-7f3a","detail":"?","failures":1,"since":"2026-01-01T00:00:00Z"},""" +
            """{"name":"echo","version":"2.0.0","state":"failed","verdict":"no-answer-on-port","detail":"?","failures":1,"since":"2026-01-01T00:00:00Z"}]}""",
            MeshJson.Options)!;
        mesh.Heartbeat(beat);
        using var text = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(text);
        var exported = Encoding.UTF8.GetString(text.ToArray());
        Assert.Contains("inframind_gateway_failures_total{model=\"echo\",node=\"a\",verdict=\"no-answer-on-port\"} 1", exported, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_failures_total{model=\"echo\",node=\"a\",verdict=\"unknown\"} 1", exported, StringComparison.Ordinal);
        Assert.DoesNotContain("gpu-melted", exported, StringComparison.Ordinal);
        var labels = System.Text.RegularExpressions.Regex.Matches(exported, "verdict=\"([^\"]*)\"").Select(m => m.Groups[1].Value);
        Assert.All(labels, l => Assert.Contains(l, Verdict.All.Select(v => v.WireName)));
    }
}

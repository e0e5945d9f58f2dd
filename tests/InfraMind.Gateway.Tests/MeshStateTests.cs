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
    private readonly Dictionary<string, string> _credentials = new(StringComparer.Ordinal);

    public MeshStateTests()
    {
        _mesh = new MeshState(new GatewayOptions { Replicas = 4 }, _time, new GatewayMetrics(), NullLogger.Instance);
        _mesh.SetModels([Served()]);
    }

    [Fact]
    public void A_names_versions_are_one_lookup_and_follow_the_catalog()
    {
        _mesh.SetModels([Served(), Served("2.0.0"), Served("1.0.0", name: "other")]);
        Assert.Equal(["1.0.0", "2.0.0"], _mesh.VersionsOf("echo").Select(m => m.Published.Version.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal("other@1.0.0", Assert.Single(_mesh.VersionsOf("other")).Key);
        Assert.Empty(_mesh.VersionsOf("nobody"));
        Assert.Empty(_mesh.VersionsOf("ECHO")); // names are compared as they are written

        // A version gone from the catalog is gone from the lookup.
        _mesh.SetModels([Served("2.0.0")]);
        Assert.Equal("echo@2.0.0", Assert.Single(_mesh.VersionsOf("echo")).Key);
        Assert.Empty(_mesh.VersionsOf("other"));
    }

    [Fact]
    public void The_state_document_lists_names_in_order_versions_newest_first_and_nodes_by_id()
    {
        // Versions handed over in no order; 1.10.0 is newer than 1.9.0 (precedence, not text), and a pre-release is
        // listed but never the latest.
        _mesh.SetModels([Served("1.9.0"), Served("1.0.0", name: "b"), Served("2.0.0-rc.1"), Served("1.10.0"), Served("1.0.0", name: "a")]);
        foreach (var n in new[] { "n3", "n1", "n2" }) Join(n);

        var described = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.Describe(), MeshJson.Options)!;
        var models = described["models"]!.AsArray();
        Assert.Equal(["a", "b", "echo"], models.Select(m => (string)m!["name"]!));
        var echo = models[2]!;
        Assert.Equal("1.10.0", (string?)echo["latest"]);
        Assert.Equal(["2.0.0-rc.1", "1.10.0", "1.9.0"], echo["versions"]!.AsArray().Select(v => (string)v!["version"]!));
        Assert.Equal(["n1", "n2", "n3"], described["nodes"]!.AsArray().Select(n => (string)n!["id"]!));
        foreach (var version in models.SelectMany(m => m!["versions"]!.AsArray()))
        {
            // Placed on every node (joined n3 first), listed by id; the pre-release is placed nowhere.
            var placed = version!["nodes"]!.AsArray().Select(n => (string)n!["node"]!);
            Assert.Equal((string)version["version"]! == "2.0.0-rc.1" ? [] : ["n1", "n2", "n3"], placed);
            Assert.Equal(0, (int)version["traffic"]!["answers"]!);
        }
    }

    [Fact]
    public void A_signed_request_is_taken_once_and_only_if_newer_than_the_last_taken()
    {
        // The second layer of the heartbeat replay check: NodeApi refuses a signature not newer than the last one it
        // saw, but two copies sent at once both pass that read; TakeSigned decides, under the lock, which is taken.
        Join("a");
        Join("b");
        Assert.True(_mesh.TakeSigned("a", 1_000));
        Assert.False(_mesh.TakeSigned("a", 1_000)); // the same signature again: a replay
        Assert.False(_mesh.TakeSigned("a", 999)); // an older one
        Assert.True(_mesh.TakeSigned("b", 1_000)); // another node's clock is its own
        Assert.True(_mesh.TakeSigned("a", 1_001));
        Assert.Equal(1_001, _mesh.KeyOf("a").LastSigned);
        Assert.False(_mesh.TakeSigned("nobody", 2_000));

        // 32 copies of one signature at once: exactly one is taken.
        var taken = 0;
        Parallel.For(0, 32, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (_mesh.TakeSigned("a", 5_000)) Interlocked.Increment(ref taken);
        });
        Assert.Equal(1, taken);
    }

    internal static ServedModel Served(string version = "1.0.0", string memory = "256Mi", bool deterministic = false, string name = "echo")
    {
        var yaml = $$$"""
            name: {{{name}}}
            version: {{{version}}}
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 1, memory: {{{memory}}}, gpu: false}
            input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """ + (deterministic ? "\ndeterministic: true" : "");
        var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        return new ServedModel(new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1));
    }

    private void Join(string id, MeshState? mesh = null, string? address = null, NodeCapacity? capacity = null)
    {
        var (outcome, credential) = (mesh ?? _mesh).Register(
            new NodeRegistration(id, new Uri(address ?? $"http://127.0.0.1:1/{id}/"), capacity ?? new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat), null);
        Assert.Equal(Admission.Registered, outcome);
        _credentials[id] = credential!;
    }

    private HeartbeatReply Send(string id, params ModelReport[] reports) => Send(_mesh, id, reports);

    private HeartbeatReply Send(MeshState mesh, string id, params ModelReport[] reports)
    {
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, reports), _credentials[id], out var reply));
        return reply!;
    }

    private HeartbeatReply Report(string id, ModelState state, long generation = 1, string? verdict = null, int failures = 0) =>
        Send(id, new ModelReport("echo", "1.0.0", state, verdict is null ? null : Routing.QuarantineTests.Known(verdict), null, generation, 0, failures, _time.GetUtcNow()));

    private string[] Ready() => [.. _mesh.Candidates(Key, new HashSet<string>()).Select(c => c.NodeId).Order()];

    /// <summary>Failures on a node where another node answered the same input: the node's.</summary>
    private void Fail(string node, int times, string verdict = "output-schema-violation")
    {
        for (var i = 0; i < times; i++) _mesh.Settle(Key, "echo", [(node, Routing.QuarantineTests.Known(verdict))], answered: true);
    }

    [Fact]
    public void Limits_a_node_reports_cannot_overflow_placement_for_everyone()
    {
        // Found by an audit: two reports of long.MaxValue for versions the gateway does not serve made every placement
        // pass throw (a checked sum), so every later heartbeat, registration and state document was a 500.
        Join("liar");
        var huge = new ResourceRequest(long.MaxValue, long.MaxValue, int.MaxValue);
        ModelReport[] lies =
        [
            new("other", "1.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow(), Limits: huge),
            new("other", "2.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow(), Limits: huge),
        ];
        Send("liar", lies);
        // A registration runs a placement pass (before the fix, this threw, and so did every pass after it).
        Join("a");

        // The honest node is placed as ever; the liar only looks full (a heartbeat says all a node runs, each time).
        var reply = Send("a");
        Assert.Equal(Key, Assert.Single(reply.Assignments).Key);
        Assert.Empty(Send("liar", lies).Assignments);
        Join("b");
        Assert.NotNull(_mesh.NodeSummaries());
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
    public void A_retry_is_offered_only_the_nodes_not_yet_tried()
    {
        // The rule InferenceCore's retries rest on (held before only through end-to-end tests): a node already tried
        // for this request is not offered again, whatever its standing; the others are, and an empty exclusion is all.
        Join("a");
        Join("b");
        Join("c");
        Report("a", ModelState.Ready);
        Report("b", ModelState.Ready);
        Report("c", ModelState.Ready);
        string[] Offered(params string[] tried) => [.. _mesh.Candidates(Key, new HashSet<string>(tried)).Select(c => c.NodeId).Order()];
        Assert.Equal(["a", "b", "c"], Offered());
        Assert.Equal(["a", "c"], Offered("b"));
        Assert.Equal(["c"], Offered("a", "b"));
        Assert.Empty(Offered("a", "b", "c"));
        // A name no node has changes nothing.
        Assert.Equal(["a", "b", "c"], Offered("z"));
    }

    [Fact]
    public void A_successful_attempts_time_is_what_the_next_choice_weighs()
    {
        // Node choice prefers the faster node by the latency of its answers (NodeChoice); nothing but a success records
        // one, so a node whose time was dropped would stay "unmeasured" however slow it answers.
        Join("a");
        Join("b");
        Report("a", ModelState.Ready);
        Report("b", ModelState.Ready);
        Assert.All(_mesh.Candidates(Key, new HashSet<string>()), c => Assert.Null(c.LatencyMs));
        _mesh.RecordSuccess("a", Key, "echo", 400, _mesh.Begin("a").Number);
        _mesh.RecordSuccess("b", Key, "echo", 5, _mesh.Begin("b").Number);
        var latency = _mesh.Candidates(Key, new HashSet<string>()).ToDictionary(c => c.NodeId, c => c.LatencyMs);
        Assert.Equal(400, latency["a"]);
        Assert.Equal(5, latency["b"]);
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

    /// <summary>Only consecutive failures suspend: a good answer between them starts the count again.</summary>
    [Fact]
    public void A_good_answer_between_failures_starts_the_count_toward_suspension_again()
    {
        foreach (var n in new[] { "a", "b", "c", "d" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        Fail("a", 2);
        _mesh.RecordSuccess("a", Key, "echo", 5, _mesh.Begin("a").Number);
        Fail("a", 2);
        Assert.Contains("a", Ready());
        Fail("a", 1);
        Assert.DoesNotContain("a", Ready());
    }

    /// <summary>
    /// A suspended node is re-admitted by a passing pre-flight (ready, with a higher generation), not by any report of a
    /// higher generation: reported failed, it stays suspended, and counts as such toward the half of a version's nodes
    /// that may be.
    /// </summary>
    [Fact]
    public void A_suspended_node_reporting_failed_with_a_new_generation_stays_suspended()
    {
        foreach (var n in new[] { "a", "b", "c", "d" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        Fail("a", 3);
        Assert.True(Suspended("a"));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([Key], Report("a", ModelState.Ready).Preflight);
        Report("a", ModelState.Failed, generation: 2, verdict: "no-answer-on-port");
        Assert.True(Suspended("a"));
        Report("a", ModelState.Ready, generation: 2);
        Assert.False(Suspended("a"));
        Assert.Contains("a", Ready());
    }

    /// <summary>Whether GET /inference/v1 shows <paramref name="node"/> suspended for echo 1.0.0.</summary>
    private bool Suspended(string node)
    {
        var described = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.Describe(), MeshJson.Options)!;
        var nodes = described["models"]!.AsArray().Single()!["versions"]!.AsArray().Single()!["nodes"]!.AsArray();
        return (bool)nodes.Single(n => (string?)n!["node"] == node)!["suspended"]!;
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
    public void A_request_that_fails_on_every_node_penalises_none_quarantines_nothing_and_asks_each_for_a_preflight_once()
    {
        foreach (var n in new[] { "a", "b", "c" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        // What a client can send as often as it likes: an input every node fails on.
        for (var i = 0; i < 50; i++)
        {
            _mesh.Settle(Key, "echo", [("a", Verdict.ServerErrorOnValidInput), ("b", Verdict.ServerErrorOnValidInput), ("c", Verdict.ServerErrorOnValidInput)], answered: false);
        }

        Assert.False(_mesh.IsQuarantined(Key));
        Assert.Equal(["a", "b", "c"], Ready());
        Assert.All(_mesh.NodeSummaries(), s => Assert.Equal(1.0, s.Reputation));
        Assert.Equal([Key], Report("a", ModelState.Ready).Preflight);
        Assert.Empty(Report("a", ModelState.Ready).Preflight);
        _mesh.Settle(Key, "echo", [("a", Verdict.ServerErrorOnValidInput)], answered: false);
        Assert.Empty(Report("a", ModelState.Ready).Preflight);
        _time.Advance(TimeSpan.FromSeconds(30));
        _mesh.Settle(Key, "echo", [("a", Verdict.ServerErrorOnValidInput)], answered: false);
        Assert.Equal([Key], Report("a", ModelState.Ready).Preflight);
    }

    [Fact]
    public void A_failure_where_another_node_answered_is_the_nodes_and_never_quarantines()
    {
        foreach (var n in new[] { "a", "b", "c" })
        {
            Join(n);
            Report(n, ModelState.Ready);
        }

        Fail("a", 1);
        Fail("b", 1);
        Assert.False(_mesh.IsQuarantined(Key));
        Assert.True(_mesh.NodeSummaries().Single(s => s.Node == "a").Reputation < 1);
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

    /// <summary>
    /// A request resolves its version, then the version is withdrawn (a yank on the chain) before routing: the caller
    /// gets 404 as the next caller will, not a 503 that blames the nodes' capacity (seen on a loaded CI machine).
    /// </summary>
    [Fact]
    public async Task A_version_withdrawn_while_its_request_is_routed_is_404_not_a_missing_node()
    {
        var options = new GatewayOptions { Replicas = 1, ReadyWait = TimeSpan.Zero };
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(options, _time, metrics, NullLogger.Instance);
        mesh.SetModels([Served()]);
        using var channels = new InfraMind.Serving.Grpc.ModelChannels(1 << 20);
        using var admission = new Inference.InferenceAdmission(8, 8);
        var core = new Inference.InferenceCore(mesh, options, metrics, admission,
            new Inference.InferenceAttempts(mesh, options, new Inference.NodeClients(TimeSpan.FromSeconds(1), 4), channels), new Inference.InferenceLog(NullLogger.Instance, false));

        var outcome = await core.InferAsync("echo", null, (_, _) =>
        {
            mesh.SetModels([]);
            return ValueTask.FromResult(new Inference.InferenceInput("""{"text": "x"}"""u8.ToArray(), null));
        }, new Inference.InferenceRecord(), CancellationToken.None);
        Assert.Equal(404, outcome.Problem!.Status);
        Assert.Equal(MeshErrorCodes.ModelNotFound, outcome.Problem.Code);

        // Still served but placed nowhere: the 503 that says so.
        mesh.SetModels([Served()]);
        var unplaced = await core.InferAsync("echo", null, (_, _) => ValueTask.FromResult(new Inference.InferenceInput("""{"text": "x"}"""u8.ToArray(), null)),
            new Inference.InferenceRecord(), CancellationToken.None);
        Assert.Equal(503, unplaced.Problem!.Status);
    }

    /// <summary>
    /// A node repeats its last pre-flight failure in every heartbeat (its count of failures says whether one is new): it
    /// counts toward quarantine once, when first reported. Counted again in each beat it would stay inside the window
    /// for as long as the node reports it, and one old failure and another node's a minute later would quarantine the version.
    /// </summary>
    [Fact]
    public void A_preflight_failure_repeated_in_later_heartbeats_counts_once()
    {
        Join("a");
        Join("b");
        for (var i = 0; i < 62; i++)
        {
            Report("a", ModelState.Failed, 0, "no-answer-on-port", failures: 1);
            Report("b", ModelState.Ready);
            _time.Advance(Beat);
        }

        // b fails the same way 62 s after a's one failure: outside the 60 s window.
        Report("b", ModelState.Failed, 0, "no-answer-on-port", failures: 1);
        Assert.False(_mesh.IsQuarantined(Key));
    }

    /// <summary>
    /// A node found offline (CheckLiveness) loses its versions to an online node in the same pass, and gets them back in
    /// the reply to its first heartbeat once back: neither waits for another node's change to run a placement pass.
    /// </summary>
    [Fact]
    public void A_node_found_offline_loses_its_versions_at_once_and_gets_them_back_with_its_first_beat()
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 1 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([Served()]);
        Join("a", mesh);
        Join("b", mesh);
        var (holder, other) = Send(mesh, "a").Assignments.Count == 1 ? ("a", "b") : ("b", "a");
        Assert.Single(Send(mesh, holder).Assignments);
        Assert.Empty(Send(mesh, other).Assignments);
        _time.Advance(Beat * 2);
        Send(mesh, other);
        _time.Advance(Beat + TimeSpan.FromMilliseconds(1));
        Assert.Equal([holder], mesh.CheckLiveness());
        Assert.Equal(Key, Assert.Single(Send(mesh, other).Assignments).Key);

        // Back: the better-ranked node gets the version in the reply to that very heartbeat.
        Assert.Equal(Key, Assert.Single(Send(mesh, holder).Assignments).Key);
    }

    [Fact]
    public void Only_nodes_the_version_is_placed_on_count_toward_its_quarantine()
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 1 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([Served()]);
        Join("real", mesh);
        Send(mesh, "real", new ModelReport("echo", "1.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow()));
        // Two more registered nodes, never given the version, report it failing: it was never theirs to fail.
        foreach (var liar in new[] { "made-up-1", "made-up-2" })
        {
            Join(liar, mesh);
            Send(mesh, liar, new ModelReport("echo", "1.0.0", ModelState.Failed, Verdict.OutputSchemaViolation, "lie", 0, 0, 5, _time.GetUtcNow()));
        }

        Assert.False(mesh.IsQuarantined(Key));
    }

    [Fact]
    public void A_node_cannot_take_another_nodes_id_nor_heartbeat_for_it()
    {
        Join("a");
        var registration = new NodeRegistration("a", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat);
        Assert.Equal(Admission.IdTaken, _mesh.Register(registration, null).Outcome);
        Assert.Equal(Admission.IdTaken, _mesh.Register(registration, MeshToken.Create()).Outcome);
        Assert.Equal(NodeAuth.Forbidden, _mesh.Heartbeat(new NodeHeartbeat("a", []), null, out _));
        Assert.Equal(NodeAuth.Forbidden, _mesh.Heartbeat(new NodeHeartbeat("a", []), MeshToken.Create(), out _));
        Assert.Equal(NodeAuth.Unknown, _mesh.Heartbeat(new NodeHeartbeat("b", []), _credentials["a"], out _));
        // Its own credential registers it again (a new address, say) and keeps the credential.
        Assert.Equal((Admission.Registered, _credentials["a"]), _mesh.Register(registration, _credentials["a"]));
    }

    private (Admission Outcome, string? Credential) RegisterKeyed(string id, InfraMind.Signing.PublicKey key, long signedAt, MeshState? mesh = null) =>
        (mesh ?? _mesh).Register(new NodeRegistration(id, new Uri($"http://127.0.0.1:1/{id}/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat),
            null, key, signedAt);

    /// <summary>
    /// A node's rank is its key's (Placement.IdentityOf), so two ids on one key would take a version's replicas side by
    /// side: a key holds one id. While that node is online another id is refused; once it is offline the key moves.
    /// </summary>
    [Fact]
    public void A_key_registers_one_node_and_moves_to_a_new_id_only_once_its_node_is_offline()
    {
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("node");
        Assert.Equal(Admission.Registered, RegisterKeyed("a", key.PublicKey, 1).Outcome);
        Assert.Equal(Admission.KeyInUse, RegisterKeyed("b", key.PublicKey, 2).Outcome);
        Assert.Equal(NodeAuth.Unknown, _mesh.Authenticate("b", null));
        Assert.Equal("a", _mesh.HolderOf(key.PublicKey));
        // A keyless id cannot take the key later either.
        Join("c");
        Assert.Equal(Admission.KeyInUse, _mesh.Register(new NodeRegistration("c", new Uri("http://127.0.0.1:1/c/"), new NodeCapacity(4000, 8L << 30, 0),
            new Dictionary<string, string>(), Beat), _credentials["c"], key.PublicKey, 3).Outcome);
        Assert.Null(_mesh.KeyOf("c").Key);

        // Offline (three missed beats): the key moves to "b", and "a" is gone with its standing.
        _time.Advance(Beat * 3 + TimeSpan.FromMilliseconds(1));
        Assert.Equal(Admission.Replayed, RegisterKeyed("b", key.PublicKey, 1).Outcome);
        Assert.Equal(Admission.Registered, RegisterKeyed("b", key.PublicKey, 4).Outcome);
        Assert.Equal(NodeAuth.Unknown, _mesh.Authenticate("a", null));
        Assert.Equal("b", _mesh.HolderOf(key.PublicKey));
        Assert.Equal(key.PublicKey, _mesh.KeyOf("b").Key);
        // And "a" would now be a new id whose key is in use.
        Assert.Equal(Admission.KeyInUse, RegisterKeyed("a", key.PublicKey, 5).Outcome);
    }

    /// <summary>
    /// The key, not the id, is the node: its standing moves with it. A keyed node suspended for a lost spot check that
    /// leaves and registers again under another id a moment later is still suspended there, with the same reputation and
    /// its evidence, until its period has run and it passes a pre-flight. Before, the old id went with its standing and
    /// the new one was served again at once.
    /// </summary>
    [Fact]
    public void A_keyed_node_back_under_another_id_keeps_its_standing()
    {
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("node");
        JoinReady(key.PublicKey, "c", "d", "e");
        _mesh.Disagreed("a", Key, "echo", "req-1", new Dictionary<string, string?> { ["c"] = "receipt-c", ["d"] = "receipt-d" });
        Assert.True(Suspended("a"));
        Assert.True(Reputation("a") < 1);

        // It leaves (three missed beats) and comes back as "b" with the same key, reporting a fresh pre-flight.
        _time.Advance(Beat * 3 + TimeSpan.FromMilliseconds(1));
        var reputation = Reputation("a");
        var (outcome, credential) = RegisterKeyed("b", key.PublicKey, 2);
        Assert.Equal(Admission.Registered, outcome);
        _credentials["b"] = credential!;
        Report("b", ModelState.Ready, generation: 7);
        Assert.Equal(NodeAuth.Unknown, _mesh.Authenticate("a", null));
        Assert.True(Suspended("b"));
        Assert.DoesNotContain("b", Ready());
        Assert.Equal(reputation, Reputation("b"), 3);
        var described = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.Describe(), MeshJson.Options)!;
        Assert.Equal(1, (int)described["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "b")!["disagreements"]!);

        // Its period runs on: once it is over, a passing pre-flight brings it back.
        _time.Advance(TimeSpan.FromMinutes(1));
        Report("b", ModelState.Ready, generation: 8);
        Assert.False(Suspended("b"));
        Assert.Contains("b", Ready());
    }

    /// <summary>
    /// An id with a standing of its own that takes a key (a keyless node registering with the key of one gone offline)
    /// keeps the worse of the two: its own suspension is not lifted by the key's ended one, and the lower reputation stays.
    /// </summary>
    [Fact]
    public void An_id_that_takes_a_key_keeps_the_worse_of_the_two_standings()
    {
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("node");
        JoinReady(key.PublicKey, "k", "d", "e");
        // The key's node was suspended once and is back; the keyless "k" is suspended now, after failures.
        _mesh.Disagreed("a", Key, "echo", "req-1", new Dictionary<string, string?>());
        _time.Advance(TimeSpan.FromMinutes(1));
        Report("a", ModelState.Ready, generation: 2);
        foreach (var n in new[] { "k", "d", "e" }) Report(n, ModelState.Ready);
        Assert.False(Suspended("a"));
        Fail("k", 3);
        Assert.True(Suspended("k"));

        _time.Advance(Beat * 3 + TimeSpan.FromMilliseconds(1));
        var lower = Math.Min(Reputation("a"), Reputation("k"));
        Assert.Equal(Admission.Registered, _mesh.Register(new NodeRegistration("k", new Uri("http://127.0.0.1:1/k/"), new NodeCapacity(4000, 8L << 30, 0),
            new Dictionary<string, string>(), Beat), _credentials["k"], key.PublicKey, 2).Outcome);
        Assert.Equal("k", _mesh.HolderOf(key.PublicKey));
        Assert.True(Suspended("k"));
        Assert.Equal(lower, Reputation("k"), 3);
    }

    /// <summary>
    /// A keyed node the gateway forgot (offline for <see cref="GatewayOptions.ForgetOfflineNodesAfter"/>) leaves its
    /// standing to its key: back under any id, it has its lost spot check and its count of suspensions, so its next
    /// suspension is the second step (60 s), not the first. Before, waiting ten minutes washed the record.
    /// </summary>
    [Fact]
    public void A_keyed_node_forgotten_for_its_absence_takes_its_standing_back_under_any_id()
    {
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("node");
        JoinReady(key.PublicKey, "c", "d", "e");
        _mesh.Disagreed("a", Key, "echo", "req-1", new Dictionary<string, string?> { ["c"] = "receipt-c", ["d"] = "receipt-d" });
        Assert.True(Suspended("a"));

        // Every node goes quiet past the time an offline node is forgotten; the next registration forgets them.
        _time.Advance(new GatewayOptions().ForgetOfflineNodesAfter + (Beat * 4));
        foreach (var n in new[] { "c", "d", "e" }) Join(n);
        Assert.Equal(NodeAuth.Unknown, _mesh.Authenticate("a", _credentials["a"]));
        Assert.Null(_mesh.HolderOf(key.PublicKey));
        // On record for its key meanwhile (GET /mesh/v1/keys/{fingerprint}): when, what for, and the receipts.
        var record = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.KeyStanding(key.PublicKey.Fingerprint), MeshJson.Options)!;
        Assert.Equal((null, _time.GetUtcNow().ToUnixTimeMilliseconds()), ((string?)record["node"], record["forgottenAt"]!.GetValue<DateTimeOffset>().ToUnixTimeMilliseconds()));
        var suspension = Assert.Single(record["suspensions"]!.AsArray())!;
        Assert.Equal((Key, 1, "answer-disagrees"), ((string?)suspension["model"], (int)suspension["count"]!, (string?)suspension["reason"]));
        Assert.Equal("receipt-c", (string?)Assert.Single(record["disagreements"]!.AsArray())!["receipts"]!["c"]);
        var (outcome, credential) = RegisterKeyed("b", key.PublicKey, 2);
        Assert.Equal(Admission.Registered, outcome);
        _credentials["b"] = credential!;
        Assert.Equal("b", (string?)System.Text.Json.JsonSerializer.SerializeToNode(_mesh.KeyStanding(key.PublicKey.Fingerprint), MeshJson.Options)!["node"]);
        Assert.Null(_mesh.KeyStanding("sha256:" + new string('0', 64)));

        // Its suspension's period ran long ago: a fresh pre-flight brings it back, with its record.
        foreach (var n in new[] { "b", "c", "d", "e" }) Report(n, ModelState.Ready, generation: 5);
        Assert.Contains("b", Ready());
        var described = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.Describe(), MeshJson.Options)!;
        Assert.Equal(1, (int)described["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "b")!["disagreements"]!);
        Assert.Equal(1, (int)described["models"]![0]!["versions"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["node"] == "b")!["suspensions"]!);

        // Its next lost spot check suspends it for 60 s: still out after 31 s whatever it reports, back after 61 s.
        _mesh.Disagreed("b", Key, "echo", "req-2", new Dictionary<string, string?>());
        _time.Advance(TimeSpan.FromSeconds(31));
        Report("b", ModelState.Ready, generation: 6);
        Assert.True(Suspended("b"));
        _time.Advance(TimeSpan.FromSeconds(30));
        Report("b", ModelState.Ready, generation: 7);
        Assert.False(Suspended("b"));
    }

    private double Reputation(string node) => _mesh.NodeSummaries().Single(s => s.Node == node).Reputation;

    /// <summary>Node "a" with <paramref name="key"/> and keyless <paramref name="others"/>, each reporting echo ready.</summary>
    private void JoinReady(InfraMind.Signing.PublicKey key, params string[] others)
    {
        var (outcome, credential) = RegisterKeyed("a", key, 1);
        Assert.Equal(Admission.Registered, outcome);
        _credentials["a"] = credential!;
        foreach (var n in others) Join(n);
        foreach (var n in others.Prepend("a")) Report(n, ModelState.Ready);
    }

    /// <summary>
    /// The gateway ranks a keyed node by its key's fingerprint and a version by its key and image digest: with keys
    /// picked so that neither the id nor the version's name alone would choose the same node, the version goes where
    /// the fingerprints rank it.
    /// </summary>
    [Fact]
    public void The_gateway_places_a_keyed_node_by_its_key_and_a_version_by_its_image_digest()
    {
        var model = Served();
        var seed = InfraMind.Gateway.Routing.Placement.SeedOf(model.Key, model.Published.ImageDigest);
        var keys = new List<InfraMind.Signing.SigningKey>();
        try
        {
            string Winner(Func<int, string> identity, string by) => $"n{Enumerable.Range(0, 2).MaxBy(i => InfraMind.Gateway.Routing.Placement.Weight(by, identity(i)))}";
            for (var tries = 0; ; tries++)
            {
                Assert.True(tries < 64, "64 pairs of keys all ranked as the ids do");
                foreach (var k in keys) k.Dispose();
                keys = [InfraMind.Signing.SigningKey.CreateEphemeral("n0"), InfraMind.Signing.SigningKey.CreateEphemeral("n1")];
                var byKey = Winner(i => keys[i].PublicKey.Fingerprint, seed);
                if (byKey != Winner(i => $"n{i}", seed) && byKey != Winner(i => keys[i].PublicKey.Fingerprint, model.Key)) break;
            }

            var expected = Winner(i => keys[i].PublicKey.Fingerprint, seed);
            var mesh = new MeshState(new GatewayOptions { Replicas = 1 }, _time, new GatewayMetrics(), NullLogger.Instance);
            mesh.SetModels([model]);
            for (var i = 0; i < 2; i++)
            {
                var (outcome, credential) = RegisterKeyed($"n{i}", keys[i].PublicKey, 1, mesh);
                Assert.Equal(Admission.Registered, outcome);
                _credentials[$"n{i}"] = credential!;
            }

            Assert.Single(Send(mesh, expected).Assignments);
            Assert.Empty(Send(mesh, expected == "n0" ? "n1" : "n0").Assignments);
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    [Fact]
    public void A_node_offline_long_enough_is_forgotten_and_its_id_is_free_again()
    {
        Join("a");
        _time.Advance(TimeSpan.FromMinutes(11));
        var registration = new NodeRegistration("a", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat);
        var (outcome, credential) = _mesh.Register(registration, null);
        Assert.Equal(Admission.Registered, outcome);
        Assert.NotEqual(_credentials["a"], credential);
    }

    [Fact]
    public async Task A_forgotten_node_leaves_no_metric_series_behind()
    {
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(new GatewayOptions { Replicas = 4 }, _time, metrics, NullLogger.Instance);
        mesh.SetModels([Served()]);
        foreach (var id in new[] { "a", "b", "c", "d" }) Join(id, mesh);
        foreach (var id in new[] { "a", "b", "c", "d" }) Assert.Single(Send(mesh, id).Assignments);
        // Every series that names a node: an attempt (as InferenceAttempts counts it), a pre-flight failure its heartbeat
        // reported, failures where others answered (its reputation falls and it is suspended), its gauges.
        mesh.RecordSuccess("a", Key, "echo", 1.0, 1);
        mesh.RecordFailedAttempt("a", "echo", Verdict.RequestTimeout);
        Send(mesh, "a", new ModelReport("echo", "1.0.0", ModelState.Failed, Verdict.ServerErrorOnValidInput, null, 1, 0, 1, _time.GetUtcNow()));
        for (var i = 0; i < 3; i++) mesh.Settle(Key, "echo", [("a", Verdict.OutputSchemaViolation)], answered: true);
        metrics.Nodes(mesh.NodeSummaries());
        var before = await ScrapeAsync(metrics);
        foreach (var series in new[] { "inframind_gateway_attempts_total", "inframind_gateway_failures_total", "inframind_gateway_suspensions_total",
                     "inframind_gateway_node_reputation", "inframind_gateway_node_online" })
            Assert.Contains(before.Split('\n'), l => l.StartsWith(series + "{", StringComparison.Ordinal) && l.Contains("node=\"a\"", StringComparison.Ordinal));

        // Offline past ForgetOfflineNodesAfter, the four are forgotten when the next node registers: none of their series stays.
        _time.Advance(TimeSpan.FromMinutes(11));
        Join("e", mesh);
        metrics.Nodes(mesh.NodeSummaries());
        var after = await ScrapeAsync(metrics);
        foreach (var id in new[] { "a", "b", "c", "d" }) Assert.DoesNotContain($"node=\"{id}\"", after, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_node_online{node=\"e\"}", after, StringComparison.Ordinal);

        // An attempt on a forgotten node that ends now (it began before the node went) brings back neither a series
        // nor a standing of it.
        var standings = mesh.StandingCount;
        mesh.RecordSuccess("a", Key, "echo", 1.0, 1);
        mesh.RecordFailedAttempt("b", "echo", Verdict.RequestTimeout);
        Assert.Equal(standings, mesh.StandingCount);
        var late = await ScrapeAsync(metrics);
        foreach (var id in new[] { "a", "b" }) Assert.DoesNotContain($"node=\"{id}\"", late, StringComparison.Ordinal);

        // A summary taken before a node went, written after: the next one removes its gauges.
        metrics.Nodes([("gone", 1.0, true), ("e", 1.0, true)]);
        metrics.Nodes(mesh.NodeSummaries());
        Assert.DoesNotContain("node=\"gone\"", await ScrapeAsync(metrics), StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_looping_leave_and_heartbeat_makes_one_pass_at_once_and_the_rest_wait_for_the_interval()
    {
        Join("a");
        Join("b");
        Report("a", ModelState.Ready);
        Report("b", ModelState.Ready);
        var before = _mesh.PassCount;

        // An honest leave is placed at once: the version is off the node in the same call.
        Assert.True(_mesh.Leave("a"));
        Assert.Equal(before + 1, _mesh.PassCount);
        Assert.Equal(["b"], Ready());

        // A node that loops (back with a heartbeat, leave again) in the same instant: every pass waits for the interval.
        for (var i = 0; i < 100; i++)
        {
            Report("a", ModelState.Ready);
            Assert.True(_mesh.Leave("a"));
        }

        Assert.True(_mesh.PassCount - before <= 2, $"{_mesh.PassCount - before} placement passes for 100 leave-and-return cycles");

        // Once the node's interval has passed, its return is placed at once again: it gets the version in that reply.
        _time.Advance(MeshState.NodeForcedPassInterval);
        Assert.Equal(Key, Assert.Single(Report("a", ModelState.Ready).Assignments).Key);
        Assert.Equal(["a", "b"], Ready());
    }

    [Fact]
    public void Reports_of_versions_the_catalog_does_not_serve_keep_no_standing()
    {
        // A node reports what it likes: a heartbeat (1 MiB) holds thousands of made-up versions, new ones in every beat.
        // What the gateway keeps of them must not grow beat after beat for as long as the node stays.
        Join("a");
        Report("a", ModelState.Ready);
        var held = _mesh.StandingCount;
        for (var beat = 0; beat < 20; beat++)
        {
            var made = Enumerable.Range(0, 500).Select(i => new ModelReport($"made-up-{beat}", $"1.0.{i}", ModelState.Failed, Verdict.ServerErrorOnValidInput, null, 1, 0, 3,
                _time.GetUtcNow())).Append(new ModelReport("echo", "1.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow()));
            Assert.Single(Send("a", [.. made]).Assignments);
        }

        Assert.Equal(held, _mesh.StandingCount);
        Assert.Equal(["a"], Ready());
    }

    private static async Task<string> ScrapeAsync(GatewayMetrics metrics)
    {
        using var text = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(text);
        return Encoding.UTF8.GetString(text.ToArray());
    }

    [Fact]
    public void The_gateway_holds_at_most_max_nodes()
    {
        var mesh = new MeshState(new GatewayOptions { MaxNodes = 2 }, _time, new GatewayMetrics(), NullLogger.Instance);
        Join("a", mesh);
        Join("b", mesh);
        var registration = new NodeRegistration("c", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat);
        Assert.Equal(Admission.Full, mesh.Register(registration, null).Outcome);
    }

    /// <summary>
    /// GatewayOptions.MaxModelsPerNode reaches placement: three versions that each fit, on one node with room for all
    /// three, and a limit of two: the node is assigned two and no more.
    /// </summary>
    [Fact]
    public void A_node_is_assigned_at_most_the_gateways_max_models_per_node()
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 1, MaxModelsPerNode = 2 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([Served(name: "a"), Served(name: "b"), Served(name: "c")]);
        Join("n", mesh, capacity: new NodeCapacity(8000, 8L << 30, 0));
        Assert.Equal(2, Send(mesh, "n").Assignments.Count);
    }

    [Fact]
    public void A_refusal_moves_the_model_to_another_node()
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 1 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([Served()]);
        Join("a", mesh, "http://127.0.0.1:1/", new NodeCapacity(8000, 8L << 30, 0));
        Join("b", mesh, "http://127.0.0.1:2/");
        // The version's best-ranked node gets it (Placement's rendezvous rank), the other nothing.
        var (first, other) = Send(mesh, "a").Assignments.Count == 1 ? ("a", "b") : ("b", "a");
        Assert.Single(Send(mesh, first).Assignments);
        Assert.Empty(Send(mesh, other).Assignments);
        Send(mesh, first, new ModelReport("echo", "1.0.0", ModelState.Refused, Verdict.Refused, "IM6010: no memory", 0, 0, 0, _time.GetUtcNow()));
        Assert.Single(Send(mesh, other).Assignments);
    }

    [Fact]
    public void Latest_is_the_highest_release()
    {
        var versions = new[] { Served("1.0.0"), Served("1.10.0"), Served("2.0.0-rc.1"), Served("1.9.9") };
        Assert.Equal("1.10.0", MeshState.Latest(versions)!.Published.Version.ToString());
    }

    private sealed class FakeLocalNode(string? credential, IModelConnector? connector) : ILocalNode
    {
        public string? Credential { get; set; } = credential;

        public IModelConnector? Connector { get; set; } = connector;

        public IModelConnector? ConnectorOf(string name, string version) => Connector;

        public string? SignReceipt(string requestId, string name, string version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output) => null;

        public void JobStarted() => throw new NotSupportedException("MeshState routes; it sends no job");

        public void JobEnded() => throw new NotSupportedException("MeshState routes; it sends no job");
    }

    private sealed class NoConnector : IModelConnector
    {
        public ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    [Fact]
    public void Jobs_go_straight_to_a_container_only_through_its_nodes_connector_in_this_process_and_through_the_job_api_otherwise()
    {
        var local = new LocalNodes();
        var mesh = new MeshState(new GatewayOptions { LocalNodes = local }, _time, new GatewayMetrics(), NullLogger.Instance);
        Join("local", mesh);
        Join("remote", mesh, "http://node-b.example:7000/");
        var connector = new NoConnector();
        var node = new FakeLocalNode(_credentials["local"], connector);
        using var attached = local.Attach("local", node);
        Assert.Same(connector, mesh.RouteOf("local", "echo", "1.0.0")!.Connector);
        Assert.Equal(new Uri("http://node-b.example:7000/jobs/echo/1.0.0"), mesh.RouteOf("remote", "echo", "1.0.0")!.Target);
        Assert.False(mesh.RouteOf("remote", "echo", "1.0.0")!.Direct);
        Assert.Equal(_credentials["remote"], mesh.RouteOf("remote", "echo", "1.0.0")!.Credential);
        // Not ready there: through the job API.
        node.Connector = null;
        Assert.Equal(new Uri("http://127.0.0.1:1/local/jobs/echo/1.0.0"), mesh.RouteOf("local", "echo", "1.0.0")!.Target);
        // A node of this process that is not the one registered under the id (no credential, or another's) is not used.
        node.Connector = connector;
        node.Credential = _credentials["remote"];
        Assert.False(mesh.RouteOf("local", "echo", "1.0.0")!.Direct);
        node.Credential = null;
        Assert.False(mesh.RouteOf("local", "echo", "1.0.0")!.Direct);
        Assert.Null(mesh.RouteOf("nobody", "echo", "1.0.0"));

        var viaNodes = new MeshState(new GatewayOptions { LocalNodes = local, DirectToLocalContainers = false }, _time, new GatewayMetrics(), NullLogger.Instance);
        Join("local", viaNodes);
        node.Credential = _credentials["local"];
        Assert.False(viaNodes.RouteOf("local", "echo", "1.0.0")!.Direct);
    }

    [Fact]
    public async Task Failures_are_counted_in_metrics_by_the_verdicts_wire_name_and_a_foreign_name_as_unknown()
    {
        var metrics = new GatewayMetrics();
        var mesh = new MeshState(new GatewayOptions(), _time, metrics, NullLogger.Instance);
        mesh.SetModels([Served(), Served("2.0.0")]);
        Join("a", mesh);
        var beat = System.Text.Json.JsonSerializer.Deserialize<NodeHeartbeat>(
            """{"nodeId":"a","models":[{"name":"echo","version":"1.0.0","state":"failed","verdict":"gpu-melted-7f3a","detail":"?","failures":1,"since":"2026-01-01T00:00:00Z"},""" +
            """{"name":"echo","version":"2.0.0","state":"failed","verdict":"no-answer-on-port","detail":"?","failures":1,"since":"2026-01-01T00:00:00Z"}]}""",
            MeshJson.Options)!;
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(beat, _credentials["a"], out _));
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

using System.Net;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The ids a gateway bound outlive its restart (<see cref="NodeBindings"/>): only an id's own node registers it again
/// (its credential, or its key with a newer signature), its heartbeats are taken at once, and the id is forgotten when
/// it would have been had the gateway never stopped. The file is the gateway's own, read whole or refused (IM6052).
/// </summary>
public sealed class NodeBindingsTests : IDisposable
{
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(1);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private readonly string _dir = Directory.CreateTempSubdirectory("bindings-").FullName;
    private readonly SigningKey _key = SigningKey.CreateEphemeral("node-b");
    private readonly SigningKey _other = SigningKey.CreateEphemeral("impostor");

    private string File => Path.Combine(_dir, "gateway", "nodes.json");

    public void Dispose()
    {
        _key.Dispose();
        _other.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private MeshState NewMesh(int maxNodes = 256)
    {
        var mesh = new MeshState(new GatewayOptions { Replicas = 4, MaxNodes = maxNodes }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([MeshStateTests.Served()]);
        return mesh;
    }

    private static NodeRegistration Registration(string id, PublicKey? key = null, string address = "http://127.0.0.1:1/") =>
        new(id, new Uri(address), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat, key?.SubjectPublicKeyInfoBase64);

    /// <summary>A mesh with keyless "a" and keyed "b" (signed at 10), written to the file and taken back by a new mesh: the restart.</summary>
    private (MeshState Restarted, string CredentialA, string CredentialB) BindAndRestart()
    {
        var before = NewMesh();
        var (a, credentialA) = before.Register(Registration("a"), null);
        var (b, credentialB) = before.Register(Registration("b", _key.PublicKey), null, _key.PublicKey, 10);
        Assert.Equal((Admission.Registered, Admission.Registered), (a, b));
        NodeBindings.Save(File, before.Bindings().Kept);
        var restarted = NewMesh();
        Assert.Equal(2, restarted.Restore(NodeBindings.Load(File, 256)));
        return (restarted, credentialA!, credentialB!);
    }

    [Fact]
    public void After_a_restart_an_id_is_still_its_own_nodes_and_a_stranger_claiming_it_is_refused()
    {
        var (mesh, credentialA, credentialB) = BindAndRestart();

        // What a restart without the file allowed: the first to register an id held it.
        Assert.Equal(Admission.Registered, NewMesh().Register(Registration("a"), null).Outcome);

        // Keyless "a": another credential or none is another node.
        Assert.Equal(Admission.IdTaken, mesh.Register(Registration("a"), null).Outcome);
        Assert.Equal(Admission.IdTaken, mesh.Register(Registration("a"), MeshToken.Create()).Outcome);
        // Keyed "b": another key, or none even with its credential, is refused; its own key's old signature is a replay.
        Assert.Equal(Admission.KeyMismatch, mesh.Register(Registration("b", _other.PublicKey), null, _other.PublicKey, 11).Outcome);
        Assert.Equal(Admission.KeyMismatch, mesh.Register(Registration("b"), credentialB).Outcome);
        Assert.Equal(Admission.Replayed, mesh.Register(Registration("b", _key.PublicKey), null, _key.PublicKey, 10).Outcome);
        // The key still holds one id: a new id with it is the key moving, and "b" is offline (not seen for 3 beats)...
        _time.Advance(Beat * 3 + TimeSpan.FromMilliseconds(1));
        // ...but not by a replay of its last signature.
        Assert.Equal(Admission.Replayed, mesh.Register(Registration("c", _key.PublicKey), null, _key.PublicKey, 10).Outcome);

        // The ids' own nodes: "a" beats with its credential at once, with no registration, and is given its version;
        // "b" registers again with a newer signature and gets the same credential back.
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", []), credentialA, out var reply));
        Assert.Equal("echo", Assert.Single(reply!.Assignments).Name);
        Assert.Equal((Admission.Registered, credentialB), mesh.Register(Registration("b", _key.PublicKey), null, _key.PublicKey, 11));
        Assert.Equal(_key.PublicKey, mesh.KeyOf("b").Key);
        Assert.Equal("b", mesh.HolderOf(_key.PublicKey));
    }

    [Fact]
    public void A_taken_back_id_is_forgotten_when_it_would_have_been_had_the_gateway_never_stopped()
    {
        var before = NewMesh();
        Assert.Equal(Admission.Registered, before.Register(Registration("a"), null).Outcome);
        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(Admission.Registered, before.Register(Registration("z"), null).Outcome);
        NodeBindings.Save(File, before.Bindings().Kept);

        // Restarted 9 min after "a" was last seen: offline, still bound.
        var mesh = NewMesh();
        Assert.Equal(2, mesh.Restore(NodeBindings.Load(File, 256)));
        Assert.False(mesh.NodeSummaries().Single(n => n.Node == "a").Online);
        Assert.Equal(Admission.IdTaken, mesh.Register(Registration("a"), null).Outcome);
        // Ten minutes after it was last seen, its id is free, as it would have been.
        _time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(Admission.Registered, mesh.Register(Registration("a"), null).Outcome);

        // A binding seen longer ago than that is not taken back at all.
        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(0, NewMesh().Restore(NodeBindings.Load(File, 256)));
    }

    /// <summary>
    /// An admit list is this run's rule: a binding of a node it does not admit (no key, or a key not listed) is not
    /// taken back, or that node would beat on with its credential where its registration is now refused (IM6043).
    /// </summary>
    [Fact]
    public void A_binding_the_admit_list_of_this_run_does_not_admit_is_not_taken_back()
    {
        var before = NewMesh();
        Assert.Equal(Admission.Registered, before.Register(Registration("a"), null).Outcome);
        Assert.Equal(Admission.Registered, before.Register(Registration("b", _key.PublicKey), null, _key.PublicKey, 10).Outcome);
        Assert.Equal(Admission.Registered, before.Register(Registration("c", _other.PublicKey), null, _other.PublicKey, 10).Outcome);
        NodeBindings.Save(File, before.Bindings().Kept);

        var listed = new MeshState(new GatewayOptions { AdmitNodeKeys = new HashSet<string>(StringComparer.Ordinal) { _key.PublicKey.Fingerprint } }, _time,
            new GatewayMetrics(), NullLogger.Instance);
        Assert.Equal(1, listed.Restore(NodeBindings.Load(File, 256)));
        Assert.Equal(["b"], listed.Bindings().Kept.Nodes!.Select(b => b.Registration.NodeId));
        Assert.Equal(NodeAuth.Unknown, listed.Authenticate("a", null));
        Assert.Equal(NodeAuth.Unknown, listed.Authenticate("c", null));
        // Without a list, every binding is taken back.
        Assert.Equal(3, NewMesh().Restore(NodeBindings.Load(File, 256)));
    }

    /// <summary>
    /// Bindings are kept with the gateway's key: a gateway that runs with another key (or none where it had one) takes
    /// none back, so every node registers again and one that admits only listed gateway keys checks the new one (IM6044)
    /// rather than beating on with a credential the old key's signed reply carried.
    /// </summary>
    [Fact]
    public void A_gateway_that_runs_with_another_key_takes_no_binding_back()
    {
        using var gatewayKey = SigningKey.CreateEphemeral("gateway");
        using var another = SigningKey.CreateEphemeral("another");
        MeshState Keyed(SigningKey? key) => new(new GatewayOptions { Identity = key }, _time, new GatewayMetrics(), NullLogger.Instance);
        var before = Keyed(gatewayKey);
        Assert.Equal(Admission.Registered, before.Register(Registration("a"), null).Outcome);
        var kept = before.Bindings().Kept;
        Assert.Equal(gatewayKey.PublicKey.Fingerprint, kept.GatewayKey);
        NodeBindings.Save(File, kept);
        Assert.Equal(gatewayKey.PublicKey.Fingerprint, NodeBindings.Load(File, 256).GatewayKey);

        Assert.Equal(0, Keyed(another).Restore(NodeBindings.Load(File, 256)));
        Assert.Equal(0, Keyed(null).Restore(NodeBindings.Load(File, 256)));
        Assert.Equal(1, Keyed(gatewayKey).Restore(NodeBindings.Load(File, 256)));
        // And the other way round: kept without a key, taken back only without one.
        NodeBindings.Save(File, kept with { GatewayKey = null });
        Assert.Equal(0, Keyed(gatewayKey).Restore(NodeBindings.Load(File, 256)));
        Assert.Equal(1, Keyed(null).Restore(NodeBindings.Load(File, 256)));
    }

    [Fact]
    public void What_is_bound_changes_with_a_registration_and_a_forgotten_node_but_not_with_a_heartbeat()
    {
        var mesh = NewMesh();
        var start = mesh.BindingChanges;
        var (_, credential) = mesh.Register(Registration("a"), null);
        var registered = mesh.BindingChanges;
        Assert.True(registered > start);
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", []), credential, out _));
        Assert.Equal(registered, mesh.BindingChanges);
        // Seen just now: the times are written at the next refresh, not at once.
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), Assert.Single(mesh.Bindings().Kept.Nodes!).LastSeen);
        _time.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(Admission.Registered, mesh.Register(Registration("b"), null).Outcome); // "a" forgotten meanwhile
        Assert.Equal("b", Assert.Single(mesh.Bindings().Kept.Nodes!).Registration.NodeId);
        Assert.True(mesh.BindingChanges >= registered + 2);
    }

    [Fact]
    public void The_file_is_owner_only_and_a_missing_one_binds_nothing()
    {
        Assert.Empty(NodeBindings.Load(File, 256).Nodes!);
        var mesh = NewMesh();
        mesh.Register(Registration("a"), null);
        NodeBindings.Save(File, mesh.Bindings().Kept);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, System.IO.File.GetUnixFileMode(File));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, System.IO.File.GetUnixFileMode(Path.GetDirectoryName(File)!));
        Assert.False(System.IO.File.Exists(File + ".tmp"));
        var binding = Assert.Single(NodeBindings.Load(File, 256).Nodes!);
        Assert.Equal(Assert.Single(mesh.Bindings().Kept.Nodes!) with { Registration = binding.Registration }, binding);
        Assert.Equal("a", binding.Registration.NodeId);
    }

    [Fact]
    public void A_binding_without_labels_reads_as_one_with_none()
    {
        var mesh = NewMesh();
        mesh.Register(Registration("a"), null);
        NodeBindings.Save(File, mesh.Bindings().Kept);
        System.IO.File.WriteAllText(File, System.IO.File.ReadAllText(File).Replace("\"labels\":{}", "\"labels\":null", StringComparison.Ordinal));
        Assert.Contains("\"labels\":null", System.IO.File.ReadAllText(File), StringComparison.Ordinal);
        var restored = NewMesh();
        Assert.Equal(1, restored.Restore(NodeBindings.Load(File, 256)));
        Assert.Empty(Assert.Single(restored.Bindings().Kept.Nodes!).Registration.Labels);
        Assert.NotNull(restored.Describe()); // the state document reads every node's labels
    }

    private const string Echo = "echo@1.0.0";

    private static ModelReport Ready(long generation) => new("echo", "1.0.0", ModelState.Ready, null, null, generation, 0, 0, DateTimeOffset.UnixEpoch);

    /// <summary>Nodes a, b and c, each running echo@1.0.0 ready at pre-flight generation 4; their credentials.</summary>
    private static Dictionary<string, string> ThreeReady(MeshState mesh)
    {
        var credentials = new Dictionary<string, string>();
        foreach (var id in new[] { "a", "b", "c" }) credentials[id] = mesh.Register(Registration(id), null).Credential!;
        foreach (var id in credentials.Keys) Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [Ready(4)]), credentials[id], out _));
        Assert.Equal(["a", "b", "c"], Routable(mesh));
        return credentials;
    }

    /// <summary>Every node beats, ready at <paramref name="generation"/>, and again after the next placement pass is due.</summary>
    private void BeatReady(MeshState mesh, Dictionary<string, string> credentials, long generation)
    {
        for (var i = 0; i < 2; i++)
        {
            foreach (var id in credentials.Keys) Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [Ready(generation)]), credentials[id], out _));
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
    }

    private static string[] Routable(MeshState mesh) => [.. mesh.Candidates(Echo, new HashSet<string>()).Select(c => c.NodeId).Order(StringComparer.Ordinal)];

    private static double ReputationOf(MeshState mesh, string id) => mesh.NodeSummaries().Single(n => n.Node == id).Reputation;

    private MeshState Restart(MeshState before)
    {
        NodeBindings.Save(File, before.Bindings().Kept);
        var restarted = NewMesh();
        Assert.Equal(before.NodeSummaries().Count, restarted.Restore(NodeBindings.Load(File, 256)));
        return restarted;
    }

    /// <summary>
    /// A node's standing outlives the gateway's restart. Before, a node suspended for a lost spot check (an answer two
    /// other nodes contradicted) had its version back the moment the gateway restarted, with its reputation whole.
    /// </summary>
    [Fact]
    public void A_node_suspended_for_a_lost_spot_check_stays_suspended_across_a_restart_with_its_reputation()
    {
        var before = NewMesh();
        var credentials = ThreeReady(before);
        before.Disagreed("a", Echo, "echo", "req-1", new Dictionary<string, string?>());
        Assert.Equal(["b", "c"], Routable(before));
        var reputation = ReputationOf(before, "a");
        Assert.True(reputation < 1, $"reputation {reputation}");
        var changes = before.BindingChanges;

        var mesh = Restart(before);
        BeatReady(mesh, credentials, 4);
        Assert.Equal(["b", "c"], Routable(mesh));
        // The same as had the gateway never stopped: still recovering from the same score at the same time.
        Assert.Equal(ReputationOf(before, "a"), ReputationOf(mesh, "a"), 9);
        Assert.True(ReputationOf(mesh, "a") < 0.71, $"reputation {ReputationOf(mesh, "a")}");
        Assert.Equal(1.0, ReputationOf(mesh, "b"));
        var described = System.Text.Json.JsonSerializer.SerializeToNode(mesh.Describe(), MeshJson.Options)!;
        var a = described["models"]![0]!["versions"]![0]!["nodes"]!.AsArray().Single(n => (string)n!["node"]! == "a")!;
        Assert.Equal((true, "answer-disagrees", 1), ((bool)a["suspended"]!, (string?)a["suspendedFor"], (int)a["suspensions"]!));

        // It waits out its 30 s whatever it reports, as it would have had the gateway never stopped (every node beats
        // each second; "a" reports a fresh pass)...
        void Second()
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            foreach (var id in credentials.Keys) Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [Ready(id == "a" ? 5 : 4)]), credentials[id], out _));
        }

        for (var i = 0; i < 29; i++) Second();
        Assert.Equal(["b", "c"], Routable(mesh));
        // ...and a fresh pre-flight after it brings it back; that change is due to be written at once.
        var restored = mesh.BindingChanges;
        Second();
        Assert.Equal(["a", "b", "c"], Routable(mesh));
        Assert.True(mesh.BindingChanges > restored);
        Assert.True(changes > 0);

        // Its count is kept too: the next suspension's period is the second step (60 s), after another restart.
        mesh.Disagreed("a", Echo, "echo", "req-2", new Dictionary<string, string?>());
        var kept = Assert.Single(Restart(mesh).Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Suspensions!);
        Assert.Equal((Echo, 2, true), (kept.Model, kept.Count, kept.WaitsOutPeriod));
        Assert.Equal(_time.GetUtcNow().AddSeconds(60).ToUnixTimeMilliseconds(), kept.Until);
    }

    /// <summary>
    /// The evidence behind a suspension outlives the restart with it. Before, a restarted gateway still held a node
    /// suspended for <c>answer-disagrees</c> but <c>GET /mesh/v1/nodes/{id}/receipts</c> showed no spot check it lost:
    /// the signed receipts that prove it were kept in memory only.
    /// </summary>
    [Fact]
    public void The_receipts_of_the_spot_checks_a_node_lost_outlive_the_restart()
    {
        var before = NewMesh();
        ThreeReady(before);
        // A clock between milliseconds: the time shown is the one kept (the file keeps milliseconds).
        _time.Advance(TimeSpan.FromTicks(1234));
        var changes = before.BindingChanges;
        Dictionary<string, string?> evidence = new(StringComparer.Ordinal) { ["a"] = "receipt-of-a", ["b"] = "receipt-of-b", ["c"] = null };
        before.Disagreed("a", Echo, "echo", "req-1", evidence);
        Assert.True(before.BindingChanges > changes);
        // A second lost check while it is suspended already suspends nothing more, but its evidence is due at once too.
        changes = before.BindingChanges;
        _time.Advance(TimeSpan.FromSeconds(2));
        before.Disagreed("a", Echo, "echo", "req-2", new Dictionary<string, string?>(StringComparer.Ordinal) { ["a"] = "second-of-a", ["b"] = "second-of-b" });
        Assert.True(before.BindingChanges > changes);
        var kept = before.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Evidence!;
        Assert.Equal(["req-1", "req-2"], kept.Select(d => d.RequestId));

        var mesh = Restart(before);
        string Shown(MeshState m) => System.Text.Json.JsonSerializer.Serialize(m.ReceiptsOf("a"), MeshJson.Options);
        Assert.Equal(Shown(before), Shown(mesh));
        var shown = System.Text.Json.Nodes.JsonNode.Parse(Shown(mesh))!["disagreements"]!.AsArray();
        Assert.Equal(2, shown.Count);
        Assert.Equal(("req-1", Echo, "receipt-of-a", "receipt-of-b"),
            ((string)shown[0]!["requestId"]!, (string)shown[0]!["model"]!, (string)shown[0]!["receipts"]!["a"]!, (string)shown[0]!["receipts"]!["b"]!));
        Assert.Null(shown[0]!["receipts"]!["c"]);
        Assert.Equal(_time.GetUtcNow().AddSeconds(-2).AddTicks(-1234), shown[0]!["at"]!.GetValue<DateTimeOffset>());

        // The last 8 are kept, as in memory, and the file keeps what memory does: a ninth drops the first, restart or not.
        for (var i = 3; i <= 9; i++) mesh.Disagreed("a", Echo, "echo", $"req-{i}", evidence);
        var again = Restart(mesh).Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Evidence!;
        Assert.Equal([.. Enumerable.Range(2, 8).Select(i => $"req-{i}")], again.Select(d => d.RequestId));

        // A node that lost no spot check keeps none (b's standing, with nothing against it, is none at all).
        Assert.Null(mesh.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "b").Standing);
    }

    /// <summary>
    /// A suspension after failures whose period ran out while the gateway was down asks for a pre-flight at the node's
    /// first heartbeat, and the pass readmits it, even counted from none by a node that restarted meanwhile.
    /// </summary>
    [Fact]
    public void A_suspension_that_ran_out_while_the_gateway_was_down_asks_for_a_preflight_and_a_pass_readmits()
    {
        var before = NewMesh();
        var credentials = ThreeReady(before);
        for (var i = 0; i < 3; i++) before.Settle(Echo, "echo", [("a", Verdict.OutputSchemaViolation)], answered: true);
        Assert.Equal(["b", "c"], Routable(before));
        NodeBindings.Save(File, before.Bindings().Kept);
        _time.Advance(TimeSpan.FromMinutes(1));

        var mesh = NewMesh();
        Assert.Equal(3, mesh.Restore(NodeBindings.Load(File, 256)));
        credentials.Remove("a");
        BeatReady(mesh, credentials, 4);
        Assert.Equal(["b", "c"], Routable(mesh));
        credentials["a"] = before.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Credential;
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", [Ready(4)]), credentials["a"], out var reply));
        Assert.Equal([Echo], reply!.Preflight);
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", [Ready(4)]), credentials["a"], out _));
        Assert.Equal(["b", "c"], Routable(mesh));
        // The node restarted meanwhile: its new container's pass is its first.
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", [Ready(1)]), credentials["a"], out _));
        Assert.Equal(["a", "b", "c"], Routable(mesh));
        var kept = Assert.Single(mesh.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Suspensions!);
        Assert.Equal((1, (long?)null, "output-schema-violation"), (kept.Count, kept.Until, kept.Reason!.WireName));
    }

    [Fact]
    public void A_node_with_nothing_against_it_keeps_no_standing_and_a_file_without_standings_reads_as_none()
    {
        var mesh = NewMesh();
        ThreeReady(mesh);
        Assert.All(mesh.Bindings().Kept.Nodes!, n => Assert.Null(n.Standing));
        NodeBindings.Save(File, mesh.Bindings().Kept);
        Assert.DoesNotContain("standing\":{", System.IO.File.ReadAllText(File), StringComparison.Ordinal);
        var restarted = NewMesh();
        Assert.Equal(3, restarted.Restore(NodeBindings.Load(File, 256)));
        Assert.All(restarted.NodeSummaries(), n => Assert.Equal(1.0, n.Reputation));

        // A reputation kept is the one the node recovers from: it is not whole again at the restart, nor further off.
        mesh.Settle(Echo, "echo", [("b", Verdict.OutputSchemaViolation)], answered: true);
        var (score, at) = (ReputationOf(mesh, "b"), _time.GetUtcNow());
        _time.Advance(TimeSpan.FromSeconds(20));
        var recovered = ReputationOf(mesh, "b");
        Assert.True(recovered > score && recovered < 1, $"{score} → {recovered}");
        Assert.Equal(recovered, ReputationOf(Restart(mesh), "b"), 9);
        Assert.Equal(at.ToUnixTimeMilliseconds(), mesh.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "b").Standing!.ReputationAt);
    }

    /// <summary>A kept suspension's end is the gateway's own: one further off than the longest period is held to that.</summary>
    [Fact]
    public void A_kept_suspension_ends_no_later_than_the_longest_period_from_the_restart()
    {
        var mesh = NewMesh();
        var credential = mesh.Register(Registration("a"), null).Credential!;
        NodeBindings.Save(File, mesh.Bindings().Kept);
        var forever = new KeptStanding(0.5, _time.GetUtcNow().ToUnixTimeMilliseconds(),
            [new KeptSuspension(Echo, 1, _time.GetUtcNow().AddYears(10).ToUnixTimeMilliseconds(), 4, true, Verdict.AnswerDisagrees)]);
        var kept = NodeBindings.Load(File, 256);
        NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = forever }] });
        var restarted = NewMesh();
        Assert.Equal(1, restarted.Restore(NodeBindings.Load(File, 256)));
        var suspension = Assert.Single(restarted.Bindings().Kept.Nodes![0].Standing!.Suspensions!);
        Assert.Equal(_time.GetUtcNow().Add(new GatewayOptions().MaxSuspension).ToUnixTimeMilliseconds(), suspension.Until);
        Assert.Equal(NodeAuth.Ok, restarted.Heartbeat(new NodeHeartbeat("a", [Ready(5)]), credential, out _));
        Assert.Empty(Routable(restarted));
    }

    /// <summary>Polls (real time, at most 10 s) until <paramref name="done"/> holds: the writer runs on its own.</summary>
    private static async Task Until(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    /// <summary>What the file holds now (none before the first write); a write moves a whole file into place, so never half of one.</summary>
    private KeptBindings Written() => NodeBindings.Load(File, 256);

    /// <summary>
    /// The writer on its own clock: the first tick writes, a change is written at the next tick (within
    /// NodeBindingsWriteDelay), and what only the times changed waits for NodeBindingsRefresh, to the second.
    /// </summary>
    [Fact]
    public async Task The_writer_writes_a_change_at_the_next_tick_and_the_times_at_each_refresh()
    {
        var mesh = NewMesh();
        var credentialA = mesh.Register(Registration("a"), null).Credential!;
        var options = new GatewayOptions();
        var writer = new NodeBindingsWriter(File, mesh, options, _time, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = writer.RunAsync(stop.Token);
        var start = _time.GetUtcNow();

        _time.Advance(options.NodeBindingsWriteDelay);
        await Until(() => Written().Nodes is [{ Registration.NodeId: "a" }], "the first tick wrote nothing");
        // A registration is written at the next tick, not at the refresh 30 s on.
        mesh.Register(Registration("b"), null);
        _time.Advance(options.NodeBindingsWriteDelay);
        await Until(() => Written().Nodes is { Count: 2 }, "a registration was not written at the next tick");
        var writtenAt = _time.GetUtcNow();

        // A heartbeat changes only "a"'s time: written when the refresh is due, at 30 s after the last write.
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("a", []), credentialA, out _));
        var seen = _time.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.Equal(start.ToUnixTimeMilliseconds(), Written().Nodes!.Single(n => n.Registration.NodeId == "a").LastSeen);
        // Not at the next tick (what the writer would have written by now is not there; this cannot fail wrongly).
        _time.Advance(options.NodeBindingsWriteDelay);
        await Task.Delay(200);
        Assert.Equal(start.ToUnixTimeMilliseconds(), Written().Nodes!.Single(n => n.Registration.NodeId == "a").LastSeen);
        while (_time.GetUtcNow() - writtenAt < options.NodeBindingsRefresh) _time.Advance(options.NodeBindingsWriteDelay);
        Assert.Equal(writtenAt + options.NodeBindingsRefresh, _time.GetUtcNow());
        await Until(() => Written().Nodes?.Single(n => n.Registration.NodeId == "a").LastSeen == seen, "the times were not written at the refresh");

        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>A write that fails (a full disk, a path that cannot be made) is false and logged once, and the next that works says so.</summary>
    [Fact]
    public void A_failed_write_is_logged_once_and_the_write_that_works_again_says_so()
    {
        var mesh = NewMesh();
        mesh.Register(Registration("a"), null);
        var logs = new CapturingLoggerProvider();
        Directory.CreateDirectory(_dir);
        var blocker = Path.Combine(_dir, "gateway");
        System.IO.File.WriteAllText(blocker, "a file where the directory goes");
        var writer = new NodeBindingsWriter(File, mesh, new GatewayOptions(), _time, logs.CreateLogger("test"));
        Assert.False(writer.Write());
        Assert.Single(logs.Logs); // at the first failure
        Assert.False(writer.Write());
        var error = Assert.Single(logs.Logs);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains($"the node bindings cannot be written to {File}", error.Message, StringComparison.Ordinal);

        System.IO.File.Delete(blocker);
        Assert.True(writer.Write());
        Assert.Equal("a", Assert.Single(NodeBindings.Load(File, 256).Nodes!).Registration.NodeId);
        Assert.Equal(2, logs.Logs.Count);
        Assert.Equal($"the node bindings are written to {File} again", logs.Logs.Last().Message);
        Assert.True(writer.Write());
        Assert.Equal(2, logs.Logs.Count);
    }

    [Fact]
    public void A_file_that_is_a_directory_is_refused_with_IM6052()
    {
        Directory.CreateDirectory(File);
        var e = Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 256));
        Assert.Equal(MeshErrorCodes.NodeBindingsInvalid, e.Code);
    }

    /// <summary>What Restore takes back is bounded by this run as well as by the file: --max-nodes, the 10 minutes, one id per key.</summary>
    [Fact]
    public void Restore_keeps_max_nodes_the_last_ten_minutes_to_the_millisecond_and_one_id_per_key()
    {
        var before = NewMesh();
        before.Register(Registration("a"), null);
        before.Register(Registration("b"), null);
        before.Register(Registration("c"), null);
        var kept = before.Bindings().Kept;
        Assert.Equal(0, NewMesh().Restore(new KeptBindings(NodeBindings.Version, null, null)));
        // Handed over whole (not through Load, which keeps the most recently seen): this run's --max-nodes still holds.
        Assert.Equal(2, NewMesh(maxNodes: 2).Restore(kept));

        // Seen exactly ForgetOfflineNodesAfter ago: not forgotten yet, as a running gateway would not have.
        _time.Advance(new GatewayOptions().ForgetOfflineNodesAfter);
        Assert.Equal(3, NewMesh().Restore(kept));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, NewMesh().Restore(kept));

        // Two bindings with one key (a file Load would refuse): the second is not taken back.
        var key = _key.PublicKey.SubjectPublicKeyInfoBase64;
        var twice = kept with { Nodes = [.. kept.Nodes!.Select(b => b with { Key = key, LastSeen = _time.GetUtcNow().ToUnixTimeMilliseconds() })] };
        var mesh = NewMesh();
        Assert.Equal(1, mesh.Restore(twice));
        Assert.Single(mesh.Bindings().Kept.Nodes!);
    }

    [Fact]
    public void A_binding_keeps_its_labels_and_a_standing_without_suspensions_its_reputation()
    {
        var mesh = NewMesh();
        var labelled = Registration("a") with { Labels = new Dictionary<string, string> { ["region"] = "eu", ["gpu"] = "a100" } };
        Assert.Equal(Admission.Registered, mesh.Register(labelled, null).Outcome);
        NodeBindings.Save(File, mesh.Bindings().Kept);
        Assert.Equal(labelled.Labels, Assert.Single(NodeBindings.Load(File, 256).Nodes!).Registration.Labels);

        // A standing written by hand (or by a later gateway) with no suspensions list: a reputation alone.
        Directory.CreateDirectory(Path.GetDirectoryName(File)!);
        var at = _time.GetUtcNow().ToUnixTimeMilliseconds();
        System.IO.File.WriteAllText(File, System.IO.File.ReadAllText(File).Replace("\"standing\":null", $$"""
            "standing":{"reputation":0.5,"reputationAt":{{at}}}
            """, StringComparison.Ordinal));
        Assert.Contains("\"reputation\":0.5", System.IO.File.ReadAllText(File), StringComparison.Ordinal);
        var restarted = NewMesh();
        Assert.Equal(1, restarted.Restore(NodeBindings.Load(File, 256)));
        var reputation = ReputationOf(restarted, "a");
        Assert.Equal(0.5, reputation, 9);
    }

    /// <summary>Every standing value at its edge is taken: 64 suspensions, a key of 3 and of 512 characters, times and generation 0.</summary>
    [Fact]
    public void A_standing_at_its_edges_is_taken()
    {
        var mesh = NewMesh();
        mesh.Register(Registration("a"), null);
        var kept = mesh.Bindings().Kept;
        var longKey = new string('n', 510) + "@1";
        // 62 more at the longest key: the file's bound (MaxBytes) leaves room for a binding with every suspension it keeps.
        List<KeptSuspension> edges = [new("a@1", 1, 0, 0, false, null), new(longKey, 1, null, 0, true, Verdict.AnswerDisagrees),
            .. Enumerable.Range(0, 62).Select(i => new KeptSuspension($"{i:D2}{longKey[2..]}", int.MaxValue, long.MaxValue, long.MaxValue, true, Verdict.AnswerDisagrees))];
        Assert.Equal(NodeBindings.MaxSuspensionsKept, edges.Count);
        // And 8 lost spot checks at their longest: three answers' receipts at their bound, from nodes of the longest id.
        var receipt = new string('r', JobReceipts.MaxEncodedLength);
        var ids = Enumerable.Range(0, 3).Select(i => $"{i}{new string('i', RegistrationRules.MaxNodeIdLength - 1)}").ToList();
        List<KeptDisagreement> evidence = [new(0, "a@1", "r", new Dictionary<string, string?> { ["a"] = null }),
            .. Enumerable.Range(0, 7).Select(i => new KeptDisagreement(long.MaxValue, longKey, new string('q', JobReceipts.MaxRequestIdLength), ids.ToDictionary(id => id, string? (_) => receipt)))];
        Assert.Equal(MeshState.EvidencePerNode, evidence.Count);
        NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = new KeptStanding(1e-300, 0, edges, evidence) }] });
        var loaded = Assert.Single(NodeBindings.Load(File, 1).Nodes!).Standing!;
        Assert.Equal(64, loaded.Suspensions!.Count);
        Assert.Equal(8, loaded.Evidence!.Count);
        // As many forgotten keys' standings at the same edges beside as many bindings: read, and checked as a binding's.
        var edgy = new KeptStanding(1e-300, 0, edges, evidence);
        NodeBindings.Save(File, kept with
        {
            Nodes = [kept.Nodes![0] with { Standing = edgy }, kept.Nodes![0] with { Registration = Registration("b"), Standing = edgy }],
            Forgotten = [new(_key.PublicKey.Fingerprint, long.MaxValue, edgy), new(_other.PublicKey.Fingerprint, long.MaxValue, edgy)],
        });
        var both = NodeBindings.Load(File, 2);
        Assert.Equal((2, 2), (both.Nodes!.Count, both.Forgotten!.Count));
        Assert.All(both.Forgotten!, f => Assert.Equal((64, 8), (f.Standing.Suspensions!.Count, f.Standing.Evidence!.Count)));

        // One character more, "@" first, or a 65th: refused.
        foreach (var (wrong, why) in new (KeptSuspension, string)[]
                 {
                     (new KeptSuspension("n" + longKey, 1, null, 0, false, null), "names no model version"),
                     (new KeptSuspension("@12", 1, null, 0, false, null), "names no model version"),
                 })
        {
            NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = new KeptStanding(1, 0, [wrong]) }] });
            Assert.Contains(why, Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 1)).Message, StringComparison.Ordinal);
        }

        NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = new KeptStanding(1, 0, [.. edges, new("z@1", 1, null, 0, false, null)]) }] });
        Assert.Contains("it lists 65 suspensions", Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 1)).Message, StringComparison.Ordinal);

        // A receipt, a request id or a node id one character longer, a fourth answer or a ninth check: refused.
        var four = ids.Append("d").ToDictionary(id => id, string? (_) => null);
        foreach (var (wrong, why) in new (KeptDisagreement, string)[]
                 {
                     (evidence[1] with { Receipts = new Dictionary<string, string?> { ["a"] = receipt + "r" } }, $"node 'a''s receipt is {JobReceipts.MaxEncodedLength + 1} characters"),
                     (evidence[1] with { RequestId = new string('q', JobReceipts.MaxRequestIdLength + 1) }, "its request id is empty or longer than 128 characters"),
                     (evidence[1] with { Receipts = new Dictionary<string, string?> { ["x" + ids[0]] = null } }, "is not a node id"),
                     (evidence[1] with { Receipts = four }, "it holds 4 answers' receipts; a spot check compares at most 3"),
                     (evidence[1] with { Model = "n" + longKey }, "lost spot check 1 names no model version"),
                 })
        {
            NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = new KeptStanding(1, 0, null, [wrong]) }] });
            Assert.Contains(why, Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 1)).Message, StringComparison.Ordinal);
        }

        NodeBindings.Save(File, kept with { Nodes = [kept.Nodes![0] with { Standing = new KeptStanding(1, 0, null, [.. evidence, evidence[0]]) }] });
        Assert.Contains("it lists 9 lost spot checks; at most 8 are kept", Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 1)).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A node with more than 64 suspensions keeps the 64 that end latest (those running before those over), ties in
    /// name order; one more suspension drops the one over longest ago.
    /// </summary>
    [Fact]
    public void A_node_keeps_the_64_suspensions_that_end_latest()
    {
        var before = NewMesh();
        var credentials = ThreeReady(before);
        var end = _time.GetUtcNow().AddSeconds(10).ToUnixTimeMilliseconds();
        List<KeptSuspension> many = [new("a-old@1", 3, null, 0, false, null),
            .. Enumerable.Range(0, 63).Select(i => new KeptSuspension($"m@{62 - i:D2}", 1, end, 0, false, Verdict.OutputSchemaViolation))];
        var kept = before.Bindings().Kept;
        NodeBindings.Save(File, kept with { Nodes = [.. kept.Nodes!.Select(n => n.Registration.NodeId == "a" ? n with { Standing = new KeptStanding(0.9, 0, many) } : n)] });
        var mesh = NewMesh();
        Assert.Equal(3, mesh.Restore(NodeBindings.Load(File, 256)));
        var restored = mesh.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Suspensions!;
        Assert.Equal([.. Enumerable.Range(0, 63).Select(i => $"m@{i:D2}"), "a-old@1"], restored.Select(s => s.Model));

        // A 65th, running longer than the rest: the one over goes.
        BeatReady(mesh, credentials, 4);
        mesh.Disagreed("a", Echo, "echo", "req-1", new Dictionary<string, string?>());
        var after = mesh.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "a").Standing!.Suspensions!;
        Assert.Equal(64, after.Count);
        Assert.Equal(Echo, after[0].Model);
        Assert.DoesNotContain(after, s => s.Model == "a-old@1");
    }

    /// <summary>Keyed node <paramref name="id"/> on <paramref name="key"/>, ready, then losing a spot check (suspended, one receipt of evidence).</summary>
    private static void KeyedLiar(MeshState mesh, string id, SigningKey key, long signedAt)
    {
        var (outcome, credential) = mesh.Register(Registration(id, key.PublicKey), null, key.PublicKey, signedAt);
        Assert.Equal(Admission.Registered, outcome);
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [Ready(4)]), credential, out _));
        mesh.Disagreed(id, Echo, "echo", $"lie-of-{id}", new Dictionary<string, string?> { [id] = $"receipt-of-{id}" });
    }

    private static KeptSuspension EchoSuspension(KeptStanding standing) => Assert.Single(standing.Suspensions!, k => k.Model == Echo);

    /// <summary>
    /// The standing a forgotten keyed node leaves to its key outlives a restart, and so does that of a keyed binding
    /// the gateway would have forgotten while it was down; a node registering with the key, under any id, takes it.
    /// </summary>
    [Fact]
    public void A_forgotten_keys_standing_outlives_the_restart_and_one_forgotten_while_the_gateway_was_down_is_kept_too()
    {
        var before = NewMesh();
        ThreeReady(before);
        KeyedLiar(before, "k", _key, 10);
        var forgetAfter = new GatewayOptions().ForgetOfflineNodesAfter;
        _time.Advance(forgetAfter + TimeSpan.FromSeconds(4));
        var changes = before.BindingChanges;
        Assert.Equal(Admission.Registered, before.Register(Registration("d"), null).Outcome); // forgets a, b, c and k
        Assert.True(before.BindingChanges > changes);
        var forgotten = Assert.Single(before.Bindings().Kept.Forgotten!);
        Assert.Equal((_key.PublicKey.Fingerprint, _time.GetUtcNow().ToUnixTimeMilliseconds()), (forgotten.Key, forgotten.ForgottenAt));
        Assert.Equal(1, EchoSuspension(forgotten.Standing).Count);

        // Through the file: a node with the key, under a new id, takes the standing, and the key's entry goes.
        var mesh = Restart(before);
        Assert.Single(mesh.Bindings().Kept.Forgotten!);
        Assert.Equal(Admission.Registered, mesh.Register(Registration("k2", _key.PublicKey), null, _key.PublicKey, 11).Outcome);
        var kept = mesh.Bindings().Kept;
        Assert.Empty(kept.Forgotten!);
        var standing = kept.Nodes!.Single(n => n.Registration.NodeId == "k2").Standing!;
        Assert.Equal((1, "lie-of-k"), (EchoSuspension(standing).Count, Assert.Single(standing.Evidence!).RequestId));

        // A keyed binding whose node the gateway would have forgotten while it was down: not taken back, its standing
        // kept for its key from when it would have been forgotten.
        var other = NewMesh();
        ThreeReady(other);
        KeyedLiar(other, "o", _other, 10);
        var seen = _time.GetUtcNow();
        NodeBindings.Save(File, other.Bindings().Kept);
        _time.Advance(forgetAfter + TimeSpan.FromMinutes(5));
        var restarted = NewMesh();
        Assert.Equal(0, restarted.Restore(NodeBindings.Load(File, 256)));
        var left = Assert.Single(restarted.Bindings().Kept.Forgotten!);
        Assert.Equal((_other.PublicKey.Fingerprint, (seen + forgetAfter).ToUnixTimeMilliseconds()), (left.Key, left.ForgottenAt));
        Assert.Equal(Admission.Registered, restarted.Register(Registration("o2", _other.PublicKey), null, _other.PublicKey, 11).Outcome);
        Assert.Equal(1, EchoSuspension(restarted.Bindings().Kept.Nodes!.Single(n => n.Registration.NodeId == "o2").Standing!).Count);
    }

    /// <summary>
    /// What forgotten keys leave is bounded: at most --max-nodes standings, the longest forgotten going first, each for
    /// <see cref="MeshState.ForgottenStandingsKept"/>; a keyed node with only a fallen reputation against it leaves none.
    /// </summary>
    [Fact]
    public void Forgotten_keys_standings_are_at_most_max_nodes_and_kept_a_day()
    {
        var keys = Enumerable.Range(0, 3).Select(i => SigningKey.CreateEphemeral($"k{i}")).ToList();
        try
        {
            var mesh = NewMesh(maxNodes: 2);
            var forgetAfter = new GatewayOptions().ForgetOfflineNodesAfter;
            // k0 and k1 lied (suspended, a lost spot check each), k2 failed until suspended (no spot check lost), then a
            // keyed node whose reputation only fell: each forgotten in turn.
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                if (i < 2)
                {
                    KeyedLiar(mesh, $"k{i}", key, 10);
                }
                else
                {
                    var (_, failing) = mesh.Register(Registration($"k{i}", key.PublicKey), null, key.PublicKey, 10);
                    Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat($"k{i}", [Ready(4)]), failing, out _));
                    for (var f = 0; f < 3; f++) mesh.Settle(Echo, "echo", [($"k{i}", Verdict.OutputSchemaViolation)], answered: true);
                }

                _time.Advance(forgetAfter + TimeSpan.FromSeconds(4));
                Assert.Equal(Admission.Registered, mesh.Register(Registration($"x{i}"), null).Outcome);
            }

            var k2 = Assert.Single(mesh.Bindings().Kept.Forgotten!, f => f.Key == keys[2].PublicKey.Fingerprint).Standing;
            Assert.Equal((1, null), (EchoSuspension(k2).Count, k2.Evidence));

            // A keyed node whose reputation fell, but that was never suspended and lost no spot check, leaves nothing:
            // its reputation is whole again long before it is forgotten.
            var (_, credential) = mesh.Register(Registration("clean", _key.PublicKey), null, _key.PublicKey, 10);
            Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat("clean", [Ready(4)]), credential, out _));
            mesh.Settle(Echo, "echo", [("clean", Verdict.OutputSchemaViolation)], answered: true);
            Assert.True(ReputationOf(mesh, "clean") < 1);
            _time.Advance(forgetAfter + TimeSpan.FromSeconds(4));
            Assert.Equal(Admission.Registered, mesh.Register(Registration("y"), null).Outcome);
            Assert.Equal([keys[2].PublicKey.Fingerprint, keys[1].PublicKey.Fingerprint], mesh.Bindings().Kept.Forgotten!.Select(f => f.Key));

            // A day after it was forgotten a standing goes (k1's), and the one younger than that stays (k2's); at the
            // next registration, even one refused (an id held by an online node), which is a change to write.
            var k2At = DateTimeOffset.FromUnixTimeMilliseconds(mesh.Bindings().Kept.Forgotten![0].ForgottenAt);
            _time.Advance(k2At + MeshState.ForgottenStandingsKept - _time.GetUtcNow());
            Assert.Equal(Admission.Registered, mesh.Register(Registration("z"), null).Outcome);
            Assert.Equal([keys[2].PublicKey.Fingerprint], mesh.Bindings().Kept.Forgotten!.Select(f => f.Key));
            _time.Advance(TimeSpan.FromMilliseconds(1));
            var changes = mesh.BindingChanges;
            Assert.Equal(Admission.IdTaken, mesh.Register(Registration("z"), null).Outcome);
            Assert.Empty(mesh.Bindings().Kept.Forgotten!);
            Assert.True(mesh.BindingChanges > changes);
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    /// <summary>
    /// The forgotten keys' standings a file holds come back as far as they are still kept: the latest forgotten first,
    /// at most --max-nodes (when the file is read and when they are taken back), none forgotten more than a day ago (a
    /// day to the millisecond is kept).
    /// </summary>
    [Fact]
    public void Forgotten_keys_standings_are_taken_back_the_latest_first_within_max_nodes_and_the_day()
    {
        var keys = Enumerable.Range(0, 5).Select(i => SigningKey.CreateEphemeral($"f{i}")).ToList();
        try
        {
            var now = _time.GetUtcNow();
            var standing = new KeptStanding(0.5, now.ToUnixTimeMilliseconds(), [new KeptSuspension(Echo, 2, null, 4, true, Verdict.AnswerDisagrees)]);
            ForgottenStanding At(int key, DateTimeOffset at) => new(keys[key].PublicKey.Fingerprint, at.ToUnixTimeMilliseconds(), standing);
            // In no order: f3 a day ago to the millisecond, f0 an hour ago, f4 a day and a millisecond ago, f1 two hours
            // ago, f2 in 1970.
            NodeBindings.Save(File, new KeptBindings(NodeBindings.Version, null, [],
                [At(3, now - MeshState.ForgottenStandingsKept), At(0, now.AddHours(-1)), At(4, now - MeshState.ForgottenStandingsKept - TimeSpan.FromMilliseconds(1)),
                 At(1, now.AddHours(-2)), At(2, DateTimeOffset.UnixEpoch)]));
            string[] Names(MeshState mesh) => [.. mesh.Bindings().Kept.Forgotten!.Select(f => $"f{keys.FindIndex(k => k.PublicKey.Fingerprint == f.Key)}")];

            var all = NewMesh();
            Assert.Equal(0, all.Restore(NodeBindings.Load(File, 256)));
            Assert.Equal(["f0", "f1", "f3"], Names(all));
            var few = NewMesh(maxNodes: 2);
            Assert.Equal(0, few.Restore(NodeBindings.Load(File, 256)));
            Assert.Equal(["f0", "f1"], Names(few));
            Assert.Equal(["f0", "f1"], NodeBindings.Load(File, 2).Forgotten!.Select(f => $"f{keys.FindIndex(k => k.PublicKey.Fingerprint == f.Key)}"));
        }
        finally
        {
            foreach (var k in keys) k.Dispose();
        }
    }

    public static TheoryData<string, string> Damaged() => new()
    {
        { """{"version":1,"nodes":[],"forgotten":[{"key":"sha256:00","forgottenAt":1,"standing":{"reputation":1,"reputationAt":1}}]}""", "forgotten key 1 names no key fingerprint" },
        { """{"version":1,"nodes":[],"forgotten":[null]}""", "forgotten key 1 names no key fingerprint" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","key":"KEY"}],"forgotten":[{"key":"FINGERPRINT","forgottenAt":1,"standing":{"reputation":1,"reputationAt":1}}]}""", "forgotten key 1: key sha256:" },
        { """{"version":1,"nodes":[],"forgotten":[{"key":"FINGERPRINT","forgottenAt":1,"standing":{"reputation":1,"reputationAt":1}},{"key":"FINGERPRINT","forgottenAt":2,"standing":{"reputation":1,"reputationAt":1}}]}""", "forgotten key 2: key sha256:" },
        { """{"version":1,"nodes":[],"forgotten":[{"key":"FINGERPRINT","forgottenAt":-1,"standing":{"reputation":1,"reputationAt":1}}]}""", "): its time is before 1970" },
        { """{"version":1,"nodes":[],"forgotten":[{"key":"FINGERPRINT","forgottenAt":1}]}""", "): it has no standing" },
        { """{"version":1,"nodes":[],"forgotten":[{"key":"FINGERPRINT","forgottenAt":1,"standing":{"reputation":0,"reputationAt":1}}]}""", "): its standing: reputation 0 is not in (0, 1]" },
        { "not json", "it is not a bindings document" },
        { """{"version":2,"nodes":[]}""", "it is format 2; this gateway reads 1" },
        { """{"version":1}""", "it holds no bindings list" },
        { """{"version":1,"nodes":[{"credential":"CRED"}]}""", "binding 1 has no registration or no credential" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"short"}]}""", "binding 1 (node 'a'): its credential is not one a gateway issues" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED"},{"registration":REG_A,"credential":"CRED"}]}""", "binding 2: node 'a' is bound twice" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","key":"KEY"},{"registration":REG_B,"credential":"CRED","key":"KEY"}]}""", "binding 2 (node 'b'): key sha256:" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","key":"AAAA"}]}""", "binding 1 (node 'a'): its key:" },
        { """{"version":1,"nodes":[{"registration":REG_BAD,"credential":"CRED"}]}""", "binding 1 (node 'A B'):" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":0,"reputationAt":1}}]}""", "binding 1 (node 'a'): its standing: reputation 0 is not in (0, 1]" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1.5,"reputationAt":1}}]}""", "its standing: reputation 1.5 is not in (0, 1]" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":-1}}]}""", "its standing: its reputation's time is before 1970" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"echo","count":1,"generation":0}]}}]}""", "its standing: suspension 1 names no model version" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"echo@","count":1,"generation":0}]}}]}""", "its standing: suspension 1 names no model version" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[null]}}]}""", "its standing: suspension 1 names no model version" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"e@1","count":1,"generation":0},{"model":"e@1","count":2,"generation":0}]}}]}""", "its standing: suspension 2: e@1 is listed twice" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"e@1","count":0,"generation":0}]}}]}""", "its standing: suspension 1 (e@1): it was suspended 0 times" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"e@1","count":1,"until":-5,"generation":0}]}}]}""", "its standing: suspension 1 (e@1): a time or generation is negative" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":[{"model":"e@1","count":1,"generation":-1}]}}]}""", "its standing: suspension 1 (e@1): a time or generation is negative" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"suspensions":SIXTY_FIVE}}]}""", "its standing: it lists 65 suspensions; at most 64 are kept" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[null]}}]}""", "its standing: lost spot check 1 names no model version" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":1,"model":"echo","requestId":"r","receipts":{"a":null}}]}}]}""", "its standing: lost spot check 1 names no model version" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":-1,"model":"e@1","requestId":"r","receipts":{"a":null}}]}}]}""", "its standing: lost spot check 1 (e@1): its time is before 1970" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":1,"model":"e@1","requestId":"","receipts":{"a":null}}]}}]}""", "its standing: lost spot check 1 (e@1): its request id is empty" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":1,"model":"e@1","receipts":{"a":null}}]}}]}""", "its standing: lost spot check 1 (e@1): its request id is empty" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":1,"model":"e@1","requestId":"r"}]}}]}""", "its standing: lost spot check 1 (e@1): it has no list of receipts" },
        { """{"version":1,"nodes":[{"registration":REG_A,"credential":"CRED","standing":{"reputation":1,"reputationAt":1,"evidence":[{"at":1,"model":"e@1","requestId":"r","receipts":{"A B":null}}]}}]}""", "its standing: lost spot check 1 (e@1): 'A B' is not a node id" },
    };

    [Theory]
    [MemberData(nameof(Damaged))]
    public void A_damaged_file_is_refused_whole_with_IM6052_naming_the_file_and_what_is_wrong(string text, string why)
    {
        string Reg(string id) => System.Text.Json.JsonSerializer.Serialize(Registration(id), MeshJson.Options);
        Directory.CreateDirectory(Path.GetDirectoryName(File)!);
        System.IO.File.WriteAllText(File, text.Replace("REG_A", Reg("a"), StringComparison.Ordinal).Replace("REG_BAD", Reg("A B"), StringComparison.Ordinal)
            .Replace("REG_B", Reg("b"), StringComparison.Ordinal).Replace("CRED", MeshToken.Create(), StringComparison.Ordinal)
            .Replace("KEY", _key.PublicKey.SubjectPublicKeyInfoBase64, StringComparison.Ordinal)
            .Replace("FINGERPRINT", _key.PublicKey.Fingerprint, StringComparison.Ordinal)
            .Replace("SIXTY_FIVE", "[" + string.Join(",", Enumerable.Range(0, 65).Select(i => $$"""{"model":"e@{{i}}","count":1,"generation":0}""")) + "]", StringComparison.Ordinal));
        var e = Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 256));
        Assert.Equal(MeshErrorCodes.NodeBindingsInvalid, e.Code);
        Assert.StartsWith($"the gateway's node bindings {File} cannot be read: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_file_is_read_only_up_to_what_max_nodes_bindings_can_take_and_only_max_nodes_are_kept()
    {
        var mesh = NewMesh();
        foreach (var id in new[] { "a", "b", "c" })
        {
            mesh.Register(Registration(id), null);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        NodeBindings.Save(File, mesh.Bindings().Kept);
        // A gateway started with a lower --max-nodes keeps the most recently seen.
        Assert.Equal(["c", "b"], NodeBindings.Load(File, 2).Nodes!.Select(b => b.Registration.NodeId));

        // The bound, at its value and one past it.
        var max = NodeBindings.MaxBytes(1);
        var empty = System.Text.Encoding.UTF8.GetBytes("""{"version":1,"nodes":[]}""");
        System.IO.File.WriteAllBytes(File, [.. empty, .. Enumerable.Repeat((byte)' ', (int)max - empty.Length)]);
        Assert.Empty(NodeBindings.Load(File, 1).Nodes!);
        System.IO.File.AppendAllText(File, " ");
        var e = Assert.Throws<InfraMindException>(() => NodeBindings.Load(File, 1));
        Assert.Equal(MeshErrorCodes.NodeBindingsInvalid, e.Code);
        Assert.Contains($"it holds {max + 1} bytes, more than the {max} that 1 nodes' bindings can take", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Over real sockets: a gateway that kept its bindings stops and starts again on its port. The keyed node's id is
    /// still its key's and the keyless node's still its credential's; both go on with no step of their own but
    /// what they did before (a heartbeat, a registration). Without the file, the same stranger takes the id.
    /// </summary>
    [Fact]
    public async Task A_gateway_restarted_on_its_file_keeps_every_id_for_its_node_over_real_sockets()
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        var token = MeshToken.Create();
        var options = new GatewayOptions { NodeToken = token, NodeBindingsFile = File, NodeBindingsWriteDelay = TimeSpan.FromMilliseconds(50) };
        var gateway = await GatewayHost.StartAsync(options, catalog, CancellationToken.None);
        var url = gateway.Url;
        await using var keyed = new FakeNode(url, token) { Key = _key };
        await using var keyless = new FakeNode(url, token);
        string credential;
        try
        {
            using (var r = await keyed.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using (var r = await keyless.RegisterAsync("n2")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            await keyless.ReadyAsync("n2");
            credential = keyed.Credential!;
            // n2 loses a spot check (alone on its version, it is not suspended: never more than half are): its reputation
            // falls, and only the write as the gateway stops keeps it (a reputation waits for the 30 s refresh).
            gateway.Mesh.Disagreed("n2", Echo, "echo", "req-1", new Dictionary<string, string?>());
            Assert.True(ReputationOf(gateway.Mesh, "n2") < 0.71);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        Assert.Equal(["n1", "n2"], NodeBindings.Load(File, 256).Nodes!.Select(b => b.Registration.NodeId).Order(StringComparer.Ordinal));
        gateway = await GatewayHost.StartAsync(options with { ListenUrl = $"http://127.0.0.1:{url.Port}" }, catalog, CancellationToken.None);
        try
        {
            Assert.Equal(url, gateway.Url);
            await using var impostor = new FakeNode(url, token) { Key = _other };
            using (var r = await impostor.RegisterAsync("n1"))
            {
                Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
                Assert.Equal(MeshErrorCodes.NodeKeyMismatch.Value, (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["code"]);
            }

            await using var stranger = new FakeNode(url, token);
            using (var r = await stranger.RegisterAsync("n2"))
            {
                Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
                Assert.Equal(MeshErrorCodes.NodeIdTaken.Value, (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["code"]);
            }

            // n2 beats as it did before the restart, with its credential, and is placed again, its reputation kept.
            await keyless.ReadyAsync("n2");
            Assert.Contains(gateway.Mesh.NodeSummaries(), n => n.Node == "n2" && n.Online);
            var reputation = ReputationOf(gateway.Mesh, "n2");
            Assert.True(reputation < 0.71, $"reputation {reputation}");
            Assert.Equal(1.0, ReputationOf(gateway.Mesh, "n1"));
            // n1 registers with its key and its credential is the one it had.
            using (var r = await keyed.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(credential, keyed.Credential);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        // The contrast: the same gateway without its file lets the first claimant take the id.
        System.IO.File.Delete(File);
        gateway = await GatewayHost.StartAsync(options with { NodeBindingsFile = null }, catalog, CancellationToken.None);
        try
        {
            await using var stranger = new FakeNode(gateway.Url, token);
            using var r = await stranger.RegisterAsync("n2");
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        finally
        {
            await gateway.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_gateway_whose_file_is_damaged_does_not_start()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(File)!);
        await System.IO.File.WriteAllTextAsync(File, "{");
        var e = await Assert.ThrowsAsync<InfraMindException>(() => GatewayHost.StartAsync(new GatewayOptions { NodeBindingsFile = File }, new InMemoryModelCatalog(), CancellationToken.None));
        Assert.Equal(MeshErrorCodes.NodeBindingsInvalid, e.Code);
    }
}

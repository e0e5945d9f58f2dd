using InfraMind.Serving;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// Things that happen at once in the gateway's state, each race driven deterministically: the interleaving the race
/// needs is forced (a callback that runs inside the other operation, a barrier), not hoped for.
/// </summary>
public sealed class RaceTests
{
    private const string Key = "echo@1.0.0";
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(1);
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, string> _credentials = new(StringComparer.Ordinal);

    private MeshState NewMesh(GatewayOptions? options = null)
    {
        var mesh = new MeshState(options ?? new GatewayOptions { Replicas = 2 }, _time, new GatewayMetrics(), NullLogger.Instance);
        mesh.SetModels([MeshStateTests.Served()]);
        return mesh;
    }

    private void Join(MeshState mesh, string id)
    {
        var (outcome, credential) = mesh.Register(
            new NodeRegistration(id, new Uri($"http://127.0.0.1:1/{id}/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), Beat), null);
        Assert.Equal(Admission.Registered, outcome);
        _credentials[id] = credential!;
    }

    private void Ready(MeshState mesh, string id) =>
        Assert.Equal(NodeAuth.Ok, mesh.Heartbeat(new NodeHeartbeat(id, [new ModelReport("echo", "1.0.0", ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow())]),
            _credentials[id], out _));

    /// <summary>
    /// CheckLiveness marks nodes offline under the lock and cancels their attempts after it. A node whose heartbeat
    /// lands in between (late by a hair, as a node on a loaded host is) is online again with a fresh token: that
    /// fresh token must not be the one cancelled, or every later attempt on the node fails at once as "went offline"
    /// (connection-failed, re-routed, the node penalised) until it happens to go offline again.
    /// </summary>
    [Fact]
    public void A_node_back_online_while_its_going_offline_is_signalled_keeps_taking_jobs()
    {
        var mesh = NewMesh();
        Join(mesh, "a");
        Join(mesh, "b");
        Ready(mesh, "a");
        Ready(mesh, "b");
        _time.Advance(Beat * 3 + TimeSpan.FromMilliseconds(1));

        // Cancelling a's attempts runs their callbacks, outside the lock: b's heartbeat arrives right then.
        using var _ = mesh.GoneToken("a").Register(() => Ready(mesh, "b"));
        Assert.Equal(["a", "b"], mesh.CheckLiveness());

        Assert.True(mesh.GoneToken("a").IsCancellationRequested);
        Assert.False(mesh.GoneToken("b").IsCancellationRequested, "b is online again, but the token its next attempts are tied to is cancelled already");
        Assert.Equal("b", Assert.Single(mesh.Candidates(Key, new HashSet<string>())).NodeId);
    }

    /// <summary>
    /// The load count (in flight, which node choice weighs) belongs to the node record an attempt began on. When that
    /// node is forgotten and its id registers again while the attempt is still open, the attempt's end must not take
    /// one off the new record: its count would stay at −1, a node that looks emptier than idle for as long as it lives.
    /// </summary>
    [Fact]
    public void An_attempt_that_outlives_its_node_record_leaves_the_new_record_at_zero_in_flight()
    {
        var mesh = NewMesh(new GatewayOptions { Replicas = 2, ForgetOfflineNodesAfter = TimeSpan.FromSeconds(5) });
        Join(mesh, "a");
        Ready(mesh, "a");
        var attempt = mesh.Begin("a");
        Assert.Equal(1, Assert.Single(mesh.Candidates(Key, new HashSet<string>())).InFlight);

        // Offline long enough to be forgotten; another registration forgets it and the id registers anew.
        _time.Advance(TimeSpan.FromSeconds(6));
        Join(mesh, "other");
        Join(mesh, "a");
        Ready(mesh, "a");
        MeshState.End(attempt.Load);

        Assert.Equal(0, mesh.Candidates(Key, new HashSet<string>()).Single(c => c.NodeId == "a").InFlight);
    }
}

using InfraMind.Serving;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// A node's busy window ends early on a good answer from it for the version, to an attempt that began after the one
/// it refused (its gate admits oldest first: such a job got in after the refused one left, so the node has room);
/// not on the answer to an older attempt that arrives late, whose slot may be the one the refused job did not get.
/// The gateway's state on a <see cref="FakeTimeProvider"/> that never moves: every window below is still running by
/// the clock, so only the answers can end it. (BusyNodeTests has the end to end case on a real gateway.)
/// </summary>
public sealed class BusyClearTests
{
    private const string Key = "echo@1.0.0";
    private const string OtherKey = "echo@2.0.0";
    private readonly FakeTimeProvider _time = new();
    private readonly Dictionary<string, string> _credentials = new(StringComparer.Ordinal);
    private readonly MeshState _mesh;

    public BusyClearTests()
    {
        _mesh = new MeshState(new GatewayOptions { Replicas = 2 }, _time, new GatewayMetrics(), NullLogger.Instance);
        _mesh.SetModels([MeshStateTests.Served("1.0.0"), MeshStateTests.Served("2.0.0")]);
        foreach (var id in new[] { "a", "b" })
        {
            var (outcome, credential) = _mesh.Register(
                new NodeRegistration(id, new Uri($"http://127.0.0.1:1/{id}/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(1)), null);
            Assert.Equal(Admission.Registered, outcome);
            _credentials[id] = credential!;
            Assert.Equal(NodeAuth.Ok, _mesh.Heartbeat(new NodeHeartbeat(id, [Ready("1.0.0"), Ready("2.0.0")]), _credentials[id], out _));
        }
    }

    private ModelReport Ready(string version) => new("echo", version, ModelState.Ready, null, null, 1, 0, 0, _time.GetUtcNow());

    private bool Busy(string node, string key = Key) => _mesh.Candidates(key, new HashSet<string>()).Single(c => c.NodeId == node).Busy;

    /// <summary>What GET /inference/v1 shows as <paramref name="node"/>'s busyUntil for <paramref name="version"/>.</summary>
    private DateTimeOffset? BusyUntilShown(string node, string version = "1.0.0")
    {
        var described = System.Text.Json.JsonSerializer.SerializeToNode(_mesh.Describe(), MeshJson.Options)!;
        var v = described["models"]!.AsArray().Single()!["versions"]!.AsArray().Single(x => (string?)x!["version"] == version)!;
        return (DateTimeOffset?)v["nodes"]!.AsArray().Single(n => (string?)n!["node"] == node)!["busyUntil"];
    }

    [Fact]
    public void A_good_answer_to_an_attempt_begun_after_the_refused_one_ends_the_window_at_once()
    {
        var (_, refused) = _mesh.Begin("a");
        var (_, later) = _mesh.Begin("a"); // sent while the refused one waited at the node
        _mesh.RecordBusy("a", Key, TimeSpan.FromSeconds(5), refused);
        Assert.True(Busy("a"));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(5), BusyUntilShown("a"));

        _mesh.RecordSuccess("a", Key, "echo", 3, later);

        // 0 s of the 5 passed: only the answer ended it. Shown as over too.
        Assert.False(Busy("a"));
        Assert.Null(BusyUntilShown("a"));
    }

    [Fact]
    public void A_good_answer_to_an_attempt_begun_before_the_refused_one_leaves_the_window_even_when_it_arrives_after()
    {
        var (_, older) = _mesh.Begin("a");
        var (_, refused) = _mesh.Begin("a");
        _mesh.RecordBusy("a", Key, TimeSpan.FromSeconds(5), refused);
        _mesh.RecordSuccess("a", Key, "echo", 3, older);
        Assert.True(Busy("a"));
        Assert.NotNull(BusyUntilShown("a"));

        // Two refused out of order (the newer's answer first): only an attempt begun after both ends the window.
        var (_, between) = _mesh.Begin("a");
        var (_, newer) = _mesh.Begin("a");
        _mesh.RecordBusy("a", Key, null, newer);
        _mesh.RecordBusy("a", Key, null, refused);
        _mesh.RecordSuccess("a", Key, "echo", 3, between);
        Assert.True(Busy("a"));
        _mesh.RecordSuccess("a", Key, "echo", 3, _mesh.Begin("a").Number);
        Assert.False(Busy("a"));
    }

    /// <summary>A window is over at its end, for node choice and for the state document alike (not a tick later for one of them).</summary>
    [Fact]
    public void A_window_is_over_at_its_end_for_choice_and_view_alike()
    {
        _mesh.RecordBusy("a", Key, TimeSpan.FromSeconds(2), _mesh.Begin("a").Number);
        _time.Advance(TimeSpan.FromSeconds(2) - TimeSpan.FromTicks(1));
        Assert.True(Busy("a"));
        Assert.NotNull(BusyUntilShown("a"));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.False(Busy("a"));
        Assert.Null(BusyUntilShown("a"));
    }

    [Fact]
    public void A_good_answer_ends_only_that_nodes_window_for_that_version()
    {
        var (_, refusedA1) = _mesh.Begin("a");
        var (_, refusedA2) = _mesh.Begin("a");
        var (_, refusedB) = _mesh.Begin("b");
        _mesh.RecordBusy("a", Key, null, refusedA1);
        _mesh.RecordBusy("a", OtherKey, null, refusedA2);
        _mesh.RecordBusy("b", Key, null, refusedB);

        // a answered 1.0.0: its 2.0.0 window and b's 1.0.0 window still run.
        _mesh.RecordSuccess("a", Key, "echo", 3, _mesh.Begin("a").Number);
        Assert.False(Busy("a"));
        Assert.True(Busy("a", OtherKey));
        Assert.True(Busy("b"));
        Assert.NotNull(BusyUntilShown("a", "2.0.0"));
    }
}

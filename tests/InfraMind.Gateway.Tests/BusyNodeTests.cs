using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Routing;
using InfraMind.Serving;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// A node that answers busy (its container's JobGate is full: 503, verdict node-busy, Retry-After) is put behind the
/// nodes that did not, for the Retry-After it said (bounded), then gets traffic again; when every node is busy they are
/// all still tried. A real gateway on Kestrel whose clock is a <see cref="FakeTimeProvider"/> (so "within the window"
/// and "after it" are what the test says, not what a loaded machine's scheduler makes of them), and two
/// <see cref="FakeNode"/>s over real sockets.
/// </summary>
public sealed class BusyNodeTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private GatewayHost _gateway = null!;
    private FakeNode _a = null!;
    private FakeNode _b = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        // RetryAfter 7 s: the gateway's own 503s say it, a busy model's does not (JobGate.RetryAfter, as its nodes say).
        _gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 2, MaxAttempts = 2, RetryAfter = TimeSpan.FromSeconds(7) },
            _catalog, _time, null, CancellationToken.None);
        _http.BaseAddress = _gateway.Url;
        _a = await JoinAsync("a");
        _b = await JoinAsync("b");
    }

    private async Task<FakeNode> JoinAsync(string id)
    {
        var node = new FakeNode(_gateway.Url, _token);
        using (var r = await node.RegisterAsync(id)) r.EnsureSuccessStatusCode();
        await node.ReadyAsync(id);
        return node;
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    public void Dispose() => _http.Dispose();

    /// <summary>A node's busy answer, as a node's job API writes it (NodeAgent.Jobs): 503, its verdict, and a Retry-After when given.</summary>
    private static Func<Stream, CancellationToken, Task> Busy(string? retryAfter) => async (s, ct) =>
    {
        var body = Encoding.UTF8.GetBytes($$"""{"verdict":"node-busy","code":"{{MeshErrorCodes.NodeBusy.Value}}","detail":"full"}""");
        var after = retryAfter is null ? "" : $"Retry-After: {retryAfter}\r\n";
        await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 503 X\r\nContent-Type: application/json\r\n{MeshHeaders.Verdict}: node-busy\r\n{after}Content-Length: {body.Length}\r\n\r\n"), ct);
        await s.WriteAsync(body, ct);
    };

    /// <summary>A good answer 20 ms late: a node measured slower than one not measured yet, which a choice by cost alone prefers.</summary>
    private static async Task SlowOk(Stream s, CancellationToken ct)
    {
        await Task.Delay(20, ct);
        await FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
    }

    private async Task<(HttpStatusCode Status, string? Node, string? RetryAfter, JsonObject Body)> InferAsync()
    {
        using var content = new StringContent("""{"text": "hi"}""", Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        var node = r.Headers.TryGetValues(MeshHeaders.Node, out var n) ? n.Single() : null;
        var after = r.Headers.TryGetValues("Retry-After", out var ra) ? ra.Single() : null;
        return (r.StatusCode, node, after, JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task A_node_that_said_busy_gets_no_request_for_the_retry_after_it_said_then_traffic_again()
    {
        _a.Answer = Busy("3");
        _b.Answer = SlowOk;
        // Until a request met a's busy answer (a first pick is a coin toss between two unmeasured nodes): b answered it.
        for (var i = 0; i < 20 && _a.Jobs.IsEmpty; i++)
        {
            var (status, node, _, _) = await InferAsync();
            Assert.Equal((HttpStatusCode.OK, "b"), (status, node));
        }

        Assert.Single(_a.Jobs);
        // a has room again, but said 3 s: not measured and so cheaper than b, it is still put behind b for 3 s. Every
        // request answered by b on its first attempt; a sent nothing (before, each went to a first: cheaper by cost).
        _a.Answer = (s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
        var bBefore = _b.Jobs.Count;
        var busySince = _time.GetUtcNow();
        // Shown while it lasts (GET /inference/v1), and it is no suspension.
        var standing = await StandingOfAsync("a");
        Assert.Equal(busySince + TimeSpan.FromSeconds(3), (DateTimeOffset)standing["busyUntil"]!);
        Assert.False((bool)standing["suspended"]!);
        foreach (var step in new[] { 0, 1.5, 1.4 }) // at 0, 1.5 and 2.9 s of the 3
        {
            _time.Advance(TimeSpan.FromSeconds(step));
            for (var i = 0; i < 4; i++)
            {
                var (status, node, _, _) = await InferAsync();
                Assert.Equal((HttpStatusCode.OK, "b"), (status, node));
            }
        }

        Assert.Single(_a.Jobs);
        Assert.Equal(bBefore + 12, _b.Jobs.Count);

        // After the window (3 s since the busy answer): a is chosen again (the cheaper of the two), and answers.
        _time.Advance(TimeSpan.FromSeconds(0.2));
        var (s1, n1, _, _) = await InferAsync();
        Assert.Equal((HttpStatusCode.OK, "a"), (s1, n1));
        Assert.Equal(2, _a.Jobs.Count);

        // Held against no one: a's reputation is untouched, it was never suspended, and its window is over.
        standing = await StandingOfAsync("a");
        Assert.Null(standing["busyUntil"]);
        Assert.Equal(0, (int)standing["suspensions"]!);
        var described = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!;
        Assert.Equal(1.0, (double)described["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "a")!["reputation"]!);
    }

    /// <summary>Node <paramref name="id"/>'s standing for echo 1.0.0 as GET /inference/v1 describes it.</summary>
    private async Task<JsonNode> StandingOfAsync(string id)
    {
        var described = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!;
        return described["models"]!.AsArray().Single()!["versions"]!.AsArray().Single()!["nodes"]!.AsArray().Single(n => (string?)n!["node"] == id)!;
    }

    [Theory]
    [InlineData(null)] // none: JobGate.RetryAfter (1 s), what a node says
    [InlineData("0")] // not a wait: the same
    [InlineData("Wed, 21 Oct 2099 07:28:00 GMT")] // a date: two clocks' business, not believed
    [InlineData("86400")] // a day: bounded to NodeChoice.MaxBusyWindow (5 s)
    public async Task A_busy_window_is_what_the_node_said_when_sane_else_one_second_and_never_more_than_five(string? said)
    {
        _a.Answer = Busy(said);
        _b.Answer = SlowOk;
        for (var i = 0; i < 20 && _a.Jobs.IsEmpty; i++) Assert.Equal(HttpStatusCode.OK, (await InferAsync()).Status);
        Assert.Single(_a.Jobs);
        _a.Answer = (s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
        var window = said == "86400" ? NodeChoice.MaxBusyWindow : JobGate.RetryAfter;
        _time.Advance(window - TimeSpan.FromMilliseconds(100));
        Assert.Equal("b", (await InferAsync()).Node);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal("a", (await InferAsync()).Node);
    }

    /// <summary>
    /// A good answer from a node inside its busy window, to a request sent after the busy answer, ends its window at
    /// once (not 2 s later): it has room. Before, it stayed behind the others until the clock said so, and here lost
    /// the next request to b, still busy by the clock but cheaper by cost.
    /// </summary>
    [Fact]
    public async Task A_good_answer_from_a_busy_node_ends_its_busy_window_at_once()
    {
        _a.Answer = Busy("2");
        _b.Answer = Busy("2");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await InferAsync()).Status);
        Assert.NotNull((await StandingOfAsync("a"))["busyUntil"]);

        // a has room again (and answers 20 ms late: the dearer of the two by cost); b is still full. Both are inside
        // their window: tried in either order, a answers.
        _a.Answer = SlowOk;
        var (status, node, _, _) = await InferAsync();
        Assert.Equal((HttpStatusCode.OK, "a"), (status, node));
        Assert.Null((await StandingOfAsync("a"))["busyUntil"]);
        Assert.NotNull((await StandingOfAsync("b"))["busyUntil"]);

        // No time passed: a is no longer behind b, b still is, so a takes the next request although b costs less
        // (not measured) and has room now too.
        _b.Answer = SlowOk;
        var jobs = _a.Jobs.Count;
        (status, node, _, _) = await InferAsync();
        Assert.Equal((HttpStatusCode.OK, "a"), (status, node));
        Assert.Equal(jobs + 1, _a.Jobs.Count);
    }

    [Fact]
    public async Task When_every_node_is_busy_they_are_still_tried_and_the_caller_is_told_the_nodes_retry_after()
    {
        _a.Answer = Busy("2");
        _b.Answer = Busy("2");
        var (status, _, retryAfter, problem) = await InferAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(MeshErrorCodes.NodeBusy.Value, (string?)problem["code"]);
        // The busy model's Retry-After is the nodes' (JobGate.RetryAfter), not the gateway's RetryAfter (7 s here).
        Assert.Equal(RetryAfterHeader.Format(JobGate.RetryAfter), retryAfter);
        Assert.Equal((1, 1), (_a.Jobs.Count, _b.Jobs.Count));

        // Both inside their window: behind no one, so both are tried again, never excluded.
        (status, _, _, _) = await InferAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal((2, 2), (_a.Jobs.Count, _b.Jobs.Count));

        // One has room again: it answers at once.
        _b.Answer = SlowOk;
        var (ok, node, _, _) = await InferAsync();
        Assert.Equal((HttpStatusCode.OK, "b"), (ok, node));
    }
}

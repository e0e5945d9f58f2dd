using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// Re-routing as a caller meets it: a failed attempt moves the request on to another node while MaxAttempts and the
/// retry budget allow, what the caller is told when no node answered, and an attempt on a node that goes offline ends
/// then, not at its time limit. A real gateway on Kestrel and <see cref="FakeNode"/>s over real sockets.
/// </summary>
public sealed class RetryTests : IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public RetryTests() => _catalog.Publish(MeshStateTests.Served("1.0.0").Published);

    public void Dispose() => _http.Dispose();

    /// <summary>A model's server error on a valid input: a failure.</summary>
    private static Task Broken(Stream s, CancellationToken ct) => FakeNode.WriteAsync(s, 500, """{"error":"boom"}""", ct);

    private async Task<GatewayHost> StartAsync(GatewayOptions options, TimeProvider? time = null) =>
        await GatewayHost.StartAsync(options with { NodeToken = _token }, _catalog, time ?? TimeProvider.System, null, CancellationToken.None);

    private async Task<FakeNode> JoinAsync(GatewayHost gateway, string id, Func<Stream, CancellationToken, Task> answer)
    {
        var node = new FakeNode(gateway.Url, _token) { Answer = answer };
        using (var r = await node.RegisterAsync(id)) r.EnsureSuccessStatusCode();
        await node.ReadyAsync(id);
        return node;
    }

    private async Task<(HttpStatusCode Status, string? Node, JsonObject Body)> InferAsync(GatewayHost gateway)
    {
        using var content = new StringContent("""{"text": "hi"}""", Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(new Uri(gateway.Url, "inference/v1/echo"), content);
        var node = r.Headers.TryGetValues(MeshHeaders.Node, out var n) ? n.Single() : null;
        return (r.StatusCode, node, JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject());
    }

    /// <summary>
    /// Every request adds its share (RetryRatio) to the retry budget: with no reserve and a share of one half, the first
    /// request's failure is not re-routed (half a retry saved), the second's is (a whole one).
    /// </summary>
    [Fact]
    public async Task Each_request_adds_its_share_to_the_retry_budget()
    {
        await using var gateway = await StartAsync(new GatewayOptions { Replicas = 2, RetryRatio = 0.5, RetryReserve = 0 });
        await using var a = await JoinAsync(gateway, "a", Broken);
        await using var b = await JoinAsync(gateway, "b", Broken);

        var (status, _, problem) = await InferAsync(gateway);
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Single(problem["attempts"]!.AsArray());
        Assert.Equal(1, a.Jobs.Count + b.Jobs.Count);

        (status, _, problem) = await InferAsync(gateway);
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal(2, problem["attempts"]!.AsArray().Count);
        Assert.Equal(3, a.Jobs.Count + b.Jobs.Count);
    }

    /// <summary>
    /// A request whose nodes were busy and failed (one of each) is a 502 with every attempt, not the busy model's 503:
    /// a failure is no load, and "retry after a second" would not help the caller.
    /// </summary>
    [Fact]
    public async Task A_request_one_node_was_busy_for_and_another_failed_is_a_502_with_both_attempts()
    {
        await using var gateway = await StartAsync(new GatewayOptions { Replicas = 2 });
        await using var a = await JoinAsync(gateway, "a", FakeNode.WriteBusyAsync);
        await using var b = await JoinAsync(gateway, "b", Broken);

        var (status, _, problem) = await InferAsync(gateway);
        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal(MeshErrorCodes.AllAttemptsFailed.Value, (string?)problem["code"]);
        Assert.Equal(["node-busy", "server-error-on-valid-input"], problem["attempts"]!.AsArray().Select(x => (string?)x!["verdict"]).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// An attempt in flight on a node found offline (no heartbeat for three intervals) ends at once: the request moves
    /// on to another node, rather than waiting out the attempt's time limit (30 s here). The gateway's clock is a
    /// <see cref="FakeTimeProvider"/>, so "offline" is what the test says; the attempt's limit is real time.
    /// </summary>
    [Fact]
    public async Task An_attempt_on_a_node_that_goes_offline_ends_then_and_the_request_moves_on()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartAsync(new GatewayOptions { Replicas = 2, AttemptTimeout = TimeSpan.FromSeconds(30) }, time);
        // a alone at first, so the request goes there; it never answers.
        await using var a = await JoinAsync(gateway, "a", (_, ct) => Task.Delay(Timeout.Infinite, ct));
        var clock = Stopwatch.StartNew();
        var request = InferAsync(gateway);
        for (var i = 0; i < 200 && a.Jobs.IsEmpty; i++) await Task.Delay(50);
        Assert.Single(a.Jobs);

        // b joins and keeps beating; a's last beat is 91 s old once the clock moves: offline (3 × 30 s).
        await using var b = await JoinAsync(gateway, "b", (s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct));
        time.Advance(TimeSpan.FromSeconds(60));
        await b.ReadyAsync("b");
        time.Advance(TimeSpan.FromSeconds(31));

        var (status, node, _) = await request;
        Assert.Equal((HttpStatusCode.OK, "b"), (status, node));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"answered after {clock.Elapsed.TotalSeconds:0.0} s: the attempt on the offline node ran to its time limit");
    }

    /// <summary>
    /// A good answer ends a node's busy window when its attempt began after the refused one, in the gateway's order of
    /// attempts (not the request's own count, which starts at 1 for every request): one node, busy for one request's
    /// first attempt, answers the next request's first attempt, and its window ends at once. The gateway's clock does
    /// not move (<see cref="FakeTimeProvider"/>), so only the answer can end it.
    /// </summary>
    [Fact]
    public async Task A_good_answer_to_a_later_requests_first_attempt_ends_the_busy_window()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartAsync(new GatewayOptions { Replicas = 1 }, time);
        await using var a = await JoinAsync(gateway, "a", FakeNode.WriteBusyAsync);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await InferAsync(gateway)).Status);
        Assert.NotNull(await BusyUntilAsync(gateway, "a"));

        a.Answer = (s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
        var (status, node, _) = await InferAsync(gateway);
        Assert.Equal((HttpStatusCode.OK, "a"), (status, node));
        Assert.Null(await BusyUntilAsync(gateway, "a"));
    }

    /// <summary>Node <paramref name="id"/>'s busyUntil for echo 1.0.0 as GET /inference/v1 shows it.</summary>
    private async Task<DateTimeOffset?> BusyUntilAsync(GatewayHost gateway, string id)
    {
        var described = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
        var nodes = described["models"]!.AsArray().Single()!["versions"]!.AsArray().Single()!["nodes"]!.AsArray();
        return (DateTimeOffset?)nodes.Single(n => (string?)n!["node"] == id)!["busyUntil"];
    }
}

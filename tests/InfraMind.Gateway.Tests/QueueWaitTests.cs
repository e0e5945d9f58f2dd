using System.Net;
using System.Text;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// How long a job may wait for a slot in its model's container at a node (<see cref="MeshHeaders.QueueWaitMs"/>): short
/// (<see cref="GatewayOptions.QueueWaitWithOthersLeft"/>) while the request has another node left to try, so a full
/// container sends it on instead of holding it; half the attempt's time limit for its last choice, as every job waited
/// before. A real gateway on Kestrel and <see cref="FakeNode"/>s over real sockets that record what each job said.
/// </summary>
public sealed class QueueWaitTests : IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public QueueWaitTests() => _catalog.Publish(MeshStateTests.Served("1.0.0").Published);

    public void Dispose() => _http.Dispose();

    private async Task<(GatewayHost Gateway, FakeNode[] Nodes)> StartAsync(GatewayOptions options, params string[] ids)
    {
        var gateway = await GatewayHost.StartAsync(options with { NodeToken = _token, Replicas = ids.Length }, _catalog, CancellationToken.None);
        var nodes = new List<FakeNode>();
        foreach (var id in ids)
        {
            var node = new FakeNode(gateway.Url, _token) { Answer = FakeNode.WriteBusyAsync };
            using (var r = await node.RegisterAsync(id)) r.EnsureSuccessStatusCode();
            await node.ReadyAsync(id);
            nodes.Add(node);
        }

        return (gateway, [.. nodes]);
    }

    private static async Task DisposeAsync(GatewayHost gateway, FakeNode[] nodes)
    {
        foreach (var n in nodes) await n.DisposeAsync();
        await gateway.DisposeAsync();
    }

    private async Task<HttpStatusCode> InferAsync(GatewayHost gateway)
    {
        using var content = new StringContent("""{"text": "hi"}""", Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(new Uri(gateway.Url, "inference/v1/echo"), content);
        return r.StatusCode;
    }

    /// <summary>Each node's one job's queue wait, in the order the gateway tried them.</summary>
    private static string Waits(FakeNode[] nodes) =>
        string.Join(' ', nodes.Select(n => Assert.Single(n.Jobs)).OrderBy(j => j.At).Select(j => j.QueueWaitMs ?? "(none)"));

    [Fact]
    public async Task Every_choice_but_the_last_may_wait_the_short_time_and_the_last_waits_half_the_attempt_limit()
    {
        // Three nodes, all full: the first two tried are told 300 ms, the third (no node left after it) 5000 (half of 10 s).
        var (gateway, nodes) = await StartAsync(new GatewayOptions { MaxAttempts = 3, AttemptTimeout = TimeSpan.FromSeconds(10), QueueWaitWithOthersLeft = TimeSpan.FromMilliseconds(300) },
            "a", "b", "c");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            Assert.Equal("300 300 5000", Waits(nodes));
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }
    }

    [Fact]
    public async Task The_last_of_max_attempts_waits_half_though_nodes_are_left()
    {
        // Three nodes but two attempts: the second is the last, whoever is left untried.
        var (gateway, nodes) = await StartAsync(new GatewayOptions { MaxAttempts = 2, AttemptTimeout = TimeSpan.FromSeconds(10) }, "a", "b", "c");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            var tried = nodes.Where(n => !n.Jobs.IsEmpty).ToArray();
            Assert.Equal(2, tried.Length);
            Assert.Equal($"{(long)new GatewayOptions().QueueWaitWithOthersLeft.TotalMilliseconds} 5000", Waits(tried));
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }
    }

    /// <summary>
    /// Two nodes and three attempts: the second node tried is the last one left, so it waits the half though the request
    /// has an attempt to spare (a short wait would only send it on to no one).
    /// </summary>
    [Fact]
    public async Task The_last_node_left_waits_half_though_attempts_are_left()
    {
        var (gateway, nodes) = await StartAsync(new GatewayOptions { MaxAttempts = 3, AttemptTimeout = TimeSpan.FromSeconds(10), QueueWaitWithOthersLeft = TimeSpan.FromMilliseconds(300) },
            "a", "b");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            Assert.Equal("300 5000", Waits(nodes));
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }
    }

    [Fact]
    public async Task With_no_retry_left_in_the_budget_the_first_choice_is_the_last_and_waits_half()
    {
        // No reserve and no share of traffic for retries: no request is ever re-routed, so no job is told to give up early.
        var (gateway, nodes) = await StartAsync(new GatewayOptions { AttemptTimeout = TimeSpan.FromSeconds(4), RetryRatio = 0, RetryReserve = 0 }, "a", "b");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            var job = Assert.Single(nodes.SelectMany(n => n.Jobs));
            Assert.Equal("2000", job.QueueWaitMs);
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }
    }

    [Fact]
    public async Task A_single_node_waits_half_and_a_short_wait_longer_than_the_half_is_the_half()
    {
        var (gateway, nodes) = await StartAsync(new GatewayOptions { AttemptTimeout = TimeSpan.FromSeconds(1), QueueWaitWithOthersLeft = TimeSpan.FromSeconds(3) }, "a");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            Assert.Equal("500", Assert.Single(nodes[0].Jobs).QueueWaitMs);
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }

        // And two nodes, the short wait above the half: the first choice is told the half too, never more.
        (gateway, nodes) = await StartAsync(new GatewayOptions { AttemptTimeout = TimeSpan.FromSeconds(1), QueueWaitWithOthersLeft = TimeSpan.FromSeconds(3) }, "a", "b");
        try
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await InferAsync(gateway));
            Assert.All(nodes, n => Assert.Equal("500", Assert.Single(n.Jobs).QueueWaitMs));
        }
        finally
        {
            await DisposeAsync(gateway, nodes);
        }
    }

    [Fact]
    public void A_negative_queue_wait_is_refused_with_how_to_fix_it()
    {
        Assert.Contains("the queue wait with other nodes left must be ≥ 0", new GatewayOptions { QueueWaitWithOthersLeft = TimeSpan.FromMilliseconds(-1) }.Validate());
        Assert.DoesNotContain(new GatewayOptions { QueueWaitWithOthersLeft = TimeSpan.Zero }.Validate(), e => e.Contains("queue wait", StringComparison.Ordinal));
    }
}

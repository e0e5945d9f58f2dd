using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// A node whose model container is full (its JobGate's slots taken by jobs another gateway sent, which this gateway's
/// own count does not see) is told by the gateway how long a job may wait there (<see cref="MeshHeaders.QueueWaitMs"/>):
/// briefly while another node is left to try, so the request goes on to an idle node instead of queuing half the time
/// limit behind the full one. Real gateway and node agents on Kestrel, real containers.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class QueueWaitTests
{
    [SkippableFact]
    public async Task A_full_container_sends_a_request_on_to_an_idle_node_at_once_and_a_job_without_a_queue_wait_waits_its_turn()
    {
        await using var mesh = await LocalMesh.StartAsync("mesh-queue-wait", new GatewayOptions { Replicas = 2, DirectToLocalContainers = false });
        // One job at a time per container: the second waits for the first. A job may take 20 s, so one without a queue
        // wait may wait 10 s (half of it) behind another, and n1 stays full for the two 4 s jobs below (~8 s): room for the
        // requests through the gateway on a loaded machine (with 1.5 s jobs, n1 was free again after ~3 s).
        foreach (var id in new[] { "n1", "n2" })
            await mesh.AddNodeAsync(id, "good", tune: o => o with { MaxJobsPerModel = 1, JobTimeout = TimeSpan.FromSeconds(20) });
        foreach (var id in new[] { "n1", "n2" }) await mesh.WaitForStateAsync(id, "ready", TimeSpan.FromSeconds(120));
        var n1 = mesh.Nodes["n1"];

        HttpRequestMessage Job(string text, string? queueWaitMs)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, new Uri(n1.Url, $"jobs/{mesh.Model}/{LocalMesh.Version}"))
            {
                Content = new StringContent($$"""{"text": "{{text}}"}""", Encoding.UTF8, "application/json"),
            };
            MeshToken.Authorize(request.Headers, n1.Agent.Credential);
            if (queueWaitMs is not null) request.Headers.TryAddWithoutValidation(MeshHeaders.QueueWaitMs, queueWaitMs);
            return request;
        }

        // n1's container is full: a job of 4 s running and a second (no queue wait: half the node's 20 s limit) waiting for it.
        using var first = Job("take-four-seconds", null);
        var running = mesh.Http.SendAsync(first);
        await LocalMesh.WaitUntilAsync("the first job on n1", TimeSpan.FromSeconds(10), () => Task.FromResult(n1.Agent.JobsInFlight == 1));
        using var second = Job("take-four-seconds", null);
        var waiting = mesh.Http.SendAsync(second);
        await LocalMesh.WaitUntilAsync("the second job on n1", TimeSpan.FromSeconds(10), () => Task.FromResult(n1.Agent.JobsInFlight == 2));

        // A job that may wait 100 ms is refused busy after them, before the model sees it; the one waiting still waits.
        using (var quick = Job("quick", "100"))
        using (var busy = await mesh.Http.SendAsync(quick))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(Verdict.NodeBusy.WireName, busy.Headers.GetValues(MeshHeaders.Verdict).Single());
            var detail = (string?)JsonNode.Parse(await busy.Content.ReadAsStringAsync())!["detail"];
            Assert.Contains("waited 100 ms", detail, StringComparison.Ordinal);
        }

        Assert.False(waiting.IsCompleted, "the job without a queue wait should still wait for n1's slot");

        // Through the gateway while n1 is full: n1 (when tried first) is told the short wait since n2 is left, says busy,
        // and n2 answers. Before, a request tried on n1 first waited there up to half the node's limit (here 10 s).
        var rerouted = 0;
        for (var i = 0; i < 4; i++)
        {
            var clock = Stopwatch.StartNew();
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative),
                new StringContent($$"""{"text": "request {{i}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("n2", r.Headers.GetValues(MeshHeaders.Node).Single());
            if (r.Headers.GetValues(MeshHeaders.Attempts).Single() == "2") rerouted++;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"request {i} took {clock.Elapsed.TotalMilliseconds:0} ms: it waited in n1's queue");
        }

        // n1 was tried (an unmeasured node costs less than a measured one, so it is tried once n2 has answered) and passed on.
        Assert.True(rerouted >= 1, "no request was tried on the full n1 first");

        // The jobs that waited their turn are answered.
        using (var r = await running) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await waiting) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }
}

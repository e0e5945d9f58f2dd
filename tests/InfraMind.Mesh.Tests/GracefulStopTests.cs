using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// A node that stops on purpose leaves: its gateway sends it nothing new from the moment it says so, the job it was
/// running finishes, and nothing counts against its reputation. Before, the gateway kept sending it jobs until it
/// missed its heartbeats, each failing on a container already stopped (re-routed, the node penalised). Real gateway,
/// real nodes on Kestrel, real containers; the gateway reaches the nodes through their job APIs, as across hosts, or
/// (direct) straight to their containers, as `infra mesh up`'s gateway does with the nodes of its process: those jobs
/// the node counts too, so its stop waits for them before its containers go (before, the container stopped under them).
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class GracefulStopTests
{
    private static StringContent Json(string text) => new($$"""{"text": "{{text}}"}""", Encoding.UTF8, "application/json");

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_that_stops_on_purpose_finishes_its_job_gets_no_new_one_and_keeps_its_standing(bool direct)
    {
        // Two beats of 500 ms may be missed before a node counts as offline: 3 s without a word about the leave.
        await using var mesh = await LocalMesh.StartAsync(direct ? "mesh-leave-direct" : "mesh-leave", new GatewayOptions { Replicas = 2, DirectToLocalContainers = direct, MissedBeatsOffline = 6 });
        await mesh.AddNodeAsync("n1", "good");
        await mesh.AddNodeAsync("n2", "good");
        foreach (var n in new[] { "n1", "n2" }) await mesh.WaitForStateAsync(n, "ready", TimeSpan.FromSeconds(120));

        // A job that takes 1.5 s, on whichever node the gateway chose: that node stops while running it.
        var slow = mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), Json("take-a-second"));
        string? busy = null;
        await LocalMesh.WaitUntilAsync("the slow job to reach a node", TimeSpan.FromSeconds(10), () =>
            Task.FromResult((busy = mesh.Nodes.FirstOrDefault(n => n.Value.Agent.JobsInFlight > 0).Key) is not null));
        var other = busy == "n1" ? "n2" : "n1";
        var stopping = mesh.Nodes[busy!];
        mesh.Nodes.Remove(busy!);
        var stopped = stopping.DisposeAsync().AsTask();

        // Meanwhile every request is answered at its first attempt: by the other node once the gateway knows, and in
        // the moment before that by the leaving node, which still serves until its jobs are done.
        var answeredBy = new List<string>();
        async Task AskAsync(int i)
        {
            using var r = await mesh.Http.PostAsync(new Uri($"inference/v1/{mesh.Model}", UriKind.Relative), Json($"after {i}"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("1", r.Headers.GetValues(MeshHeaders.Attempts).Single());
            answeredBy.Add(r.Headers.GetValues(MeshHeaders.Node).Single());
        }

        for (var i = 0; i < 20; i++) await AskAsync(i);

        // The leave reaches the gateway once the node's heartbeat loops end: on a loaded machine that may come after the
        // 20 quick requests above. Once it has, the node is left and offline, and every request goes to the other node.
        JsonObject? info = null;
        await LocalMesh.WaitUntilAsync("the gateway to see the node leave", TimeSpan.FromSeconds(20), async () =>
            (bool)(info = await mesh.NodeInfoAsync(busy!))["left"]!);
        Assert.False((bool)info!["online"]!, info.ToJsonString());
        for (var i = 20; i < 25; i++) await AskAsync(i);
        Assert.All(answeredBy[20..], n => Assert.Equal(other, n));

        // The job in flight finished on the node that left, at its first attempt, before its container stopped.
        using (var answered = await slow)
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            Assert.Equal(busy, answered.Headers.GetValues(MeshHeaders.Node).Single());
            Assert.Equal("1", answered.Headers.GetValues(MeshHeaders.Attempts).Single());
        }

        await stopped.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1.0, (double)(await mesh.NodeInfoAsync(busy!))["reputation"]!);
        var metrics = await mesh.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.DoesNotContain(metrics.Split('\n'), l => l.StartsWith("inframind_gateway_attempts_total", StringComparison.Ordinal) && !l.Contains("outcome=\"ok\"", StringComparison.Ordinal));
    }
}

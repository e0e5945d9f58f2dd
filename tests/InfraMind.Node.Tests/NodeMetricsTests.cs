using System.Net;
using System.Text;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Node.Tests;

/// <summary>
/// What a node's /metrics names, against its real job API (Kestrel) and a real engine: only versions placed on it now.
/// The path of POST /jobs/{name}/{version} is the caller's, and the versions placed on a node come and go for as long as
/// it runs; a series per name either ever named would grow the registry, and every scrape, without end.
/// </summary>
public sealed class NodeMetricsTests
{
    private static ModelAssignment Echo()
    {
        var manifest = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes("""
            name: echo
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 1, memory: 64Mi, gpu: false}
            input_schema: {type: object}
            output_schema: {type: object}
            """)).Manifest!;
        return new ModelAssignment("echo", "1.0.0", manifest.ToJson(), "sha256:" + new string('0', 64), [], null);
    }

    [SkippableFact]
    public async Task Jobs_for_versions_the_node_does_not_run_and_versions_no_longer_placed_leave_no_series()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        // No gateway answers at port 9 (the node keeps trying); no package directory, so the placed version never gets an
        // image: it fails and restarts without any container, and its jobs are refused as not ready.
        var options = new NodeOptions
        {
            NodeId = "metrics", Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
            RestartBackoff = TimeSpan.FromMilliseconds(20),
        };
        await using var node = await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), CancellationToken.None);
        using var http = new HttpClient { BaseAddress = node.Url };
        await node.Agent.ApplyAsync(new HeartbeatReply([Echo()], []), CancellationToken.None);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(await ScrapeAsync(http)).Contains("inframind_node_container_restarts_total{model=\"echo@1.0.0\"}", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "the placed version never restarted");
            await Task.Delay(20);
        }

        // A stranger's jobs: a name per request, none of them run here.
        for (var i = 0; i < 50; i++)
        {
            using var stranger = await http.PostAsync($"jobs/made-up-{i}/1.0.{i}", new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stranger.StatusCode);
        }

        using (var placed = await http.PostAsync("jobs/echo/1.0.0", new StringContent("{}", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, placed.StatusCode);
        var scrape = await ScrapeAsync(http);
        Assert.DoesNotContain("made-up", scrape, StringComparison.Ordinal);
        Assert.Equal(50, PrometheusText.Value(scrape, "inframind_node_jobs_total{model=\"(unknown)\",outcome=\"model-not-ready\"}"));
        Assert.Equal(1, PrometheusText.Value(scrape, "inframind_node_jobs_total{model=\"echo@1.0.0\",outcome=\"model-not-ready\"}"));

        // Withdrawn: every series that named the version goes with it.
        await node.Agent.ApplyAsync(new HeartbeatReply([], []), CancellationToken.None);
        Assert.DoesNotContain("echo@1.0.0", await ScrapeAsync(http), StringComparison.Ordinal);
        Assert.Empty(node.Agent.Reports());
    }

    private static async Task<string> ScrapeAsync(HttpClient http) => await http.GetStringAsync("metrics");
}

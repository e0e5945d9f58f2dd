using System.Net;
using InfraMind.Containers.Tests.Run;
using InfraMind.Testing;

namespace InfraMind.Containers.Tests;

/// <summary>
/// Podman's Docker-compatible API, for real. Podman 4.x ignores the bridge options an isolation made of firewall rules
/// would need, so runs were refused there (IM3009). With no network at all there is nothing to ignore: a run on Podman
/// gets the same isolation, proven the same way (only a loopback inside, reached through its namespace).
/// </summary>
public sealed class PodmanTests
{
    [SkippableFact]
    public async Task A_run_on_podman_has_no_network_and_is_reached_through_its_namespace()
    {
        await using var podman = await PodmanPeer.StartAsync();
        await PodmanPeer.ImportFromDockerAsync(TestEngine.BaseImage);
        using var engine = await ContainerEngine.ConnectAsync(podman.Endpoint, CancellationToken.None);
        var info = await engine.GetInfoAsync(CancellationToken.None);
        Assert.NotEmpty(info.ServerVersion);

        var label = new Dictionary<string, string> { ["org.inframind.test"] = Guid.NewGuid().ToString("N") };
        var spec = new ContainerSpec
        {
            Image = TestEngine.BaseImage,
            ContainerPort = 8000,
            MemoryBytes = 128L << 20,
            Command = ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"],
            Labels = label,
        };
        try
        {
            await using var run = await engine.RunAsync(spec, CancellationToken.None);
            Assert.True(run.Connector.IsOpen);
            Assert.Equal(["lo"], run.Connector.Interfaces);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!await run.ProbePortAsync(CancellationToken.None))
            {
                Assert.True(DateTime.UtcNow < deadline, "http.server never listened in the Podman container");
                await Task.Delay(50);
            }

            var (status, body) = await Http.GetAsync(run.Connector, "/");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Contains("Directory listing", body, StringComparison.Ordinal);
            var seen = await run.ExecAsync(["sh", "-c", "ls /sys/class/net; ulimit -n"], TimeSpan.FromSeconds(20), CancellationToken.None);
            Assert.Equal("lo\n4096\n", seen.Stdout);
        }
        finally
        {
            var left = await engine.PruneAsync(label, null, CancellationToken.None);
            Assert.Empty(left.Containers);
            Assert.Empty(left.Networks);
        }
    }
}

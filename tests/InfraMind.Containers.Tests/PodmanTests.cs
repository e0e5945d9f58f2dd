using InfraMind.Testing;

namespace InfraMind.Containers.Tests;

/// <summary>
/// Podman's Docker-compatible API, for real: it answers and builds, but Podman 4.x ignores the bridge options the
/// isolation policy depends on, so nothing may run there. The refusal must come before any container exists.
/// </summary>
public sealed class PodmanTests
{
    [SkippableFact]
    public async Task Podman_answers_but_a_run_is_refused_before_anything_starts()
    {
        await using var podman = await PodmanPeer.StartAsync();
        using var engine = await ContainerEngine.ConnectAsync(podman.Endpoint, CancellationToken.None);
        var info = await engine.GetInfoAsync(CancellationToken.None);
        Assert.NotEmpty(info.ServerVersion);

        var label = new Dictionary<string, string> { ["org.inframind.test"] = Guid.NewGuid().ToString("N") };
        var spec = new ContainerSpec { Image = "inframind-test/never-started:1", ContainerPort = 9000, Labels = label };
        var e = await Assert.ThrowsAsync<IsolationUnsupportedException>(() => engine.RunAsync(spec, CancellationToken.None));
        Assert.Equal(ContainerErrorCodes.IsolationUnsupported, e.Code);
        Assert.DoesNotContain("IM3009", e.Message, StringComparison.Ordinal);
        Assert.Contains("com.docker.network.bridge", e.Message, StringComparison.Ordinal);
        Assert.Contains("Docker Engine", e.Message, StringComparison.Ordinal);

        var left = await engine.PruneAsync(label, null, CancellationToken.None);
        Assert.Empty(left.Containers);
        Assert.Empty(left.Networks);
    }
}

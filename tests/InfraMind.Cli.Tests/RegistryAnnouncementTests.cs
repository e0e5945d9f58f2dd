using System.Net;
using System.Net.Sockets;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Which registry a command of this home uses when another process announced one (run/registry.url): the announced one
/// while its process runs, even when it is slow to answer; the embedded one once nothing listens there. A slow answer
/// used to read as "gone", and the command then opened the embedded registry whose log the announcing process holds
/// (seen in CI: `gateway serve` beside a just-started `registry serve` exited with an error under load).
/// </summary>
public sealed class RegistryAnnouncementTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task An_announced_registry_slow_to_answer_is_used_and_one_whose_process_is_gone_is_not()
    {
        var context = _cli.Context();
        // A process that takes the connection and has not answered within the probe's time (a listener that never accepts).
        using var slow = new TcpListener(IPAddress.Loopback, 0);
        slow.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)slow.LocalEndpoint).Port}/";
        RegistryAccess.Announce(context.Home, new Uri(url));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var handle = await RegistryAccess.OpenAsync(context, null, null, CancellationToken.None))
        {
            Assert.False(handle.Embedded);
            Assert.True(handle.OfThisHome);
            Assert.Equal(url, handle.Location);
        }

        Assert.True(clock.Elapsed >= RegistryAccess.AnnouncedProbeTimeout * 0.9, $"the probe did not wait: {clock.Elapsed}");

        // Its process gone (nothing listens at the address): the embedded registry, at once.
        slow.Stop();
        await using (var handle = await RegistryAccess.OpenAsync(context, null, null, CancellationToken.None))
        {
            Assert.True(handle.Embedded);
        }
    }
}

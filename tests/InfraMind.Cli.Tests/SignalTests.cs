using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Ctrl-C and SIGTERM reach a serving command at any moment of its life. A SIGTERM sent as soon as a registry printed
/// its first line, before System.CommandLine had installed its handlers, was swallowed by ASP.NET Core's console
/// lifetime: the registry ran on (in CI, a test's registry was still there 60 s after SIGTERM). Each try here was a
/// hang before <see cref="TerminationSignals"/>; a few tries, as the moment is a race.
/// </summary>
public sealed class SignalTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData(15)]
    [InlineData(2)]
    public async Task A_signal_sent_the_moment_a_server_announces_itself_stops_it_cleanly(int signal)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var registry = Process.Start(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0"))!;
            var stderr = registry.StandardError.ReadToEndAsync();
            try
            {
                var line = await registry.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Contains("registry at", line, StringComparison.Ordinal);
                Assert.Equal(0, InfraProcess.Signal(registry.Id, signal));
                await registry.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                registry.Kill(entireProcessTree: true);
                Assert.Fail($"attempt {attempt}: the registry (PID {registry.Id}) still ran 30 s after signal {signal}; its stderr: {await stderr}");
            }

            // Stopped as for a later signal: exit 0, its announcement removed.
            Assert.True(registry.ExitCode == 0, $"exit {registry.ExitCode}: {await stderr}");
            Assert.False(File.Exists(Path.Combine(_cli.Home, "run", "registry.url")), "the registry's announcement outlived it");
        }
    }
}

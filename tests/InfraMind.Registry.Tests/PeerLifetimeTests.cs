using System.Diagnostics;

namespace InfraMind.Registry.Tests;

/// <summary>
/// The servers tests start (dev chains, the OCI registry, nginx, podman) end with the test host that started them,
/// even when it is killed outright and runs no dispose (PeerProcess.TiedTo). Before, a killed test host left its dev
/// chain running.
/// </summary>
public sealed class PeerLifetimeTests
{
    private static ProcessStartInfo Shell(string script)
    {
        var info = new ProcessStartInfo("sh") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        return info;
    }

    [Fact]
    public async Task A_peer_ends_when_its_host_is_killed()
    {
        // The host: a process of this test's own, ended outright as a hang timeout would end a test host.
        using var host = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
        using var tied = Process.Start(PeerProcess.TiedTo(Shell("echo $$; exec sleep 301"), host.Id))!;
        try
        {
            var peer = int.Parse((await tied.StandardOutput.ReadLineAsync())!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Directory.Exists($"/proc/{peer}"));
            await Task.Delay(700);
            Assert.False(tied.HasExited);

            host.Kill();
            await tied.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(Directory.Exists($"/proc/{peer}"), $"the peer {peer} outlived its host");
        }
        finally
        {
            if (!tied.HasExited) tied.Kill(entireProcessTree: true);
            if (!host.HasExited) host.Kill();
        }
    }

    [Fact]
    public async Task A_peer_that_exits_ends_its_shell_with_its_code_and_output()
    {
        // A peer that lost its port exits at once: PeerProcess sees that through the shell.
        using var tied = Process.Start(PeerProcess.TiedTo(Shell("echo listening; exit 3"), Environment.ProcessId))!;
        Assert.Equal("listening", (await tied.StandardOutput.ReadToEndAsync()).Trim());
        await tied.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, tied.ExitCode);
    }
}

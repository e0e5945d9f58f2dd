using System.Diagnostics;
using Xunit;

namespace InfraMind.Testing;

/// <summary>
/// The docker client, for tests that prove interop with what the real tools produce (`docker save`, `docker load`,
/// `docker import`) rather than going through InfraMind's own engine client.
/// </summary>
public static class DockerCli
{
    /// <summary>Returns when an engine answers `docker info`; otherwise fails or skips the test (<see cref="Peers.Missing"/>).</summary>
    public static void RequireEngine()
    {
        bool ok;
        try
        {
            ok = !string.IsNullOrWhiteSpace(Run(check: false, "info", "--format", "{{.ServerVersion}}"));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            ok = false;
        }

        if (!ok) throw Peers.Missing("no Docker engine answers 'docker info'", "run scripts/setup-engine.sh");
    }

    /// <summary>Returns when the engine has <paramref name="image"/>; otherwise fails or skips the test.</summary>
    public static void RequireImage(string image, string fix)
    {
        RequireEngine();
        if (string.IsNullOrWhiteSpace(Run(check: false, "images", "-q", image))) throw Peers.Missing($"the engine has no {image}", fix);
    }

    /// <summary>Runs docker and returns its exit code with stdout and stderr together, whatever the code.</summary>
    public static async Task<(int Code, string Output)> RunAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>Runs docker (classic builder); returns stdout, or "" on failure when <paramref name="check"/> is false.</summary>
    public static string Run(bool check, params string[] arguments)
    {
        var psi = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOCKER_BUILDKIT"] = "0";
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill();
            Assert.Fail($"docker {string.Join(' ', arguments)} timed out");
        }

        if (check && p.ExitCode != 0) Assert.Fail($"docker {string.Join(' ', arguments)} failed ({p.ExitCode}): {stderr.Result}");
        return p.ExitCode == 0 ? stdout : string.Empty;
    }
}

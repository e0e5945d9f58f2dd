using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>Runs the built `infra` executable as a separate process, as a user's shell would.</summary>
internal static class InfraProcess
{
    public static ProcessStartInfo StartInfo(string home, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "infra.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEngine.RepoRoot,
        };
        psi.Environment["INFRAMIND_HOME"] = home;
        psi.Environment["NO_COLOR"] = "1";
        return psi;
    }

    public static async Task<(int Code, string Out, string Err)> RunAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}

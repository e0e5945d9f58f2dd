using System.Diagnostics;

namespace InfraMind.Registry.Tests;

/// <summary>Runs the crash host child process, collects its acknowledgements, then kills it with SIGKILL.</summary>
internal static class CrashHost
{
    public static async Task<List<string[]>> RunAndKillAsync(int acknowledgements, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "InfraMind.Registry.CrashHost.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var child = Process.Start(start)!;
        var acked = new List<string[]>();
        var deadline = Stopwatch.StartNew();
        try
        {
            while (acked.Count < acknowledgements && deadline.Elapsed < TimeSpan.FromSeconds(90))
            {
                var line = await child.StandardOutput.ReadLineAsync();
                if (line is null)
                {
                    Assert.Fail("crash host exited early: " + await child.StandardError.ReadToEndAsync());
                }

                if (line.StartsWith("acked ", StringComparison.Ordinal))
                {
                    acked.Add(line.Split(' ')[1..]);
                }
            }
        }
        finally
        {
            child.Kill(); // SIGKILL on Unix: no finalizers, no WAL checkpoint, mid-transaction
            await child.WaitForExitAsync();
        }

        Assert.True(acked.Count >= acknowledgements, $"only {acked.Count} acknowledgements before the deadline");
        return acked;
    }
}

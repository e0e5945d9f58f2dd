using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Serving commands a test starts (`registry serve`, `gateway serve`, `node serve` with `--json`): each is read up to
/// the JSON object it prints once it is up, and all are stopped with SIGTERM, last started first, when the test ends
/// (each removes what it started).
/// </summary>
internal sealed class ServingProcesses : IAsyncDisposable
{
    private readonly List<Process> _started = [];

    /// <summary>Starts <paramref name="psi"/> and returns the JSON it printed once up (an indented object ending with a line holding only '}').</summary>
    public async Task<JsonElement> StartAsync(ProcessStartInfo psi)
    {
        var p = Process.Start(psi)!;
        _started.Add(p);
        var text = new System.Text.StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (await p.StandardOutput.ReadLineAsync(limit.Token) is { } line)
        {
            text.AppendLine(line);
            if (line == "}") return JsonDocument.Parse(text.ToString()).RootElement.Clone();
        }

        throw new Xunit.Sdk.XunitException($"{string.Join(' ', psi.ArgumentList.Skip(1).Take(2))} exited before it was up: {text}{await p.StandardError.ReadToEndAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Enumerable.Reverse(_started))
        {
            if (!p.HasExited) _ = Kill(p.Id, 15);
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            p.Dispose();
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

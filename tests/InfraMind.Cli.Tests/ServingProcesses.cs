using System.Diagnostics;
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

    /// <summary>
    /// Starts <paramref name="psi"/> and returns the JSON it printed once up (an indented object ending with a line
    /// holding only '}'); an error object instead fails the test with it and the command's stderr.
    /// </summary>
    public async Task<JsonElement> StartAsync(ProcessStartInfo psi)
    {
        var p = Process.Start(psi)!;
        _started.Add(p);
        var text = new System.Text.StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (await p.StandardOutput.ReadLineAsync(limit.Token) is { } line)
        {
            text.AppendLine(line);
            if (line != "}") continue;
            var up = JsonDocument.Parse(text.ToString()).RootElement.Clone();
            // A command that could not start prints its error object the same way: name it, with what it logged.
            if (up.TryGetProperty("error", out _))
            {
                var stderr = await p.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
                throw new Xunit.Sdk.XunitException($"{string.Join(' ', psi.ArgumentList.Skip(1).Take(2))} did not start: {text}{stderr}");
            }

            return up;
        }

        throw new Xunit.Sdk.XunitException($"{string.Join(' ', psi.ArgumentList.Skip(1).Take(2))} exited before it was up: {text}{await p.StandardError.ReadToEndAsync()}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Enumerable.Reverse(_started))
        {
            if (!p.HasExited) _ = InfraProcess.Signal(p.Id, 15);
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            p.Dispose();
        }
    }
}

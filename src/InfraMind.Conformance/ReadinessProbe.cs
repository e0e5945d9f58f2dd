using System.Diagnostics;
using InfraMind.Containers;

namespace InfraMind.Conformance;

/// <summary>
/// Polls a readiness check every 20 ms until it passes, the time runs out, or <c>stop</c> fires (the container exited).
/// The check itself is <see cref="Containers.RunningContainer.ProbePortAsync"/>: a connect that also waits out the
/// engine proxy's immediate close when nothing listens behind the published port.
/// </summary>
internal static class ReadinessProbe
{
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How long an accepted connection must stay open to count as reaching the model.</summary>
    public static TimeSpan Settle { get; } = TimeSpan.FromMilliseconds(15);

    /// <summary>
    /// A first success is confirmed once with a longer wait: on a loaded machine the proxy's close can come later than
    /// <see cref="Settle"/>, and a model that never listens must not pass as ready.
    /// </summary>
    public static TimeSpan ConfirmSettle { get; } = TimeSpan.FromMilliseconds(60);

    /// <summary>
    /// What a REST model's port is greeted with: a minimal request any HTTP server answers (often with 404 or 501),
    /// so a listening model is known at once instead of after the settle waits.
    /// </summary>
    public static ReadOnlyMemory<byte> HttpGreeting { get; } = "HEAD / HTTP/1.0\r\n\r\n"u8.ToArray();

    /// <param name="probe">Connects and waits up to the given settle time; says whether it was closed, stayed open, or answered.</param>
    public static async Task<bool> WaitAsync(Func<TimeSpan, CancellationToken, Task<PortProbe>> probe, TimeSpan timeout, CancellationToken stop, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stop.IsCancellationRequested) return false;
            var started = clock.Elapsed;
            var seen = await probe(Settle, cancellationToken);
            // An answer is proof; a silent open connection is confirmed once more with a longer wait.
            if (seen == PortProbe.Answered || (seen == PortProbe.Open && await probe(ConfirmSettle, cancellationToken) != PortProbe.Closed)) return true;
            var wait = PollInterval - (clock.Elapsed - started);
            if (wait <= TimeSpan.Zero) continue;
            try
            {
                await Task.Delay(wait, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return false;
            }
        }

        return false;
    }
}

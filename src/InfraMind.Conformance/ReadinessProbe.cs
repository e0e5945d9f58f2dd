using System.Diagnostics;

namespace InfraMind.Conformance;

/// <summary>
/// Polls a readiness check every 20 ms until it passes, the time runs out, or <c>stop</c> fires (the container exited).
/// The check itself is <see cref="Containers.RunningContainer.ProbePortAsync"/>: a connect that also waits out the
/// engine proxy's immediate close when nothing listens behind the published port.
/// </summary>
public static class ReadinessProbe
{
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How long an accepted connection must stay open to count as reaching the model.</summary>
    public static TimeSpan Settle { get; } = TimeSpan.FromMilliseconds(15);

    /// <summary>
    /// A first success is confirmed once with a longer wait: on a loaded machine the proxy's close can come later than
    /// <see cref="Settle"/>, and a model that never listens must not pass as ready.
    /// </summary>
    public static TimeSpan ConfirmSettle { get; } = TimeSpan.FromMilliseconds(60);

    /// <param name="probe">Connects and waits the given settle time; true when the connection reached a listener.</param>
    public static async Task<bool> WaitAsync(Func<TimeSpan, CancellationToken, Task<bool>> probe, TimeSpan timeout, CancellationToken stop, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stop.IsCancellationRequested) return false;
            var started = clock.Elapsed;
            if (await probe(Settle, cancellationToken) && await probe(ConfirmSettle, cancellationToken)) return true;
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

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

    public static async Task<bool> WaitAsync(Func<CancellationToken, Task<bool>> probe, TimeSpan timeout, CancellationToken stop, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stop.IsCancellationRequested) return false;
            var started = clock.Elapsed;
            if (await probe(cancellationToken)) return true;
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

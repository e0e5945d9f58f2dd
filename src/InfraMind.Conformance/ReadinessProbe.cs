using System.Diagnostics;

namespace InfraMind.Conformance;

/// <summary>
/// Polls a readiness check every 20 ms until it passes, the time runs out, or <c>stop</c> fires (the container exited).
/// The check is <see cref="Containers.RunningContainer.ProbePortAsync"/>: a connection made inside the container's
/// network namespace, where no proxy stands in between, so an accepted connection is a listening model.
/// </summary>
internal static class ReadinessProbe
{
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(20);

    /// <param name="probe">True when the port accepts a connection now.</param>
    public static async Task<bool> WaitAsync(Func<CancellationToken, Task<bool>> probe, TimeSpan timeout, CancellationToken stop, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stop.IsCancellationRequested) return false;
            var started = clock.Elapsed;
            // A model whose listen backlog is full never answers the SYN: the attempt must end with the budget.
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stop))
            {
                attempt.CancelAfter(timeout - started);
                try
                {
                    if (await probe(attempt.Token)) return true;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return false;
                }
            }

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

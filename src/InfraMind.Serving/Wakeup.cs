namespace InfraMind.Serving;

/// <summary>
/// A signal that wakes one loop soon (a catalog that changed, a node's early heartbeat): raised any number of times,
/// from any thread, it holds at most one wake-up, and raising it never throws. A SemaphoreSlim(0, 1) alone does not:
/// "if (CurrentCount == 0) Release()" from two threads at once releases twice, and the second throws
/// SemaphoreFullException into whoever raised it (a registry follower publishing, a job's handler).
/// </summary>
public sealed class Wakeup : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Wakes the waiter (now, or at its next wait); a wake-up already pending absorbs this one.</summary>
    public void Raise()
    {
        if (_signal.CurrentCount != 0) return;
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Another thread raised it between the check and the release: one wake-up is pending, as wanted.
        }
    }

    /// <summary>Completes once raised, taking the wake-up.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _signal.WaitAsync(cancellationToken);

    /// <summary>Completes with true once raised within <paramref name="timeout"/>, taking the wake-up.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();
}

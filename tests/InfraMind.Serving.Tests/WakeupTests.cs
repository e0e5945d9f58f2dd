namespace InfraMind.Serving.Tests;

/// <summary>
/// <see cref="Wakeup"/>: raised from many threads at once it never throws and holds one wake-up. Its predecessor,
/// "if (CurrentCount == 0) Release()" on a SemaphoreSlim(0, 1), threw SemaphoreFullException into a raiser whenever two
/// raised it together (the gateway's catalog-changed handler, a node's early heartbeat).
/// </summary>
public sealed class WakeupTests
{
    [Fact]
    public async Task Raised_by_many_threads_at_once_it_never_throws_and_holds_one_wake_up()
    {
        using var wakeup = new Wakeup();
        var woken = 0;
        using var stop = new CancellationTokenSource();
        // The waiter takes each wake-up as soon as it is there (a synchronous poll), so the count is back at 0 as often as
        // possible: the moment two raisers can both see 0.
        var waiter = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (wakeup.WaitAsync(TimeSpan.Zero, CancellationToken.None).GetAwaiter().GetResult()) Interlocked.Increment(ref woken);
            }
        }, TaskCreationOptions.LongRunning);

        // 8 threads × 50,000 raises each, started together (bounded: well under a second).
        using var start = new Barrier(8);
        var raisers = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 50_000; i++) wakeup.Raise();
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(raisers); // any SemaphoreFullException would surface here
        await Task.Delay(100);
        await stop.CancelAsync();
        await waiter;
        Assert.InRange(woken, 1, 8 * 50_000);

        // Raised twice with no one waiting: one wake-up, not two.
        wakeup.Raise();
        wakeup.Raise();
        Assert.True(await wakeup.WaitAsync(TimeSpan.Zero, CancellationToken.None));
        Assert.False(await wakeup.WaitAsync(TimeSpan.Zero, CancellationToken.None));
    }
}

namespace InfraMind.Serving.Tests;

/// <summary>The jobs one container takes at once (<see cref="JobGate"/>): a slot, a wait in order, a full queue and a wait that runs out are each what they say.</summary>
public sealed class JobGateTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Jobs_beyond_the_slots_wait_in_order_and_beyond_the_queue_are_busy_at_once()
    {
        using var gate = new JobGate(inFlight: 2, queued: 2);
        var (a, busyA) = await gate.EnterAsync(Long, CancellationToken.None);
        var (b, busyB) = await gate.EnterAsync(Long, CancellationToken.None);
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(busyA ?? busyB);

        var third = gate.EnterAsync(Long, CancellationToken.None).AsTask();
        var fourth = gate.EnterAsync(Long, CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.Equal(2, gate.Waiting);

        // The queue is full: refused without waiting, saying the bounds.
        var (none, busy) = await gate.EnterAsync(Long, CancellationToken.None);
        Assert.Null(none);
        Assert.Equal("the model's container has 2 jobs in flight and 2 waiting, the most its node takes", busy);

        // A slot freed goes to the oldest waiting job.
        a!.Dispose();
        var (c, _) = await third;
        Assert.NotNull(c);
        Assert.False(fourth.IsCompleted);
        b!.Dispose();
        var (d, _) = await fourth;
        Assert.NotNull(d);
        c!.Dispose();
        d!.Dispose();
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task A_wait_that_runs_out_is_busy_and_a_caller_that_leaves_is_cancelled()
    {
        using var gate = new JobGate(inFlight: 1, queued: 4);
        var (held, _) = await gate.EnterAsync(Long, CancellationToken.None);

        var (none, busy) = await gate.EnterAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.Null(none);
        Assert.Equal("the job waited 100 ms, the most it may, for one of the 1 jobs the model's container takes at once", busy);

        // No wait at all (a gateway with other nodes to try may ask for it): busy at once, the queue untouched.
        var (zero, zeroBusy) = await gate.EnterAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Null(zero);
        Assert.Equal("the job waited 0 ms, the most it may, for one of the 1 jobs the model's container takes at once", zeroBusy);
        Assert.Equal(0, gate.Waiting);

        using var leaving = new CancellationTokenSource();
        var waiting = gate.EnterAsync(Long, leaving.Token).AsTask();
        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        // Neither the wait that ran out nor the one cancelled holds a slot: the next job gets the one freed.
        held!.Dispose();
        var (next, nextBusy) = await gate.EnterAsync(TimeSpan.FromMilliseconds(100), CancellationToken.None);
        Assert.NotNull(next);
        Assert.Null(nextBusy);
        next!.Dispose();
    }

    [Fact]
    public void Bounds_are_checked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new JobGate(inFlight: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new JobGate(queued: -1));
    }
}

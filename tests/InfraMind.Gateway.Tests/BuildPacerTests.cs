using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The state documents' builds (<see cref="BuildPacer"/>): one at a time, and each after a pause three times as long as
/// the last took, so clients asking back to back cannot keep the mesh's lock held. The pacer's clock is a fake one
/// here: a build "takes" the time the test advances it by.
/// </summary>
public sealed class BuildPacerTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task A_build_waits_for_the_pause_after_the_last_three_times_as_long_as_it_took()
    {
        var pacer = new BuildPacer(_time);
        Assert.Equal(1, await pacer.RunAsync(() => Took(100, 1), CancellationToken.None));

        var second = pacer.RunAsync(() => Took(10, 2), CancellationToken.None);
        await Task.Delay(100);
        Assert.False(second.IsCompleted, "a build ran before the last one's pause began");
        _time.Advance(TimeSpan.FromMilliseconds(299));
        await Task.Delay(100);
        Assert.False(second.IsCompleted, "a build ran 299 ms after one of 100 ms");
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await second.WaitAsync(TimeSpan.FromSeconds(10)));

        // The pause follows the last build's own time: 10 ms, so 30 ms.
        var third = pacer.RunAsync(() => Took(0, 3), CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(29));
        await Task.Delay(100);
        Assert.False(third.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, await third.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Builds_asked_at_once_run_one_at_a_time_and_a_failed_one_is_paced_like_any_other()
    {
        var pacer = new BuildPacer(_time);
        var running = 0;
        var most = 0;
        var builds = Enumerable.Range(0, 8).Select(i => pacer.RunAsync(() =>
        {
            most = Math.Max(most, Interlocked.Increment(ref running));
            Interlocked.Decrement(ref running);
            var value = Took(1, i);
            return i == 0 ? throw new InvalidOperationException("broken") : value;
        }, CancellationToken.None)).ToList();

        // Each build took 1 ms of the pacer's clock: the next may start 3 ms after it, so advance 3 ms at a time, never
        // seeing more builds done than pauses passed (plus the first). An advance that comes before the next build has
        // set its pause timer (a continuation late on a loaded machine) is lost, so advance until all are done.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var advances = 0; !builds.All(b => b.IsCompleted); advances++)
        {
            var finished = builds.Count(b => b.IsCompleted);
            Assert.True(finished <= advances + 1, $"{finished} builds done after {advances} pauses");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{finished} of 8 builds done after {advances} pauses");
            _time.Advance(TimeSpan.FromMilliseconds(3));
            await Task.WhenAny(Task.WhenAll(builds), Task.Delay(50));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => builds[0]);
        Assert.Equal(1, most);
    }

    [Fact]
    public async Task A_pause_shorter_than_a_millisecond_is_a_whole_one()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(1), BuildPacer.PauseAfter(TimeSpan.FromTicks(1)));
        Assert.Equal(TimeSpan.FromMilliseconds(1), BuildPacer.PauseAfter(TimeSpan.FromMilliseconds(0.3)));
        Assert.Equal(TimeSpan.FromMilliseconds(2), BuildPacer.PauseAfter(TimeSpan.FromMilliseconds(0.4)));
        Assert.Equal(TimeSpan.FromMilliseconds(300), BuildPacer.PauseAfter(TimeSpan.FromMilliseconds(100)));

        var pacer = new BuildPacer(_time);
        await pacer.RunAsync(() => Took(0.1, 0), CancellationToken.None);
        var next = pacer.RunAsync(() => 1, CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(0.9));
        await Task.Delay(100);
        Assert.False(next.IsCompleted, "a build ran 0.9 ms after one of 0.1 ms");
        _time.Advance(TimeSpan.FromMilliseconds(0.1));
        Assert.Equal(1, await next.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>
    /// On the system's clock, whose timers count whole milliseconds: builds that take next to nothing, asked back to
    /// back, still pause a millisecond each. A machine slower than this one builds fewer, never more.
    /// </summary>
    [Fact]
    public async Task Builds_of_next_to_nothing_asked_back_to_back_on_the_systems_clock_still_pause()
    {
        var pacer = new BuildPacer(TimeProvider.System);
        var builds = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMilliseconds(300))
        {
            await pacer.RunAsync(() =>
            {
                var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 20_000;
                while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
                return ++builds;
            }, CancellationToken.None);
        }

        // 50 µs builds with 1 ms pauses: ~290 at most in 300 ms. Unpaced (sub-millisecond pauses ended at once), thousands.
        Assert.InRange(builds, 1, 300 + 20);
    }

    [Fact]
    public async Task A_request_that_leaves_while_it_waits_builds_nothing()
    {
        var pacer = new BuildPacer(_time);
        await pacer.RunAsync(() => Took(100, 0), CancellationToken.None);
        using var leave = new CancellationTokenSource();
        var built = false;
        var waiting = pacer.RunAsync(() => built = true, leave.Token);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(7, await pacer.RunAsync(() => 7, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(built);
    }

    /// <summary>A build of <paramref name="milliseconds"/> on the pacer's clock, answering <paramref name="value"/>.</summary>
    private int Took(double milliseconds, int value)
    {
        _time.Advance(TimeSpan.FromMilliseconds(milliseconds));
        return value;
    }
}

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

        // Each build took 1 ms of the pacer's clock: the next may start 3 ms after it, so advance 3 ms at a time.
        for (var done = 0; done < 8; done++)
        {
            var finished = builds.Count(b => b.IsCompleted);
            Assert.True(finished <= done + 1, $"{finished} builds done after {done} pauses");
            _time.Advance(TimeSpan.FromMilliseconds(3));
            await Task.WhenAny(Task.WhenAll(builds), Task.Delay(50));
        }

        await Task.WhenAll(builds.Skip(1)).WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<InvalidOperationException>(() => builds[0]);
        Assert.Equal(1, most);
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
    private int Took(int milliseconds, int value)
    {
        _time.Advance(TimeSpan.FromMilliseconds(milliseconds));
        return value;
    }
}

using System.Diagnostics;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// The readiness wait's own rules, without an engine (the package tests see them only through a container's timing):
/// a container that exited is never ready, whatever its port says; its exit ends a wait at once, not at the time limit;
/// a port that accepts ends it as ready.
/// </summary>
public sealed class ReadinessProbeTests
{
    [Fact]
    public async Task A_container_already_exited_is_not_ready_and_its_port_is_not_even_asked()
    {
        var asked = 0;
        using var exited = new CancellationTokenSource();
        await exited.CancelAsync();
        var ready = await ReadinessProbe.WaitAsync(_ => { asked++; return Task.FromResult(true); }, TimeSpan.FromSeconds(5), exited.Token, CancellationToken.None);
        Assert.False(ready);
        Assert.Equal(0, asked);
    }

    [Fact]
    public async Task An_exit_during_the_wait_ends_it_at_once_not_at_the_time_limit()
    {
        using var exited = new CancellationTokenSource();
        var asked = 0;
        var clock = Stopwatch.StartNew();
        // The port never accepts; the container exits after its third check.
        var ready = await ReadinessProbe.WaitAsync(_ =>
        {
            if (++asked == 3) exited.Cancel();
            return Task.FromResult(false);
        }, TimeSpan.FromSeconds(30), exited.Token, CancellationToken.None);
        Assert.False(ready);
        Assert.Equal(3, asked);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the wait went on {clock.Elapsed.TotalSeconds:0.0} s after the exit");
    }

    [Fact]
    public async Task A_port_that_accepts_on_a_later_check_is_ready_and_one_that_never_does_is_not_within_the_time()
    {
        var asked = 0;
        Assert.True(await ReadinessProbe.WaitAsync(_ => Task.FromResult(++asked == 4), TimeSpan.FromSeconds(30), CancellationToken.None, CancellationToken.None));
        Assert.Equal(4, asked);

        var clock = Stopwatch.StartNew();
        Assert.False(await ReadinessProbe.WaitAsync(_ => Task.FromResult(false), TimeSpan.FromMilliseconds(300), CancellationToken.None, CancellationToken.None));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(300), $"gave up after {clock.Elapsed.TotalMilliseconds:0} ms of 300");
    }
}

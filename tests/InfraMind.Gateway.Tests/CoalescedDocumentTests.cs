namespace InfraMind.Gateway.Tests;

/// <summary>
/// GET /inference/v1's document is built one at a time, however many ask at once, and never older than the request:
/// a request that arrives during a build gets the next one.
/// </summary>
public sealed class CoalescedDocumentTests
{
    [Fact]
    public async Task Requests_during_a_build_share_the_next_one_and_none_gets_a_document_built_before_it_asked()
    {
        using var release = new SemaphoreSlim(0);
        var version = 0;
        var concurrent = 0;
        var most = 0;
        var document = new CoalescedDocument(() =>
        {
            var now = Interlocked.Increment(ref concurrent);
            InterlockedMax(ref most, now);
            release.Wait(TimeSpan.FromSeconds(30));
            Interlocked.Decrement(ref concurrent);
            return Task.FromResult<byte[]>([(byte)Interlocked.Increment(ref version)]);
        });

        var first = document.GetAsync();
        await WaitAsync(() => Volatile.Read(ref concurrent) == 1);
        // Fifty ask while the first build runs: they must not get it (it started before they asked), and they share one.
        var during = Enumerable.Range(0, 50).Select(_ => document.GetAsync()).ToList();
        release.Release(2);
        Assert.Equal([1], (await first).Bytes);
        foreach (var answer in during) Assert.Equal([2], (await answer).Bytes);
        Assert.Equal(2, document.Builds);
        Assert.Equal(1, most);

        // Once nothing runs, the next request builds at once.
        release.Release();
        Assert.Equal([3], (await document.GetAsync()).Bytes);
        Assert.Equal(3, document.Builds);
    }

    [Fact]
    public async Task A_failed_build_fails_its_requests_and_the_next_request_builds_again()
    {
        var fail = true;
        var document = new CoalescedDocument(() => fail ? throw new InvalidOperationException("broken") : Task.FromResult<byte[]>([7]));
        await Assert.ThrowsAsync<InvalidOperationException>(document.GetAsync);
        fail = false;
        Assert.Equal([7], (await document.GetAsync()).Bytes);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail("the first build did not start");
            await Task.Delay(5);
        }
    }
}

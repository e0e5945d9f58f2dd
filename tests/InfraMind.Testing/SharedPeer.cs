namespace InfraMind.Testing;

/// <summary>
/// A peer a fixture shares between the tests of a class, started on first use: every test that asks gets the same
/// peer, or the same failure or skip its start ended in (<see cref="Peers.Missing"/>), while the tests of the class
/// that need no peer run whatever happened to it.
/// </summary>
public sealed class SharedPeer<T>(Func<Task<T>> start, Func<T, ValueTask> stop) : IAsyncDisposable
    where T : class
{
    private readonly Lock _gate = new();
    private Task<T>? _started;

    /// <summary>The peer; throws what its start threw (a skip where it is missing and not required).</summary>
    public Task<T> GetAsync()
    {
        lock (_gate)
        {
            return _started ??= start();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task<T>? started;
        lock (_gate)
        {
            started = _started;
        }

        if (started is null) return;
        await ((Task)started).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (started.IsCompletedSuccessfully) await stop(started.Result);
    }
}

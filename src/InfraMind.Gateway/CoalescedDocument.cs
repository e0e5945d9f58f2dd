namespace InfraMind.Gateway;

/// <summary>
/// A document built on request, one build at a time however many ask at once: GET /inference/v1's state document,
/// which walks every version and node under the mesh's lock and grows with the catalog. A request that finds no build
/// running starts one; one that finds a build running waits for the next, which starts when that one ends and is
/// shared by every request that arrived meanwhile. So each answer was built after its request arrived (never older),
/// and callers asking at once cost the gateway one build more, not one each.
/// </summary>
internal sealed class CoalescedDocument(Func<byte[]> build)
{
    private readonly object _gate = new();
    private TaskCompletionSource<byte[]>? _running;
    private TaskCompletionSource<byte[]>? _next;
    private long _builds;

    /// <summary>How many times the document was built.</summary>
    public long Builds => Interlocked.Read(ref _builds);

    public Task<byte[]> GetAsync()
    {
        TaskCompletionSource<byte[]> build;
        lock (_gate)
        {
            if (_running is not null) return (_next ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            _running = build = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _ = Task.Run(() => Run(build));
        return build.Task;
    }

    private void Run(TaskCompletionSource<byte[]>? current)
    {
        while (current is not null)
        {
            try
            {
                Interlocked.Increment(ref _builds);
                current.SetResult(build());
            }
            catch (Exception e)
            {
                current.SetException(e);
            }

            lock (_gate)
            {
                _running = current = _next;
                _next = null;
            }
        }
    }
}

using System.Threading.RateLimiting;

namespace InfraMind.Serving;

/// <summary>
/// The jobs one model container takes at once, and how many more may wait for it: one gate per container, shared by
/// every way a job reaches it (its node's job API, and a gateway of the same process sending straight to it). A
/// container is sent at most <see cref="InFlight"/> jobs at a time; the next <see cref="Queued"/> wait, oldest first;
/// beyond those, or when a job's time limit passes while it waits, the job is refused as <see cref="Verdict.NodeBusy"/>
/// without reaching the model. A burst of clients then meets a busy answer the gateway re-routes (and does not hold
/// against the node), not a container whose listen backlog overflows (refused connections) or whose memory a thousand
/// parsed inputs at once exhaust (an OOM kill) — both of which count against an honest node.
/// </summary>
public sealed class JobGate : IDisposable
{
    /// <summary>Jobs a container is sent at once by default (NodeOptions.MaxJobsPerModel).</summary>
    public const int DefaultInFlight = 8;

    /// <summary>Jobs that may wait for a container by default (NodeOptions.MaxQueuedJobsPerModel).</summary>
    public const int DefaultQueued = 256;

    /// <summary>
    /// What a busy answer tells its caller to wait (Retry-After, <see cref="RetryAfterHeader.Format"/>): the one value a
    /// node's job API says with its node-busy answer and a gateway says with its own 503 IM6038 when every node it tried
    /// was busy (REST and gRPC); a gateway also puts a node that said busy without a usable Retry-After behind the others
    /// for this long. Slots free as jobs end, so about a job's time, not minutes.
    /// </summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    private readonly ConcurrencyLimiter _limiter;

    public JobGate(int inFlight = DefaultInFlight, int queued = DefaultQueued)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFlight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queued);
        InFlight = inFlight;
        Queued = queued;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = inFlight,
            QueueLimit = queued,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public int InFlight { get; }

    public int Queued { get; }

    /// <summary>Jobs waiting now.</summary>
    public long Waiting => _limiter.GetStatistics()?.CurrentQueuedCount ?? 0;

    /// <summary>
    /// A slot for one job, held until disposed; or null and why the container is busy: <see cref="Queued"/> jobs wait
    /// already (refused at once), or none of the <see cref="InFlight"/> slots came free within <paramref name="maxWait"/>
    /// (a node waits half the job's time limit at most, so a job that gets its slot still has the other half for the
    /// model; less when the gateway says so, <see cref="MeshHeaders.QueueWaitMs"/>). <paramref name="cancellationToken"/> (the caller leaving) ends the wait with <see cref="OperationCanceledException"/>.
    /// </summary>
    public async ValueTask<(IDisposable? Slot, string? Busy)> EnterAsync(TimeSpan maxWait, CancellationToken cancellationToken)
    {
        // A free slot is taken without a wait, and without a timer for one.
        var lease = _limiter.AttemptAcquire(1);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(maxWait);
            try
            {
                lease = await _limiter.AcquireAsync(1, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                var waited = maxWait < TimeSpan.FromSeconds(1) ? $"{maxWait.TotalMilliseconds:0} ms" : $"{maxWait.TotalSeconds:0.#} s";
                return (null, $"the job waited {waited}, the most it may, for one of the {InFlight} jobs the model's container takes at once");
            }
        }

        if (lease.IsAcquired) return (lease, null);
        lease.Dispose();
        return (null, $"the model's container has {InFlight} jobs in flight and {Queued} waiting, the most its node takes");
    }

    public void Dispose() => _limiter.Dispose();
}

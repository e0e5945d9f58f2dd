using System.Net;
using System.Threading.RateLimiting;
using InfraMind.Serving;

namespace InfraMind.Gateway.Inference;

/// <summary>
/// The bound on inference requests in flight, the REST and gRPC faces together: at most
/// <see cref="GatewayOptions.MaxInferencesInFlight"/> at once (beyond: 503 IM6026), of which at most
/// <see cref="GatewayOptions.MaxInferencesInFlightPerAddress"/> from one client address (beyond: 429 IM6027; an IPv6
/// client's /64 counts as one address, since whoever has one address there has them all). A slot is taken before the
/// request's body is read and held until its answer is written, so the bodies and answers strangers make the gateway
/// hold are at most MaxInferencesInFlight × (MaxRequestBytes + MaxResponseBytes), however many of them send; a refusal
/// waits for nothing (no queue) and says Retry-After. System.Threading.RateLimiting's concurrency limiters count.
/// </summary>
internal sealed class InferenceAdmission : IDisposable
{
    private readonly ConcurrencyLimiter _all;
    private readonly PartitionedRateLimiter<IPAddress> _perAddress;

    public InferenceAdmission(int total, int perAddress)
    {
        Limit = total;
        PerAddressLimit = perAddress = Math.Min(perAddress, total);
        _all = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = total, QueueLimit = 0 });
        _perAddress = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
            RateLimitPartition.GetConcurrencyLimiter(address, _ => new ConcurrencyLimiterOptions { PermitLimit = perAddress, QueueLimit = 0 }));
    }

    /// <summary>The most requests in flight at once.</summary>
    public int Limit { get; }

    /// <summary>The most from one address (the option's value, at most <see cref="Limit"/>).</summary>
    public int PerAddressLimit { get; }

    /// <summary>The requests in flight now, all addresses together.</summary>
    public long InFlight => Limit - (_all.GetStatistics()?.CurrentAvailablePermits ?? Limit);

    /// <summary>A slot for one request of <paramref name="client"/>, or the problem that refuses it (the slot then holds nothing).</summary>
    public InferenceProblem? TryEnter(IPAddress? client, out Slot slot)
    {
        slot = default;
        // The gateway's own limit first: when it is reached, everyone is told the gateway is busy, whoever sent most.
        var ours = _all.AttemptAcquire();
        if (!ours.IsAcquired)
        {
            ours.Dispose();
            return new(503, MeshErrorCodes.GatewayBusy, "gateway busy",
                $"the gateway has {Limit} requests in flight, as many as it takes at once; retry after the Retry-After seconds, or at another gateway.", RetryAfter: true);
        }

        var address = ClientAddress.Group(client);
        var mine = _perAddress.AttemptAcquire(address);
        if (!mine.IsAcquired)
        {
            mine.Dispose();
            ours.Dispose();
            return new(429, MeshErrorCodes.TooManyFromAddress, "too many requests in flight",
                $"{PerAddressLimit} requests from {ClientAddress.Describe(address)} are in flight at this gateway, as many as it takes from one address; retry after the Retry-After seconds, or send fewer at once.",
                RetryAfter: true);
        }

        slot = new Slot(mine, ours);
        return null;
    }

    public void Dispose()
    {
        _all.Dispose();
        _perAddress.Dispose();
    }

    /// <summary>One request's place; dispose when its answer is written (a default one holds nothing).</summary>
    public readonly struct Slot(RateLimitLease? address, RateLimitLease? total) : IDisposable
    {
        public void Dispose()
        {
            total?.Dispose();
            address?.Dispose();
        }
    }
}

using System.Net;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// How many long-lived gRPC streams of one kind run (health Watch, server reflection), per HTTP/2 connection, per client
/// address (an IPv6 /64 as one, <see cref="ClientAddress"/>) and in all: each holds a call open for as long as its caller
/// likes, so neither one connection, nor one address with many connections, nor many addresses may hold more than the
/// limits. Beyond one, the stream is refused (RESOURCE_EXHAUSTED) with the limit named.
/// </summary>
internal sealed class StreamLeases(string what, int perConnection, int perAddress, int total)
{
    private readonly Dictionary<string, int> _byConnection = new(StringComparer.Ordinal);
    private readonly Dictionary<IPAddress, int> _byAddress = [];
    private int _total;

    /// <summary>Running streams in all.</summary>
    public int Count
    {
        get
        {
            lock (_byConnection) return _total;
        }
    }

    /// <summary>A lease on one stream of <paramref name="connection"/> from <paramref name="remote"/>, or null and why not.</summary>
    public IDisposable? Enter(string connection, IPAddress? remote, out string? refusal)
    {
        var group = ClientAddress.Group(remote);
        lock (_byConnection)
        {
            var mine = _byConnection.GetValueOrDefault(connection);
            var ours = _byAddress.GetValueOrDefault(group);
            refusal = mine >= perConnection
                ? $"this connection already runs {mine} {what}, the gateway's limit per connection; cancel one, or open another connection"
                : ours >= perAddress
                    ? $"your address ({ClientAddress.Describe(group)}) already runs {ours} {what}, the gateway's limit per address; cancel one"
                    : _total >= total
                        ? $"the gateway already runs {_total} {what}, its limit; try again later"
                        : null;
            if (refusal is not null) return null;
            _byConnection[connection] = mine + 1;
            _byAddress[group] = ours + 1;
            _total++;
        }

        return new Lease(this, connection, group);
    }

    private void Leave(string connection, IPAddress group)
    {
        lock (_byConnection)
        {
            _total--;
            Decrement(_byConnection, connection);
            Decrement(_byAddress, group);
        }

        static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
            where TKey : notnull
        {
            var left = counts[key] - 1;
            if (left == 0) counts.Remove(key);
            else counts[key] = left;
        }
    }

    private sealed class Lease(StreamLeases leases, string connection, IPAddress group) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) leases.Leave(connection, group);
        }
    }
}

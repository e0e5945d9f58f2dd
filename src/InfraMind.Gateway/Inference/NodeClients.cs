using System.Collections.Concurrent;
using InfraMind.Serving;
using InfraMind.Serving.Tls;

namespace InfraMind.Gateway.Inference;

/// <summary>
/// The HTTP clients the gateway calls nodes with: one for plain HTTP (and containers), and one per node job API over
/// TLS, whose only trust is the fingerprint the node registered (<see cref="MeshTls.Pinned"/>): no CA, no host name,
/// and no other node's pin can pass for it, even on the same host. A node registering a new fingerprint gets a new
/// client (the old one's connections are closed). At most <paramref name="max"/> are kept: past that the oldest
/// addresses' go (a node that still serves gets a new one on its next job).
/// </summary>
internal sealed class NodeClients(TimeSpan connectTimeout, int max) : IDisposable
{
    private readonly ConcurrentDictionary<string, PinnedClient> _pinned = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _made;

    public HttpClient Plain { get; } = JobHttp.CreateClient(connectTimeout);

    /// <summary>The client for <paramref name="route"/>, with its pin when the node serves TLS (null: plain).</summary>
    public (HttpClient Client, PinnedClient? Pinned) For(Route route)
    {
        if (route.Direct || route.TlsPin is not { } pin || route.Target.Scheme != Uri.UriSchemeHttps) return (Plain, null);
        var authority = route.Target.GetLeftPart(UriPartial.Authority);
        if (_pinned.TryGetValue(authority, out var held) && held.Pin == pin) return (held.Client, held);
        lock (_gate)
        {
            if (_pinned.TryGetValue(authority, out held) && held.Pin == pin) return (held.Client, held);
            var made = new PinnedClient(pin, connectTimeout, Interlocked.Increment(ref _made));
            if (held is not null && _pinned.TryRemove(authority, out var stale)) stale.Dispose();
            while (_pinned.Count >= max && _pinned.MinBy(p => p.Value.Made) is { Key: var oldest } && _pinned.TryRemove(oldest, out var evicted)) evicted.Dispose();
            _pinned[authority] = made;
            return (made.Client, made);
        }
    }

    public void Dispose()
    {
        Plain.Dispose();
        foreach (var p in _pinned.Values) p.Dispose();
        _pinned.Clear();
    }
}

/// <summary>A client that takes only the certificate key <see cref="Pin"/>; <see cref="LastPresented"/>: the last other key a server showed.</summary>
internal sealed class PinnedClient : IDisposable
{
    private string? _lastPresented;

    public PinnedClient(string pin, TimeSpan connectTimeout, long made)
    {
        Pin = pin;
        Made = made;
        Client = JobHttp.CreateClient(connectTimeout, MeshTls.Pinned(pin, presented => Volatile.Write(ref _lastPresented, presented ?? "no certificate")));
    }

    public string Pin { get; }

    public long Made { get; }

    public HttpClient Client { get; }

    public string? LastPresented => Volatile.Read(ref _lastPresented);

    public void Dispose() => Client.Dispose();
}

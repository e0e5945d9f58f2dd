namespace InfraMind.Serving;

/// <summary>The HTTP client of the data path: a gateway's to nodes and containers, a node's to its containers.</summary>
public static class JobHttp
{
    /// <summary>
    /// No proxy; no redirects (a model's 3xx is an answer to judge, never a place to go: following it would let a model
    /// make the gateway or a node call any address); no cookies; no trace headers; connections renewed every 2
    /// minutes; no client-wide timeout (each job has its own limit).
    /// </summary>
    public static HttpClient CreateClient() => CreateClient(null);

    /// <summary>
    /// As <see cref="CreateClient()"/>, every connection made by <paramref name="connect"/> (a node's or `infra test`'s
    /// way into a model container, which has no address: its connector's <c>ConnectAsync</c>). An answer not read to
    /// its end is never drained: disposing it drops the connection, so a model cannot make a reader take more than it asked for.
    /// </summary>
    public static HttpClient CreateClient(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        MaxResponseDrainSize = 0,
        ConnectCallback = connect,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}

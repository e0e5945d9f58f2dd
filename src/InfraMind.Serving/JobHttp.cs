namespace InfraMind.Serving;

/// <summary>The HTTP client of the data path: a gateway's to nodes and containers, a node's to its containers.</summary>
public static class JobHttp
{
    /// <summary>
    /// No proxy; no redirects (a model's 3xx is an answer to judge, never a place to go: following it would let a model
    /// make the gateway or a node call any address); no cookies; no trace headers; connections renewed every 2
    /// minutes; no client-wide timeout (each job has its own limit).
    /// </summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}

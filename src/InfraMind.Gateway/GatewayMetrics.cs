using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Prometheus;

namespace InfraMind.Gateway;

/// <summary>
/// The gateway's Prometheus metrics, in a registry of its own so that two gateways in one process never mix, with the
/// process's and the .NET runtime's own series beside them.
/// </summary>
internal sealed class GatewayMetrics
{
    private readonly Counter _requests;
    private readonly Histogram _latency;
    private readonly Counter _attempts;
    private readonly Counter _failures;
    private readonly Counter _suspensions;
    private readonly Gauge _reputation;
    private readonly Gauge _online;

    public GatewayMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);
        _requests = f.CreateCounter("inframind_gateway_requests_total", "Inference requests by model and HTTP status.", "model", "status");
        _latency = f.CreateHistogram("inframind_gateway_request_duration_seconds", "Time from request to answer, re-routes included.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        _attempts = f.CreateCounter("inframind_gateway_attempts_total", "Attempts on nodes by outcome.", "model", "node", "outcome");
        _failures = f.CreateCounter("inframind_gateway_failures_total", "Failed jobs and pre-flights by verdict.", "model", "node", "verdict");
        _suspensions = f.CreateCounter("inframind_gateway_suspensions_total", "Node suspensions.", "model", "node");
        _reputation = f.CreateGauge("inframind_gateway_node_reputation", "Node reputation, 1 = good.", "node");
        _online = f.CreateGauge("inframind_gateway_node_online", "1 when the node heartbeats in time.", "node");
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Reports the inference requests in flight at each scrape, next to their limits.</summary>
    public void InFlight(Inference.InferenceAdmission admission)
    {
        var f = Metrics.WithCustomRegistry(Registry);
        var now = f.CreateGauge("inframind_gateway_inferences_in_flight", "Inference requests in flight now (REST and gRPC), a slot each.");
        var limits = f.CreateGauge("inframind_gateway_inferences_in_flight_limit",
            "The most inference requests in flight at once: all (beyond, 503 IM6026) and from one address (beyond, 429 IM6027).", "scope");
        limits.WithLabels("all").Set(admission.Limit);
        limits.WithLabels("address").Set(admission.PerAddressLimit);
        Registry.AddBeforeCollectCallback(() => now.Set(admission.InFlight));
    }

    public void Request(string model, int status, TimeSpan elapsed)
    {
        _requests.WithLabels(model, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        _latency.WithLabels(model).Observe(elapsed.TotalSeconds);
    }

    public void Attempt(string model, string node, string outcome) => _attempts.WithLabels(model, node, outcome).Inc();

    /// <summary>A failed job or pre-flight, labelled with the verdict's wire name (<see cref="Verdict.All"/>: a bounded set).</summary>
    public void Failure(string model, string node, Verdict verdict) => _failures.WithLabels(model, node, verdict.WireName).Inc();

    public void Suspended(string node, string model) => _suspensions.WithLabels(model, node).Inc();

    public void Reputation(string node, double value) => _reputation.WithLabels(node).Set(value);

    public void Online(string node, bool online) => _online.WithLabels(node).Set(online ? 1 : 0);

    /// <summary>
    /// The nodes' gauges as the mesh has them now (<see cref="MeshState.NodeSummaries"/>); a node no longer among them
    /// (forgotten, after a summary taken before it went was written) loses its gauges.
    /// </summary>
    public void Nodes(IReadOnlyList<(string Node, double Reputation, bool Online)> nodes)
    {
        foreach (var (node, reputation, online) in nodes)
        {
            Reputation(node, reputation);
            Online(node, online);
        }

        var known = nodes.Select(n => n.Node).ToHashSet(StringComparer.Ordinal);
        MetricSeries.RemoveWhere(_reputation, 0, n => !known.Contains(n));
        MetricSeries.RemoveWhere(_online, 0, n => !known.Contains(n));
    }

    /// <summary>
    /// A node the mesh forgot: every series that names it goes. Nodes come and go under new ids (any holder of the mesh
    /// token may make one), and series kept for every id ever seen would grow the registry, and each scrape, without end.
    /// </summary>
    public void Forget(string node)
    {
        MetricSeries.RemoveWhere(_reputation, 0, n => n == node);
        MetricSeries.RemoveWhere(_online, 0, n => n == node);
        MetricSeries.RemoveWhere(_attempts, 1, n => n == node);
        MetricSeries.RemoveWhere(_failures, 1, n => n == node);
        MetricSeries.RemoveWhere(_suspensions, 1, n => n == node);
    }
}

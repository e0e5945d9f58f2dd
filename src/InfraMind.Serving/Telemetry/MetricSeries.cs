using Prometheus;

namespace InfraMind.Serving.Telemetry;

/// <summary>
/// What the gateway's and the nodes' metrics share: the label a model name a stranger chose is counted under, and the
/// removal of the series that name something gone. A label is a series kept until removed, so no label takes a value
/// a stranger picks without bound (see docs/operations.md).
/// </summary>
public static class MetricSeries
{
    /// <summary>The model label of a request or job for a name@version this server does not serve.</summary>
    public const string UnknownModel = "(unknown)";

    /// <summary>Removes every series of <paramref name="collector"/> whose label at <paramref name="label"/> is <paramref name="gone"/>.</summary>
    public static void RemoveWhere<TChild>(Collector<TChild> collector, int label, Func<string, bool> gone) where TChild : ChildBase
    {
        ArgumentNullException.ThrowIfNull(collector);
        ArgumentNullException.ThrowIfNull(gone);
        foreach (var labels in collector.GetAllLabelValues().Where(l => gone(l[label])).ToList()) collector.RemoveLabelled(labels);
    }
}

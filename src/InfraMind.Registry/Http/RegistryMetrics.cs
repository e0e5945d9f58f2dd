using InfraMind.Registry.Models;
using Prometheus;

namespace InfraMind.Registry.Http;

/// <summary>
/// A registry server's Prometheus series, in a registry of its own (never mixed with another server's in the same
/// process), with the process's and the .NET runtime's own series beside them. Refusal reasons are the registry's
/// stable error codes: a bounded set.
/// </summary>
public sealed class RegistryMetrics
{
    private readonly Counter _appends;
    private readonly Counter _republished;
    private readonly Counter _refusals;
    private readonly Gauge _entries;

    public RegistryMetrics(ModelRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);
        _appends = f.CreateCounter("inframind_registry_appends_total", "Publishes appended to the transparency log.");
        _republished = f.CreateCounter("inframind_registry_republishes_total", "Publishes of a statement the log already held (answered with the existing entry).");
        _refusals = f.CreateCounter("inframind_registry_publish_refusals_total", "Publishes refused, by the error code that says why (admission, ownership, rate limits, signatures).", "reason");
        _entries = f.CreateGauge("inframind_registry_log_entries", "Entries in the transparency log.");
        Registry.AddBeforeCollectCallback(async ct => _entries.Set(await registry.GetSizeAsync(ct).ConfigureAwait(false)));
    }

    public CollectorRegistry Registry { get; }

    public void Published(bool alreadyPublished) => (alreadyPublished ? _republished : _appends).Inc();

    public void Refused(ErrorCode reason) => _refusals.WithLabels(reason.Value).Inc();
}

using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Prometheus;

namespace InfraMind.Node;

/// <summary>
/// A node's Prometheus series, in a registry of its own (several nodes in one process never mix), with the process's
/// and the .NET runtime's own series beside them. Model labels name only versions placed here now: a job for any other
/// name (the job API's path is the caller's, who may not even hold a credential) counts as <see cref="MetricSeries.UnknownModel"/>,
/// and a version's series go when it is no longer placed (<see cref="Forget"/>), so neither callers nor the versions
/// that come and go over a node's life grow its series. Verdict labels are bounded by <see cref="Verdict.All"/>.
/// </summary>
internal sealed class NodeMetrics
{
    private readonly Counter _jobs;
    private readonly Histogram _jobDuration;
    private readonly Counter _preflights;
    private readonly Counter _restarts;
    private readonly Gauge _containers;
    private readonly Gauge _models;
    private readonly Gauge _unusedImages;
    private readonly Gauge _unusedImageBytes;
    private readonly Counter _imagesRemoved;
    private readonly Counter _imageBytesRemoved;

    public NodeMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);
        _jobs = f.CreateCounter("inframind_node_jobs_total", "Jobs by model and outcome: answered, or the verdict of the node's own failure.", "model", "outcome");
        _jobDuration = f.CreateHistogram("inframind_node_job_duration_seconds", "Time from a job's arrival to the model's answer (or the node's failure).",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        _preflights = f.CreateCounter("inframind_node_preflights_total", "Pre-flights by model and verdict (passed, or the first failure's verdict).", "model", "verdict");
        _restarts = f.CreateCounter("inframind_node_container_restarts_total", "Containers started again after one died, failed or was stopped unhealthy.", "model");
        _containers = f.CreateGauge("inframind_node_containers", "Model containers this node holds now, in any state.");
        _models = f.CreateGauge("inframind_node_models", "Placed models by state (starting, ready, failed, refused).", "state");
        _unusedImages = f.CreateGauge("inframind_node_unused_images", "Images this node brought and keeps though no version it runs uses them (within --image-cache).");
        _unusedImageBytes = f.CreateGauge("inframind_node_unused_image_bytes", "Their bytes, as the engine sizes them.");
        _imagesRemoved = f.CreateCounter("inframind_node_images_removed_total", "Images this node let go (beyond --image-cache, longest unused first).");
        _imageBytesRemoved = f.CreateCounter("inframind_node_image_bytes_removed_total", "Their bytes, as the engine sized them.");
    }

    public CollectorRegistry Registry { get; }

    public void Job(string model, string outcome, TimeSpan elapsed)
    {
        _jobs.WithLabels(model, outcome).Inc();
        _jobDuration.WithLabels(model).Observe(elapsed.TotalSeconds);
    }

    public void Preflight(string model, Verdict? failed) => _preflights.WithLabels(model, failed?.WireName ?? "passed").Inc();

    public void Restart(string model) => _restarts.WithLabels(model).Inc();

    /// <summary>A version no longer placed here: every series that names it goes.</summary>
    public void Forget(string model)
    {
        MetricSeries.RemoveWhere(_jobs, 0, m => m == model);
        MetricSeries.RemoveWhere(_jobDuration, 0, m => m == model);
        MetricSeries.RemoveWhere(_preflights, 0, m => m == model);
        MetricSeries.RemoveWhere(_restarts, 0, m => m == model);
    }

    /// <summary>Sets the gauges from what the node holds, at each scrape (<paramref name="images"/>: null where the node removes no image).</summary>
    public void Observe(int containers, IEnumerable<ModelReport> reports, Images.ImageRetention? images)
    {
        _containers.Set(containers);
        if (images is not null)
        {
            var (unused, unusedBytes) = images.Unused;
            var (removed, removedBytes) = images.Removed;
            _unusedImages.Set(unused);
            _unusedImageBytes.Set(unusedBytes);
            _imagesRemoved.IncTo(removed);
            _imageBytesRemoved.IncTo(removedBytes);
        }

        var byState = reports.GroupBy(r => r.State).ToDictionary(g => g.Key, g => g.Count());
        foreach (var state in Enum.GetValues<ModelState>())
            _models.WithLabels(System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(state.ToString())).Set(byState.GetValueOrDefault(state));
    }
}

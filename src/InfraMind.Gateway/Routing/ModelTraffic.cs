namespace InfraMind.Gateway.Routing;

/// <summary>
/// The recent traffic of one model version, for the operators' view (GET /inference/v1, the dashboard, `infra mesh
/// status`): answers with their latency and failed attempts with their verdict over the last <see cref="Window"/>.
/// Bounded: at most <see cref="Capacity"/> samples, the oldest dropped first, so memory does not grow with traffic.
/// (Prometheus' /metrics has the same as counters and histograms for long-term views.)
/// </summary>
internal sealed class ModelTraffic(TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);
    public const int Capacity = 4096;

    private readonly Queue<(DateTimeOffset At, double? Ms, string? Verdict)> _samples = new();

    public void Answered(double ms) => Add(ms, null);

    public void Failed(string verdict) => Add(null, verdict);

    private void Add(double? ms, string? verdict)
    {
        lock (_samples)
        {
            _samples.Enqueue((time.GetUtcNow(), ms, verdict));
            while (_samples.Count > Capacity) _samples.Dequeue();
        }
    }

    /// <summary>What the last <see cref="Window"/> held: answers, answers per minute, p50/p99 in ms, failed attempts by verdict.</summary>
    public TrafficSnapshot Snapshot()
    {
        lock (_samples)
        {
            var since = time.GetUtcNow() - Window;
            while (_samples.Count > 0 && _samples.Peek().At < since) _samples.Dequeue();
            var latencies = _samples.Where(s => s.Ms is not null).Select(s => s.Ms!.Value).Order().ToArray();
            var failures = _samples.Where(s => s.Verdict is not null).GroupBy(s => s.Verdict!, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return new TrafficSnapshot(
                latencies.Length,
                Math.Round(latencies.Length / Window.TotalMinutes, 2),
                Percentile(latencies, 0.50),
                Percentile(latencies, 0.99),
                failures.Values.Sum(),
                failures);
        }
    }

    /// <summary>Nearest-rank percentile of sorted values; null when there are none.</summary>
    internal static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 3);
}

/// <summary>A version's traffic over <see cref="ModelTraffic.Window"/> as the state document shows it.</summary>
internal sealed record TrafficSnapshot(int Answers, double AnswersPerMinute, double? P50Ms, double? P99Ms, int FailedAttempts, IReadOnlyDictionary<string, int> FailuresByVerdict);

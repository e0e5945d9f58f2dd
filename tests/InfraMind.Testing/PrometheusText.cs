using System.Globalization;

namespace InfraMind.Testing;

/// <summary>Reads a scraped Prometheus text exposition: the value of one series, named with its labels as exposed.</summary>
public static class PrometheusText
{
    /// <summary>The value of <paramref name="series"/> (e.g. <c>x_total{a="b"}</c>), or null when the scrape lacks it.</summary>
    public static double? Value(string exposition, string series)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(series + " ", StringComparison.Ordinal)) continue;
            var value = line[(series.Length + 1)..].Split(' ')[0];
            return double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return null;
    }

    /// <summary>The process and .NET runtime series every InfraMind server exposes beside its own.</summary>
    public static void AssertProcessAndRuntimeSeries(string exposition)
    {
        foreach (var series in new[] { "process_cpu_seconds_total", "process_working_set_bytes", "process_start_time_seconds", "dotnet_total_memory_bytes" })
            Xunit.Assert.True(Value(exposition, series) is not null, $"the scrape lacks {series}");
        Xunit.Assert.Contains("dotnet_collection_count_total{generation=\"0\"}", exposition, StringComparison.Ordinal);
    }
}

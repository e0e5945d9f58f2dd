using System.Diagnostics;

/// <summary>
/// What the gateway benches share: the load loop (a fixed count, a 60 s cap), percentiles, the median of per-round
/// ratios with their spread, and CPU time of this process and of a model container.
/// </summary>
internal static class Measure
{
    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return (sorted[(sorted.Count - 1) / 2] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The middle half of the rounds and the whole range: per-round ratios swing widely on a shared 2-CPU VM.</summary>
    public static string Spread(List<double> values) =>
        $"middle half {P(values, 0.25):0.00}-{P(values, 0.75):0.00}, range {values.Min():0.00}-{values.Max():0.00}";

    public static double P(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
    }

    /// <summary><paramref name="count"/> calls of <paramref name="send"/> by <paramref name="concurrency"/> workers, at most 60 s: each call's latency (ms) and the wall time (s).</summary>
    public static async Task<(List<double> Latencies, double Seconds)> RunAsync(Func<int, Task> send, int count, int concurrency)
    {
        var latencies = new double[count];
        var next = -1;
        var cap = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count && cap.Elapsed < TimeSpan.FromSeconds(60))
            {
                var t = Stopwatch.GetTimestamp();
                await send(i);
                latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
        }));
        var done = Math.Min(count, next);
        return ([.. latencies.Take(done).Where(l => l > 0)], clock.Elapsed.TotalSeconds);
    }

    /// <summary>This process's CPU time, in microseconds (all it runs: the load generator, and the gateway and node where the bench hosts them itself).</summary>
    public static double ProcessCpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalMicroseconds;

    /// <summary>Another process's CPU time in microseconds, all its threads (the kernel counts it in 10 ms ticks: read it over many requests).</summary>
    public static double ProcessCpu(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime.TotalMicroseconds;
    }

    /// <summary>A container's CPU time in microseconds (cgroup v1, this machine); 0 where the file is elsewhere.</summary>
    public static double ContainerCpu(string containerId) =>
        File.Exists($"/sys/fs/cgroup/cpuacct/docker/{containerId}/cpuacct.usage")
            ? long.Parse(File.ReadAllText($"/sys/fs/cgroup/cpuacct/docker/{containerId}/cpuacct.usage"), System.Globalization.CultureInfo.InvariantCulture) / 1000.0
            : 0;

    /// <summary>
    /// The context switches of a container's threads so far (cgroup v1, this machine; zeros where the file is
    /// elsewhere): voluntary (a thread that slept, woken for work) and involuntary (a runnable thread preempted).
    /// </summary>
    public static (long Voluntary, long Involuntary) ContainerSwitches(string containerId)
    {
        var tasks = $"/sys/fs/cgroup/cpuacct/docker/{containerId}/tasks";
        if (!File.Exists(tasks)) return (0, 0);
        long voluntary = 0, involuntary = 0;
        foreach (var tid in File.ReadAllLines(tasks))
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{tid}/status"))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)) voluntary += Count(line);
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal)) involuntary += Count(line);
                }
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read: its switches are gone with it.
            }
        }

        return (voluntary, involuntary);

        static long Count(string line) => long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// TCP segments received and sent so far in a container's network namespace (from its first thread's
    /// <c>/proc/TID/net/snmp</c>; zeros where it cannot be read): requests that arrive split over several segments, or
    /// one by one rather than together, wake the model more often.
    /// </summary>
    public static (long In, long Out) ContainerSegments(string containerId)
    {
        var tasks = $"/sys/fs/cgroup/cpuacct/docker/{containerId}/tasks";
        if (!File.Exists(tasks)) return (0, 0);
        foreach (var tid in File.ReadAllLines(tasks))
        {
            try
            {
                var tcp = File.ReadLines($"/proc/{tid}/net/snmp").Where(l => l.StartsWith("Tcp:", StringComparison.Ordinal)).ToArray();
                if (tcp.Length < 2) continue;
                var names = tcp[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = tcp[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return (long.Parse(values[Array.IndexOf(names, "InSegs")], System.Globalization.CultureInfo.InvariantCulture),
                        long.Parse(values[Array.IndexOf(names, "OutSegs")], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The thread ended between the listing and the read: the next one shares its namespace.
            }
        }

        return (0, 0);
    }

    /// <summary>
    /// Steady state, not start-up: runs <paramref name="warm"/> until this process (and the one <paramref name="othersCompiled"/> counts, when
    /// given: a server the bench calls) compiles no more than 5 methods in a pass: at least 15 s, at most 60 s.
    /// </summary>
    public static async Task<TimeSpan> WarmUpAsync(Func<Task> warm, Func<Task<long>>? othersCompiled = null)
    {
        // Tiered compilation recompiles hot code twice in the background, and under full load that takes tens of seconds.
        var clock = Stopwatch.StartNew();
        async Task<long> Compiled() => System.Runtime.JitInfo.GetCompiledMethodCount() + (othersCompiled is null ? 0 : await othersCompiled());
        var compiled = await Compiled();
        while (true)
        {
            await warm();
            // One count per pass: the end of one pass is the start of the next (a server's count is a round trip).
            var now = await Compiled();
            if ((clock.Elapsed >= TimeSpan.FromSeconds(15) && now - compiled <= 5) || clock.Elapsed >= TimeSpan.FromSeconds(60)) return clock.Elapsed;
            compiled = now;
        }
    }
}

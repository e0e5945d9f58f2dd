using System.Globalization;
using System.Text.RegularExpressions;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// Models written by strangers, at their worst, against the real engine: each gets a verdict that names what it did,
/// the run stays bounded in time (short request budgets, one silence ends the cases) and in memory (answers are read
/// against a cap), and nothing it started is left behind.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed partial class HostileModelTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    public static TheoryData<string, string, string, string> Cases() => new()
    {
        // BEHAVIOR,        memory,  expected verdict,                     text the failing detail must contain
        { "fork-bomb", "256Mi", Verdict.PidsLimitReached.WireName, "limit of 256 processes and threads" },
        { "oom-on-request", "48Mi", Verdict.OomKilled.WireName, "running out of memory" },
        { "exit-after-3", "256Mi", Verdict.ContainerExited.WireName, "exited with code 7; last log lines: fatal: corrupt state after 3 requests" },
        { "drip", "256Mi", Verdict.RequestTimeout.WireName, "the answer started (HTTP 200, Content-Length 64) but its body did not finish" },
        { "hang", "256Mi", Verdict.RequestTimeout.WireName, "no answer within 2 s" },
        { "not-json", "256Mi", Verdict.ResponseNotJson.WireName, "not JSON" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Each_hostile_model_gets_the_verdict_that_names_it(string behavior, string memory, string verdict, string detail)
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-hostile-" + behavior);
        BrokenModel.Create(package.Path, "hostile-" + behavior, "BEHAVIOR=" + behavior, memory: memory);
        var label = Guid.NewGuid().ToString("N");
        var options = new ConformanceOptions
        {
            Cases = 5,
            RequestTimeout = TimeSpan.FromSeconds(2),
            // None of these fails readiness on purpose: the wait ends when the port answers (the fork bomb's once its
            // loop hits the limit), so a long one costs nothing and keeps a loaded machine from turning the verdict
            // into no-answer-on-port.
            ReadinessTimeout = TimeSpan.FromSeconds(30),
            HookTimeout = TimeSpan.FromSeconds(20),
            Labels = new Dictionary<string, string> { ["org.inframind.test"] = label },
        };

        var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);

        var described = string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Verdict} {s.Detail}").Concat(report.Cases.Select(c => $"case {c.Name} {c.Verdict} {c.Detail}")));
        Assert.False(report.Passed, described);
        // The cause comes first and alone: before, a model OOM-killed or exiting mid-run was "connection-failed".
        Assert.True(report.Verdicts[0].WireName == verdict, described);
        Assert.DoesNotContain(Verdict.ConnectionFailed, report.Verdicts);
        Assert.Contains(report.Steps.Select(s => s.Detail).Concat(report.Cases.Select(c => c.Detail)), d => d.Contains(detail, StringComparison.Ordinal));
        if (verdict == Verdict.RequestTimeout.WireName)
        {
            // One silence fails the run: the other cases are not each given the whole budget again.
            Assert.Single(report.Cases);
            Assert.Matches(@"; \d+ more case\(s\) not sent: the model stopped answering", report.Steps.Single(s => s.Step == ConformanceSteps.Cases).Detail);
        }

        var leftovers = await engine.PruneAsync(options.Labels, null, None);
        Assert.Empty(leftovers.Containers);
        Assert.Empty(leftovers.Networks);
    }

    [SkippableFact]
    public async Task A_300_MB_answer_is_cut_off_at_the_cap_and_its_connection_dropped()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-hostile-huge");
        BrokenModel.Create(package.Path, "hostile-huge", "BEHAVIOR=huge");
        var manifest = ManifestReader.Validate(package.Path).Manifest!;
        var tag = manifest.ImageTag;
        var labels = new Dictionary<string, string> { ["org.inframind.test"] = Guid.NewGuid().ToString("N") };
        await engine.BuildImageAsync(package.Path, tag, new Dictionary<string, string>(), null, None);
        try
        {
            // Started by hand, to read the model's own account of what it sent before the container goes.
            await using var container = await engine.RunAsync(ConformanceRunner.SpecFor(manifest, tag, labels), None);
            var options = new ConformanceOptions
            {
                Cases = 1, NegativeCases = false, RequestTimeout = TimeSpan.FromSeconds(60), HookTimeout = TimeSpan.FromSeconds(20),
                ReadinessTimeout = TimeSpan.FromSeconds(30), // not the manifest's 3 s: a loaded machine may take longer to start Python
            };
            var result = await new ConformanceRunner(engine).PreflightAsync(manifest, container, options, None);

            var answered = Assert.Single(result.Cases);
            Assert.Equal(Verdict.ResponseTooLarge, answered.Verdict);
            Assert.Contains($"larger than {ModelAnswer.DefaultBodyLimit} bytes", answered.Detail, StringComparison.Ordinal);
            Assert.Equal(Verdict.ResponseTooLarge, result.FirstVerdict);

            // The model saw its reader leave after about the cap (plus what socket buffers hold), far from 300 MB.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            Match left;
            while (!(left = ReaderLeft().Match((await container.GetLogsAsync(null, None)).Stderr)).Success)
            {
                Assert.True(DateTime.UtcNow < deadline, "the model never noticed its reader leaving: " + (await container.GetLogsAsync(20, None)).Combined);
                await Task.Delay(100);
            }

            var sent = long.Parse(left.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(sent, ModelAnswer.DefaultBodyLimit - (1 << 20), ModelAnswer.DefaultBodyLimit + (32L << 20));
        }
        finally
        {
            await engine.PruneAsync(labels, null, None);
            await TestEngine.RemoveTestImagesAsync(engine, force: true, tag);
        }
    }

    [SkippableFact]
    public async Task A_model_bound_to_its_own_loopback_only_passes()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-loopback-only");
        BrokenModel.Create(package.Path, "loopback-only", "BEHAVIOR=loopback-only");
        var label = Guid.NewGuid().ToString("N");
        var options = new ConformanceOptions
        {
            Cases = 2, HookTimeout = TimeSpan.FromSeconds(20), ReadinessTimeout = TimeSpan.FromSeconds(30),
            Labels = new Dictionary<string, string> { ["org.inframind.test"] = label },
        };

        var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);

        // Before, it was no-answer-on-port ("bind 0.0.0.0"): the engine's proxy could only reach the bridge address.
        Assert.True(report.Passed, string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Detail}")));
        Assert.Empty((await engine.PruneAsync(options.Labels, null, None)).Containers);
    }

    [GeneratedRegex(@"huge: the reader left after (\d+) bytes")]
    private static partial Regex ReaderLeft();
}

using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// The container of an image InfraMind built from the same context is started while model.yaml is validated: used
/// when the manifest passes, removed unused when it does not, never left behind.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class EarlyStartTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public void Run_settings_travel_in_one_label_and_garbage_reads_as_none()
    {
        var manifest = ManifestReader.Validate(BrokenModel.Source).Manifest!;
        var labels = ImageIdentity.Labels(manifest, "sha256:00");
        var settings = RunSettings.FromLabels(labels);
        Assert.Equal(RunSettings.Of(manifest), settings);
        Assert.Equal(new RunSettings("broken-model@1.0.0", 9000, 1000, 256L * 1024 * 1024, 0), settings);
        var expected = ConformanceRunner.SpecFor(manifest, "img");
        var actual = settings!.ToSpec("img");
        Assert.Equal(expected, actual with { Labels = expected.Labels });
        Assert.Equal(expected.Labels, actual.Labels);

        labels[ImageIdentity.RunSettingsLabel] = "port=9000;cpu=lots;memory=1;gpu=0";
        Assert.Null(RunSettings.FromLabels(labels));
        labels.Remove(ImageIdentity.RunSettingsLabel);
        Assert.Null(RunSettings.FromLabels(labels));
    }

    [Fact]
    public void An_image_says_how_to_start_it_in_its_own_label_and_never_in_the_run_id_label()
    {
        var manifest = ManifestReader.Validate(BrokenModel.Source).Manifest!;
        var labels = ImageIdentity.Labels(manifest, "sha256:00");
        const string runIdLabel = "org.inframind.run";
        Assert.DoesNotContain(runIdLabel, labels.Keys);
        Assert.NotEqual(runIdLabel, ImageIdentity.RunSettingsLabel);

        // An image labelled before the two labels were split (settings under the run id's name) is not started early.
        var legacy = new Dictionary<string, string>(labels) { [runIdLabel] = labels[ImageIdentity.RunSettingsLabel] };
        legacy.Remove(ImageIdentity.RunSettingsLabel);
        Assert.Null(RunSettings.FromLabels(legacy));
    }

    [SkippableFact]
    public async Task A_second_run_uses_the_container_started_while_validating()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-early-good");
        BrokenModel.Create(package.Path, "early-good");
        var label = Guid.NewGuid().ToString("N");
        var options = Options(label);

        var first = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options with { Rebuild = true }, None);
        Assert.True(first.Passed, Describe(first));
        Assert.DoesNotContain("started while model.yaml was validated", Step(first, ConformanceSteps.Start).Detail, StringComparison.Ordinal);

        var second = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.True(second.Passed, Describe(second));
        Assert.Contains("reused", Step(second, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Contains("started while model.yaml was validated", Step(second, ConformanceSteps.Start).Detail, StringComparison.Ordinal);
        await AssertNothingLeftAsync(engine, label);
    }

    [SkippableFact]
    public async Task A_manifest_that_fails_validation_gets_its_early_container_removed_unused()
    {
        using var engine = await TestEngine.ConnectAsync();
        // What a more lenient InfraMind could have left: an image labelled as built from a context whose manifest
        // today's validation refuses. The early start finds it by its context digest and starts it.
        using var valid = new TempDirectory("im-early-valid");
        using var invalid = new TempDirectory("im-early-invalid");
        BrokenModel.Create(valid.Path, "early-invalid");
        BrokenModel.Create(invalid.Path, "early-invalid");
        var manifestPath = Path.Combine(invalid.Path, "model.yaml");
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("entrypoint: serve.py", "entrypoint: missing.py", StringComparison.Ordinal));
        Assert.False(ManifestReader.Validate(invalid.Path).IsValid);
        var manifest = ManifestReader.Validate(valid.Path).Manifest!;
        await engine.BuildImageAsync(valid.Path, "early-invalid:stale", ImageIdentity.Labels(manifest, ImageIdentity.ContextDigest(invalid.Path)), null, None);
        var label = Guid.NewGuid().ToString("N");
        try
        {
            var report = await new ConformanceRunner(engine).RunPackageAsync(invalid.Path, Options(label), None);

            Assert.False(report.Passed);
            Assert.Equal([Verdict.ManifestInvalid], report.Verdicts);
            Assert.Equal([ConformanceSteps.Validate], report.Steps.Select(s => s.Step));
            await AssertNothingLeftAsync(engine, label);
        }
        finally
        {
            await engine.RemoveImageAsync("early-invalid:stale", force: true, None);
        }
    }

    [Fact]
    public void The_image_index_is_a_hint_that_tolerates_garbage()
    {
        using var dir = new TempDirectory("im-index");
        var index = new ImageIndex(Path.Combine(dir.Path, "images"));
        var context = "sha256:" + new string('a', 64);
        Assert.Null(index.Find(context));
        index.Remember(context, "sha256:" + new string('b', 64));
        Assert.Equal("sha256:" + new string('b', 64), index.Find(context));
        File.WriteAllText(Path.Combine(index.Directory, new string('a', 64)), "not an id");
        Assert.Null(index.Find(context));
        Assert.Throws<ArgumentException>(() => index.Find("sha256:../../etc/passwd"));
    }

    [SkippableFact]
    public async Task Runs_find_their_image_through_the_index_and_survive_a_stale_entry()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-early-index");
        using var home = new TempDirectory("im-early-index-home");
        BrokenModel.Create(package.Path, "early-index");
        var label = Guid.NewGuid().ToString("N");
        var index = new ImageIndex(home.Path);
        var options = Options(label) with { ImageIndex = index };
        var context = ImageIdentity.ContextDigest(package.Path);

        var built = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options with { Rebuild = true }, None);
        Assert.True(built.Passed, Describe(built));
        var id = index.Find(context);
        Assert.Equal((await engine.InspectImageAsync("early-index:1.0.0", None))!.Id, id);

        var indexed = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.Contains("started while model.yaml was validated", Step(indexed, ConformanceSteps.Start).Detail, StringComparison.Ordinal);

        // An entry for an image that is gone: the run lists images, finds the real one and corrects the entry.
        index.Remember(context, "sha256:" + new string('0', 64));
        var stale = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.True(stale.Passed, Describe(stale));
        Assert.Contains("reused", Step(stale, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Equal(id, index.Find(context));
        await AssertNothingLeftAsync(engine, label);
    }

    private static ConformanceOptions Options(string label) => new()
    {
        Cases = 2,
        HookTimeout = TimeSpan.FromSeconds(20),
        ReadinessTimeout = TimeSpan.FromSeconds(10),
        Labels = new Dictionary<string, string> { ["org.inframind.test"] = label },
    };

    private static StepResult Step(ConformanceReport report, string step) => report.Steps.Single(s => s.Step == step);

    private static string Describe(ConformanceReport report) => string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Detail}"));

    private static async Task AssertNothingLeftAsync(ContainerEngine engine, string label)
    {
        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.test"] = label }, null, None);
        Assert.Empty(leftovers.Containers);
        Assert.Empty(leftovers.Networks);
    }
}

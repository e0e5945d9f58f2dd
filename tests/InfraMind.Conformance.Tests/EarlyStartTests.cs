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
    public void An_image_says_how_to_start_it_in_its_own_label_and_never_in_the_run_id_label()
    {
        var manifest = ManifestReader.Validate(BrokenModel.Source).Manifest!;
        var labels = ImageIdentity.Labels(manifest, "sha256:00");
        const string runIdLabel = "org.inframind.run";
        Assert.DoesNotContain(runIdLabel, labels.Keys);
        Assert.NotEqual(runIdLabel, ImageIdentity.RunSettingsLabel);
        Assert.Equal("port=9000;cpu=1000;memory=268435456;gpu=0", labels[ImageIdentity.RunSettingsLabel]);
    }

    [Fact]
    public void The_image_record_is_read_back_and_garbage_reads_as_none()
    {
        using var dir = new TempDirectory("im-index-record");
        var manifest = ManifestReader.Validate(BrokenModel.Source).Manifest!;
        var index = new ImageIndex(Path.Combine(dir.Path, "images"));
        var context = "sha256:" + new string('a', 64);
        var image = "sha256:" + new string('b', 64);
        Assert.Null(index.Find(context));
        index.RememberBuild(manifest, context, image);
        var record = index.Find(context);
        Assert.Equal(new ImageRecord(context, image, manifest.ManifestDigest, RunSettings.Of(manifest)), record);
        var expected = ConformanceRunner.SpecFor(manifest, image);
        var actual = record!.Settings.ToSpec(image);
        Assert.Equal(expected, actual with { Labels = expected.Labels });
        Assert.Equal(expected.Labels, actual.Labels);

        var file = Path.Combine(index.Directory, new string('a', 64) + ".json");
        File.WriteAllText(file, "not json");
        Assert.Null(index.Find(context));
        // A record filed under another context's name is not this context's.
        var other = "sha256:" + new string('c', 64);
        index.RememberBuild(manifest, other, image);
        File.Copy(Path.Combine(index.Directory, new string('c', 64) + ".json"), file, overwrite: true);
        Assert.Null(index.Find(context));
        File.WriteAllText(file, new string(' ', 20_000));
        Assert.Null(index.Find(context));
        Assert.Throws<ArgumentException>(() => index.Find("sha256:../../etc/passwd"));
    }

    [SkippableFact]
    public async Task A_second_run_uses_the_container_started_while_validating()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-early-good");
        BrokenModel.Create(package.Path, "early-good");
        using var home = new TempDirectory("im-early-good-home");
        var label = Guid.NewGuid().ToString("N");
        var options = Options(label) with { ImageIndex = new ImageIndex(home.Path) };

        var first = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options with { Rebuild = true }, None);
        Assert.True(first.Passed, Describe(first));
        Assert.DoesNotContain("started while model.yaml was validated", Step(first, ConformanceSteps.Start).Detail, StringComparison.Ordinal);
        // Meanwhile NAME:VERSION came to name another image (a copy of the package with the same name and version was
        // built): the reuse points it back at the image it tested, which `infra push DIR` then exports.
        var tag = ManifestReader.Validate(package.Path).Manifest!.ImageTag;
        var built = (await engine.InspectImageAsync(tag, None))!.Id;
        Assert.True(await engine.TagImageAsync(TestEngine.BaseImage, tag[..tag.LastIndexOf(':')], tag[(tag.LastIndexOf(':') + 1)..], None));
        Assert.NotEqual(built, (await engine.InspectImageAsync(tag, None))!.Id);

        var second = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.True(second.Passed, Describe(second));
        Assert.Contains("reused", Step(second, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Contains("tagged again", Step(second, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Equal(built, (await engine.InspectImageAsync(tag, None))!.Id);
        Assert.Contains("started while model.yaml was validated", Step(second, ConformanceSteps.Start).Detail, StringComparison.Ordinal);
        await AssertNothingLeftAsync(engine, label);
    }

    [SkippableFact]
    public async Task A_manifest_that_fails_validation_gets_its_early_container_removed_unused()
    {
        using var engine = await TestEngine.ConnectAsync();
        // What a more lenient InfraMind could have left: a record of an image built from a context whose manifest
        // today's validation refuses. The early start finds it by its context digest and starts it.
        using var valid = new TempDirectory("im-early-valid");
        using var invalid = new TempDirectory("im-early-invalid");
        using var home = new TempDirectory("im-early-invalid-home");
        BrokenModel.Create(valid.Path, "early-invalid");
        BrokenModel.Create(invalid.Path, "early-invalid");
        var manifestPath = Path.Combine(invalid.Path, "model.yaml");
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("entrypoint: serve.py", "entrypoint: missing.py", StringComparison.Ordinal));
        Assert.False(ManifestReader.Validate(invalid.Path).IsValid);
        var manifest = ManifestReader.Validate(valid.Path).Manifest!;
        var id = await engine.BuildImageAsync(valid.Path, "early-invalid:stale", ImageIdentity.Labels(manifest, ImageIdentity.ContextDigest(invalid.Path)), null, None);
        var index = new ImageIndex(home.Path);
        index.RememberBuild(manifest, ImageIdentity.ContextDigest(invalid.Path), id);
        var label = Guid.NewGuid().ToString("N");
        try
        {
            var report = await new ConformanceRunner(engine).RunPackageAsync(invalid.Path, Options(label) with { ImageIndex = index }, None);

            Assert.False(report.Passed);
            Assert.Equal([Verdict.ManifestInvalid], report.Verdicts);
            Assert.Equal([ConformanceSteps.Validate], report.Steps.Select(s => s.Step));
            await AssertNothingLeftAsync(engine, label);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, "early-invalid:stale");
        }
    }

    [SkippableFact]
    public async Task An_image_whose_labels_claim_the_package_is_never_reused_nor_started()
    {
        using var engine = await TestEngine.ConnectAsync();
        // A forgery: another model (one that breaks output_schema), tagged as the package's image and labelled with
        // the package's context and manifest digests and run settings without a memory limit. Before, `infra test`
        // found it by those labels, reused it and started it early with its own settings.
        using var package = new TempDirectory("im-forged-package");
        using var forgery = new TempDirectory("im-forged-image");
        using var home = new TempDirectory("im-forged-home");
        BrokenModel.Create(package.Path, "forged-target");
        BrokenModel.Create(forgery.Path, "forged-target", "BEHAVIOR=schema-violation");
        var manifest = ManifestReader.Validate(package.Path).Manifest!;
        var context = ImageIdentity.ContextDigest(package.Path);
        var labels = ImageIdentity.Labels(manifest, context);
        labels[ImageIdentity.RunSettingsLabel] = "port=9000;cpu=0;memory=0;gpu=0";
        var forged = await engine.BuildImageAsync(forgery.Path, manifest.ImageTag, labels, null, None);
        Assert.Contains(await engine.FindImagesAsync(new Dictionary<string, string> { [ImageIdentity.ContextDigestLabel] = context }, None), i => i.Id == forged);
        var label = Guid.NewGuid().ToString("N");
        var index = new ImageIndex(home.Path);
        try
        {
            var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, Options(label) with { ImageIndex = index }, None);

            Assert.True(report.Passed, Describe(report));
            Assert.StartsWith("built ", Step(report, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
            Assert.DoesNotContain("started while model.yaml was validated", Step(report, ConformanceSteps.Start).Detail, StringComparison.Ordinal);
            Assert.DoesNotContain(forged[..19], Step(report, ConformanceSteps.Start).Detail, StringComparison.Ordinal);
            var recorded = index.Find(context);
            Assert.NotNull(recorded);
            Assert.NotEqual(forged, recorded.ImageId);
            Assert.Equal(RunSettings.Of(manifest), recorded.Settings);
            await AssertNothingLeftAsync(engine, label);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, manifest.ImageTag, forged);
        }
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
        var id = index.Find(context)?.ImageId;
        Assert.Equal((await engine.InspectImageAsync("early-index:1.0.0", None))!.Id, id);

        var indexed = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.Contains("reused", Step(indexed, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Contains("started while model.yaml was validated", Step(indexed, ConformanceSteps.Start).Detail, StringComparison.Ordinal);

        // A record of an image that is gone: the run builds (the layers are cached) and records the new build.
        var manifest = ManifestReader.Validate(package.Path).Manifest!;
        index.RememberBuild(manifest, context, "sha256:" + new string('0', 64));
        var stale = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, None);
        Assert.True(stale.Passed, Describe(stale));
        Assert.StartsWith("built ", Step(stale, ConformanceSteps.Image).Detail, StringComparison.Ordinal);
        Assert.Equal(id, index.Find(context)?.ImageId);
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

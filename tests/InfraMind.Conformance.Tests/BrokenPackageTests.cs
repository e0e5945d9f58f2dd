using InfraMind.Containers;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// Every verdict of a conformance run (the hostile ones in <see cref="HostileModelTests"/>), each proven with a package broken on purpose (tests/packages/broken-model with
/// one behaviour switched on), against the real engine. After each run nothing labelled for the run may remain.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class BrokenPackageTests
{
    public static TheoryData<string, string?, string, string> Cases() => new()
    {
        // name,           Dockerfile edit,                      expected verdict,                         text the detail must contain
        { "good", null, "", "" },
        { "build", "RUN exit 9", Verdict.BuildFailed.WireName, "RUN exit 9" },
        { "exit", "BEHAVIOR=exit", Verdict.ContainerExited.WireName, "code 3" },
        // Without an init hook the exit is seen while readiness waits (with one, the init step sees it first): the exit, not no-answer-on-port.
        { "exit-in-readiness", "BEHAVIOR=exit", Verdict.ContainerExited.WireName, "code 3" },
        { "oom", "BEHAVIOR=oom", Verdict.OomKilled.WireName, "out of memory" },
        { "init", "HOOK_FAIL=init", Verdict.InitFailed.WireName, "exited 7; stderr: init: tokenizer missing" },
        { "warmup", "HOOK_FAIL=warmup", Verdict.WarmupFailed.WireName, "exited 5" },
        { "healthcheck", "HOOK_FAIL=healthcheck", Verdict.HealthcheckFailed.WireName, "unhealthy: queue stuck" },
        { "silent", "BEHAVIOR=silent", Verdict.NoAnswerOnPort.WireName, "no answer on port 9000 within 1 s" },
        { "wrong-port", "BEHAVIOR=wrong-port", Verdict.WrongPort.WireName, "listens on 8080 but model.yaml declares port 9000" },
        { "schema", "BEHAVIOR=schema-violation", Verdict.OutputSchemaViolation.WireName, "/summary" },
        { "500-valid", "BEHAVIOR=500-on-valid", Verdict.ServerErrorOnValidInput.WireName, "answered 500 to a valid input" },
        { "500-invalid", "BEHAVIOR=500-on-invalid", Verdict.ServerErrorOnInvalidInput.WireName, "answered 500 to an invalid input" },
        { "crash-invalid", "BEHAVIOR=crash-on-invalid", Verdict.ServerErrorOnInvalidInput.WireName, "invalid" },
        { "slow", "BEHAVIOR=slow", Verdict.RequestTimeout.WireName, "no answer within 1 s" },
        // An h2c-only server answers an HTTP/1.1 request with HTTP/2 frames (a garbage status line to the client, not a
        // dropped connection as grpcio's does): named as the other protocol all the same, not malformed-answer.
        { "h2-frames", "BEHAVIOR=h2-frames", Verdict.WrongProtocol.WireName, "speaks HTTP/2 (h2c, as gRPC servers speak), but model.yaml declares protocol: rest" },
        { "crowd", "BEHAVIOR=crowd", Verdict.NoAnswerOnPort.WireName, "161 of its 256 processes and threads in use" },
        // The publisher's schema sizes the test inputs: a minimum of a billion characters builds none (nothing sent), and
        // the verdict says what could not be satisfied, not that the schema admits no input.
        { "huge-minimum", null, Verdict.ManifestInvalid.WireName, "could not build a valid input from input_schema within its bounds (strings of at most 65,536 characters, arrays of at most 256 items, 20,000 values and 512 KiB of text in one input); it could not satisfy: minLength at /properties/text (over 65,536 characters)" },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Each_broken_package_gets_its_precise_verdict(string name, string? edit, string verdict, string detail)
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-broken-" + name);
        var isStep = edit?.StartsWith("RUN", StringComparison.Ordinal) == true;
        BrokenModel.Create(package.Path, $"broken-{name}", isStep ? null : edit, isStep ? edit : null, name == "oom" ? "48Mi" : null);
        if (name == "huge-minimum")
        {
            var yaml = Path.Combine(package.Path, "model.yaml");
            var text = await File.ReadAllTextAsync(yaml);
            Assert.Contains("{text: {type: string}}", text, StringComparison.Ordinal);
            await File.WriteAllTextAsync(yaml, text.Replace("{text: {type: string}}", "{text: {type: string, minLength: 1000000000}}", StringComparison.Ordinal));
        }

        if (name == "exit-in-readiness")
        {
            var yaml = Path.Combine(package.Path, "model.yaml");
            var text = await File.ReadAllTextAsync(yaml);
            Assert.Contains("hooks: {init: hooks/init.sh, ", text, StringComparison.Ordinal);
            await File.WriteAllTextAsync(yaml, text.Replace("hooks: {init: hooks/init.sh, ", "hooks: {", StringComparison.Ordinal));
        }

        var runLabel = Guid.NewGuid().ToString("N");
        var options = new ConformanceOptions
        {
            Cases = name == "slow" ? 1 : 3,
            // wrong-port: long enough for the model to have bound 8080 when the listening ports are read, even under load.
            ReadinessTimeout = TimeSpan.FromSeconds(name switch { "silent" => 1, "wrong-port" => 5, _ => 10 }),
            RequestTimeout = TimeSpan.FromSeconds(name == "slow" ? 1 : 10),
            HookTimeout = TimeSpan.FromSeconds(20),
            Labels = new Dictionary<string, string> { ["org.inframind.test"] = runLabel },
        };

        var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, CancellationToken.None);

        if (verdict.Length == 0)
        {
            Assert.True(report.Passed, string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Detail}")));
            Assert.Empty(report.Verdicts);
        }
        else
        {
            Assert.False(report.Passed);
            Assert.True(report.Verdicts.Any(v => v.WireName == verdict), string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Verdict} {s.Detail}")));
            var details = report.Steps.Select(s => s.Detail).Concat(report.Cases.Select(c => c.Detail));
            Assert.Contains(details, d => d.Contains(detail, StringComparison.Ordinal));
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.test"] = runLabel }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        Assert.Empty(leftovers.Networks);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineCollection
{
    public const string Name = "engine";
}

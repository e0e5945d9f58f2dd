using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra test` end to end against the real engine: the examples pass, reports are written, exit codes hold.</summary>
[Collection(EngineTests.Name)]
public sealed class TestCommandTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableTheory]
    [InlineData("summarizer-v1")]
    [InlineData("iris-classifier")]
    [InlineData("sentiment-grpc")]
    public async Task Example_passes_with_json_and_junit_reports(string example)
    {
        using var engine = await TestEngine.ConnectAsync();
        var json = Path.Combine(_cli.Work, "report.json");
        // --timeout 30s: the examples leave readiness at its 3 s default, which a loaded machine starting Python (grpcio
        // for sentiment-grpc) can use up; the port still answers in well under a second on a quiet one.
        var (code, output, err) = await _cli.RunAsync("test", "--container", TestEngine.ExampleDir(example), "--timeout", "30s", "--report", "json", json);
        Assert.True(code == 0, output + err);
        Assert.Contains("PASSED", output, StringComparison.Ordinal);
        var report = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.True(report.GetProperty("passed").GetBoolean());
        Assert.True(report.GetProperty("cases").GetArrayLength() >= 10);
        Assert.All(report.GetProperty("cases").EnumerateArray(), c => Assert.Equal("passed", c.GetProperty("status").GetString()));

        var junit = Path.Combine(_cli.Work, "report.xml");
        Assert.Equal(0, (await _cli.RunAsync("test", TestEngine.ExampleDir(example), "--timeout", "30s", "--report", "junit", junit, "--cases", "3")).Code);
        var suite = XDocument.Load(junit).Root!.Element("testsuite")!;
        Assert.Equal("0", suite.Attribute("failures")!.Value);
        Assert.True(int.Parse(suite.Attribute("tests")!.Value, System.Globalization.CultureInfo.InvariantCulture) >= 8);
    }

    /// <summary>
    /// Under --json, `build` and `test` show their progress on stderr, as push and pull do, and stdout holds the JSON
    /// document alone. Found by an audit: both were silent under --json for the whole build and run (minutes on a
    /// real model), the build's output and the steps and cases dropped.
    /// </summary>
    [SkippableFact]
    public async Task Build_and_test_under_json_show_their_progress_on_stderr()
    {
        using var engine = await TestEngine.ConnectAsync();
        var package = Path.Combine(_cli.Work, "progress");
        Assert.Equal(0, (await _cli.RunAsync("init", "progress-json", "--dir", package)).Code);

        var (built, output, err) = await _cli.RunAsync("build", package, "--json");
        Assert.True(built == 0, $"exit {built}\n{output}\n{err}");
        Assert.Equal("progress-json:0.1.0", JsonDocument.Parse(output).RootElement.GetProperty("image").GetString());
        Assert.Contains("FROM python:3.10-slim", err, StringComparison.Ordinal);

        var (tested, report, progress) = await _cli.RunAsync("test", package, "--timeout", "30s", "--cases", "2", "--json");
        Assert.True(tested == 0, $"exit {tested}\n{report}\n{progress}");
        Assert.True(JsonDocument.Parse(report).RootElement.GetProperty("passed").GetBoolean());
        Assert.Contains("▶ healthcheck:", progress, StringComparison.Ordinal);
        Assert.Contains("✓ healthcheck:", progress, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", progress, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("600.5")]
    [InlineData("1e12")]
    [InlineData("NaN")]
    public async Task A_timeout_out_of_the_manifests_range_is_a_usage_error_before_anything_runs(string seconds)
    {
        // Held to the rule of model.yaml's timeout (1ms to 10m): before, 1e12 ended in a stack trace and 0 in a sure failure.
        var (code, output, err) = await _cli.RunAsync("test", "--container", TestEngine.ExampleDir("summarizer-v1"), "--timeout", seconds);
        Assert.True(code == 2, $"exit {code}\n{output}\n{err}");
        Assert.Contains("IM1033", output + err, StringComparison.Ordinal);
        Assert.Contains("--timeout", output + err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("rest")]
    [InlineData("grpc")]
    public async Task Init_output_passes_infra_test(string protocol)
    {
        using var engine = await TestEngine.ConnectAsync();
        var dir = Path.Combine(_cli.Work, "fresh-model");
        Assert.Equal(0, (await _cli.RunAsync("init", "fresh-" + protocol, "--protocol", protocol, "--dir", dir)).Code);
        var report = await _cli.RunJsonAsync(0, "test", "--container", dir, "--json");
        Assert.True(report.GetProperty("passed").GetBoolean());
        // Invalid inputs were sent and refused as they must be (INVALID_ARGUMENT over gRPC, a 400 over REST).
        Assert.Contains(report.GetProperty("cases").EnumerateArray(), c => !c.GetProperty("positive").GetBoolean() && c.GetProperty("status").GetString() == "passed");
    }

    [SkippableFact]
    public async Task Broken_model_exits_1_with_the_verdict_in_json()
    {
        using var engine = await TestEngine.ConnectAsync();
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "broken"), "cli-schema", "BEHAVIOR=schema-violation");
        var report = await _cli.RunJsonAsync(1, "test", "--container", dir, "--json", "--cases", "2");
        Assert.False(report.GetProperty("passed").GetBoolean());
        Assert.Contains("output-schema-violation", report.GetProperty("verdicts").EnumerateArray().Select(v => v.GetString()));
        var failed = report.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("status").GetString() == "failed");
        Assert.Equal("/summary", failed.GetProperty("violations")[0].GetProperty("pointer").GetString());
    }

    [SkippableFact]
    public async Task A_base_image_the_engine_lacks_is_named_with_how_to_get_it()
    {
        // The engine's pull error was all the user got (here: a DNS failure for the default registry's host, named nowhere in the package).
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        const string missing = "inframind-test-missing-base:0";
        Assert.Null(await engine.InspectImageAsync(missing, CancellationToken.None));
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "missing-base"), "cli-missing-base");
        var dockerfile = Path.Combine(dir, "Dockerfile");
        await File.WriteAllTextAsync(dockerfile, (await File.ReadAllTextAsync(dockerfile)).Replace("FROM python:3.10-slim", $"FROM {missing}", StringComparison.Ordinal));

        var (code, output, err) = await _cli.RunAsync("build", dir, "--json");
        Assert.True(code == 1, $"exit {code}\n{output}\n{err}");
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM3002", error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains($"the base image {missing} is not in the engine, and the engine could not pull it", message, StringComparison.Ordinal);
        Assert.Contains("the engine's error: '", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Sending build context", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
        Assert.True(message.Length < 500, message);
        var hint = error.GetProperty("hint").GetString()!;
        Assert.Contains($"`docker pull {missing}`", hint, StringComparison.Ordinal);
        Assert.Contains("`docker load -i FILE`", hint, StringComparison.Ordinal);
        Assert.Contains("scripts/setup-engine.sh", hint, StringComparison.Ordinal);

        // infra test: the same, in the image step's detail.
        var report = await _cli.RunJsonAsync(1, "test", "--container", dir, "--json");
        Assert.Equal(["build-failed"], report.GetProperty("verdicts").EnumerateArray().Select(v => v.GetString()));
        var image = report.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("step").GetString() == "image");
        Assert.Contains($"the base image {missing} is not in the engine", image.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("docker load", image.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Null(await engine.InspectImageAsync("cli-missing-base:1.0.0", CancellationToken.None));
    }

    [Fact]
    public async Task Invalid_package_stops_at_validation_with_exit_1()
    {
        var dir = Path.Combine(_cli.Work, "invalid");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "model.yaml"), "name: x\n");
        // The model's own outcome, whatever the engine's state: validation runs first and needs no engine, so an
        // engine error (exit 3) here would be a defect, not an acceptable answer.
        var report = await _cli.RunJsonAsync(1, "test", "--container", dir, "--json");
        Assert.False(report.GetProperty("passed").GetBoolean());
        Assert.Equal(["manifest-invalid"], report.GetProperty("verdicts").EnumerateArray().Select(v => v.GetString()));
        var step = Assert.Single(report.GetProperty("steps").EnumerateArray());
        Assert.Equal("validate", step.GetProperty("step").GetString());
        Assert.Equal("failed", step.GetProperty("status").GetString());
        Assert.Contains("version", step.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, report.GetProperty("cases").GetArrayLength());
        // Each finding as `infra validate --json` gives it, a member for each part: before, only inside the detail's text.
        var error = report.GetProperty("errors").EnumerateArray().First(e => e.GetProperty("path").GetString() == "version");
        Assert.Equal("IM1010", error.GetProperty("code").GetString());
        Assert.Equal("model.yaml", error.GetProperty("file").GetString());
        Assert.NotEqual("", error.GetProperty("hint").GetString());
        var validate = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        Assert.True(JsonElement.DeepEquals(validate.GetProperty("errors"), report.GetProperty("errors")), report.GetProperty("errors").GetRawText());
    }

    [Fact]
    public async Task A_package_whose_manifest_does_not_validate_is_named_by_its_directory_not_a_name_and_an_empty_version()
    {
        // It read "FAILED badfield : manifest-invalid": the directory's name where the model's goes, and the gap of a version.
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "badfield"), "cli-badfield");
        var manifest = Path.Combine(dir, "model.yaml");
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(manifest)).Replace("protocol: rest", "protocol: grcp", StringComparison.Ordinal));
        foreach (var json in new[] { false, true })
        {
            var psi = InfraProcess.StartInfo(_cli.Home, ["test", "badfield", .. json ? new[] { "--json" } : []]);
            psi.WorkingDirectory = _cli.Work;
            psi.Environment["DOCKER_HOST"] = "unix:///tmp/no-such-engine.sock";
            var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromSeconds(60));
            Assert.True(code == 1, $"exit {code}\n{output}\n{err}");
            if (!json)
            {
                Assert.Contains("FAILED ./badfield: manifest-invalid", output, StringComparison.Ordinal);
                continue;
            }

            var report = JsonDocument.Parse(output).RootElement;
            // The members it had stay, for the scripts that read them.
            Assert.Equal(("badfield", JsonValueKind.Null, 0), (report.GetProperty("model").GetString(), report.GetProperty("version").ValueKind, report.GetProperty("port").GetInt32()));
            var error = Assert.Single(report.GetProperty("errors").EnumerateArray());
            Assert.Equal(("IM1027", "protocol", "model.yaml", 5), (error.GetProperty("code").GetString(), error.GetProperty("path").GetString(),
                error.GetProperty("file").GetString(), error.GetProperty("line").GetInt32()));
            Assert.Contains("grpc", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_grpc_models_case_row_shows_the_grpc_status_it_answered_and_a_rest_models_its_http_status()
    {
        // A gRPC model's rows read "200" and "400": the HTTP equivalents the judge reads, not what the model said.
        var output = new StringWriter();
        var view = new InfraMind.Cli.Commands.TestCommand.ConsoleView(_cli.Context(output).Console);
        view.Report(new InfraMind.Conformance.CaseFinished(Case("grpc-invalid", positive: false, CheckStatus.Passed, 400) with { GrpcStatus = "FAILED_PRECONDITION" }));
        view.Report(new InfraMind.Conformance.CaseFinished(Case("grpc-valid", positive: true, CheckStatus.Passed, 200) with { GrpcStatus = "OK" }));
        view.Report(new InfraMind.Conformance.CaseFinished(Case("rest-invalid", positive: false, CheckStatus.Passed, 400)));
        var rows = output.ToString().TrimEnd('\n').Split('\n');
        Assert.Contains(" FAILED_PRECONDITION ", rows[0], StringComparison.Ordinal);
        Assert.Contains(" OK ", rows[1], StringComparison.Ordinal);
        Assert.DoesNotContain("400", rows[0], StringComparison.Ordinal);
        Assert.DoesNotContain("200", rows[1], StringComparison.Ordinal);
        Assert.Contains(" 400 ", rows[2], StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_cases_long_request_is_cut_in_the_console_saying_how_long_it_was()
    {
        // Boundary cases send up to 2,048 characters each, and ten such failures buried the ones after them.
        var output = new StringWriter();
        var console = _cli.Context(output).Console;
        var body = "{\"text\": \"" + new string('x', 1990) + "\"}";
        var failed = Case("boundary-max-length", positive: true, CheckStatus.Failed, 500) with { Request = body, RequestLength = body.Length };
        var report = new ConformanceReport("m", "1.0.0", null, "m:1.0.0", 9000, [], [failed, Case("short", positive: true, CheckStatus.Failed, 500)], TimeSpan.Zero);
        InfraMind.Cli.Commands.TestCommand.Summary(console, report, "m");
        var lines = output.ToString().Split('\n');
        var requests = lines.Where(l => l.Contains("request:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, requests.Count);
        Assert.EndsWith($"request: {body[..InfraMind.Cli.Commands.TestCommand.RequestShown]}… (2,002 characters)", requests[0].TrimEnd(), StringComparison.Ordinal);
        Assert.EndsWith("request: {\"text\": \"hi\"}", requests[1].TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("FAILED m 1.0.0: server-error-on-valid-input", output.ToString(), StringComparison.Ordinal);
    }

    private static CaseResult Case(string name, bool positive, CheckStatus status, int code) =>
        new(name, positive, status, status == CheckStatus.Failed ? InfraMind.Serving.Verdict.ServerErrorOnValidInput : null, code, 12.5,
            status == CheckStatus.Failed ? "the model answered 500" : "", """{"text": "hi"}""", "{}", [])
        {
            RequestLength = 14,
        };

    [Fact]
    public async Task Missing_directory_and_bad_report_format_are_usage_errors()
    {
        Assert.Equal(2, (await _cli.RunAsync("test", "--container", Path.Combine(_cli.Work, "nope"))).Code);
        var (code, _, err) = await _cli.RunAsync("test", "--container", TestEngine.ExampleDir("summarizer-v1"), "--report", "html", "x.html");
        Assert.Equal(2, code);
        Assert.Contains("json FILE or --report junit FILE", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_no_package_named_the_current_directory_is_tested()
    {
        // As validate, build and push take it; it was a usage error ("no package given", exit 2). The directory holds
        // no model.yaml, so the run ends at validation, before any engine, with the directory's name as the model's.
        var here = Directory.CreateDirectory(Path.Combine(_cli.Work, "here-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var psi = InfraProcess.StartInfo(_cli.Home, "test", "--json");
        psi.WorkingDirectory = here;
        var (code, output, error) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
        Assert.True(code == 1, $"exit {code}\n{output}\n{error}");
        var report = System.Text.Json.JsonDocument.Parse(output).RootElement;
        Assert.Equal(Path.GetFileName(here), report.GetProperty("model").GetString());
        Assert.Equal("manifest-invalid", report.GetProperty("verdicts")[0].GetString());
        Assert.Contains("no model.yaml in .", report.GetProperty("steps")[0].GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_detail_of_several_lines_goes_on_indented_under_its_step()
    {
        // `infra init`'s init hook prints two lines; the second was printed at the margin, like a step of its own.
        var output = new StringWriter();
        var view = new InfraMind.Cli.Commands.TestCommand.ConsoleView(_cli.Context(output).Console);
        view.Report(new InfraMind.Conformance.StepFinished(new InfraMind.Conformance.StepResult("init", InfraMind.Conformance.CheckStatus.Passed, null,
            "hooks/init.sh exited 0 — [init] checking the lexicon\nlexicon: 40 words", TimeSpan.Zero)));
        Assert.Equal(["✓ init: hooks/init.sh exited 0 — [init] checking the lexicon", "    lexicon: 40 words"],
            output.ToString().TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Two_different_packages_are_a_usage_error_and_the_same_one_twice_is_not()
    {
        // The argument and --container both name the package; one of two different ones was silently dropped.
        var a = Path.Combine(_cli.Work, "a");
        var b = Path.Combine(_cli.Work, "b");
        Directory.CreateDirectory(a);
        Directory.CreateDirectory(b);
        var error = await _cli.RunJsonAsync(2, "test", a, "--container", b, "--json");
        Assert.Equal("IM0002", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("two packages given", error.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // The same directory both ways is that package: validation runs (no model.yaml, exit 1), not a usage error.
        Assert.Equal(1, (await _cli.RunAsync("test", a, "--container", a + "/", "--json")).Code);
    }

    [Theory]
    [InlineData("no-such-dir/report.json", "does not exist")]
    [InlineData("a-directory", "is a directory")]
    [InlineData("a-file/report.json", "is not a directory")]
    public async Task A_report_that_cannot_be_written_is_refused_before_anything_runs(string where, string why)
    {
        // It was found only when the report was written, after the whole run: the run's result was lost with it.
        Directory.CreateDirectory(Path.Combine(_cli.Work, "a-directory"));
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "a-file"), "");
        var report = Path.Combine(_cli.Work, where);
        foreach (var format in new[] { "json", "junit" })
        {
            // Without an engine: checked after the run, or only after connecting, this would be IM3001 (exit 3).
            var psi = InfraProcess.StartInfo(_cli.Home, "test", "--container", TestEngine.ExampleDir("summarizer-v1"), "--report", format, report, "--json");
            psi.Environment["DOCKER_HOST"] = $"unix:///tmp/nonexistent-{Guid.NewGuid():N}.sock";
            var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromSeconds(60));
            Assert.True(code == 2, $"exit {code}\n{output}\n{err}");
            var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
            Assert.Equal("IM0005", error.GetProperty("code").GetString());
            var message = error.GetProperty("message").GetString()!;
            Assert.Contains("--report", message, StringComparison.Ordinal);
            Assert.Contains(Path.GetDirectoryName(report)!, message, StringComparison.Ordinal);
            Assert.Contains(why, message, StringComparison.Ordinal);
            Assert.Equal(JsonValueKind.String, error.GetProperty("hint").ValueKind);
            Assert.DoesNotContain("IM3001", output + err, StringComparison.Ordinal);
            Assert.DoesNotContain("▶", output + err, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(Path.Combine(_cli.Work, "no-such-dir")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_cli.Work, "a-directory")));
    }

    [Fact]
    public async Task A_writable_report_destination_is_left_as_it_was_when_the_run_fails_before_writing()
    {
        // The up-front check writes nothing: a report that existed is untouched until the run's own report replaces it.
        var report = Path.Combine(_cli.Work, "kept.json");
        await File.WriteAllTextAsync(report, "before");
        var psi = InfraProcess.StartInfo(_cli.Home, "test", "--container", TestEngine.ExampleDir("summarizer-v1"), "--report", "json", report, "--json");
        psi.Environment["DOCKER_HOST"] = $"unix:///tmp/nonexistent-{Guid.NewGuid():N}.sock";
        var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromSeconds(60));
        Assert.True(code == 3, $"exit {code}\n{output}\n{err}");
        Assert.Equal("before", await File.ReadAllTextAsync(report));
        Assert.Equal([report], Directory.EnumerateFileSystemEntries(_cli.Work).Where(e => !Directory.Exists(e)));
    }

    [Fact]
    public async Task No_engine_gives_exit_3_and_the_fix()
    {
        var (code, output, err) = await TestWithoutEngineAsync(TestEngine.ExampleDir("summarizer-v1"));
        Assert.Equal(3, code);
        Assert.Contains("IM3001", err, StringComparison.Ordinal);
        Assert.Contains("setup-engine.sh", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Podman_runs_the_model_with_no_network_and_it_passes()
    {
        // Podman 4.x ignores the bridge options a firewall-made isolation needs, so runs were refused there (IM3009).
        // With no network at all there is nothing for it to ignore.
        await using var podman = await PodmanPeer.StartAsync();
        await PodmanPeer.ImportFromDockerAsync(TestEngine.BaseImage);
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "on-podman"), "cli-podman");
        var psi = InfraProcess.StartInfo(_cli.Home, "test", "--container", dir, "--cases", "2", "--json");
        psi.Environment["DOCKER_HOST"] = podman.Endpoint.ToString();
        var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"exit {code}: {output}\n{err}");
        var report = JsonDocument.Parse(output).RootElement;
        Assert.True(report.GetProperty("passed").GetBoolean());
        Assert.Contains(report.GetProperty("steps").EnumerateArray(), s => s.GetProperty("detail").GetString()!.Contains("no network", StringComparison.Ordinal));
        using var engine = await ContainerEngine.ConnectAsync(podman.Endpoint, CancellationToken.None);
        var left = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "cli-podman@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(left.Containers);
        Assert.Empty(left.Networks);
        await TestEngine.RemoveTestImagesAsync(engine, force: true, "cli-podman:1.0.0");
    }

    [SkippableFact]
    public async Task Without_the_right_to_enter_namespaces_a_run_is_refused_with_IM3009_exit_3_and_nothing_runs()
    {
        using var engine = await TestEngine.ConnectAsync();
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "no-sys-admin"), "cli-no-sys-admin");
        // Root still, with the engine's socket, but without CAP_SYS_ADMIN: what InfraMind would be as an unprivileged user.
        var psi = Unprivileged(InfraProcess.StartInfo(_cli.Home, "test", "--container", dir, "--cases", "2"));
        var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(3));
        Assert.True(code == 3, $"exit {code}: {output}\n{err}");
        Assert.Contains("error IM3009: isolation cannot be enforced", err, StringComparison.Ordinal);
        Assert.Contains("CAP_SYS_ADMIN", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
        var left = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "cli-no-sys-admin@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(left.Containers);
        await TestEngine.RemoveTestImagesAsync(engine, force: true, "cli-no-sys-admin:1.0.0");
    }

    /// <summary>The same command, run without CAP_SYS_ADMIN (dropped from the bounding set: root's capabilities after exec).</summary>
    internal static ProcessStartInfo Unprivileged(ProcessStartInfo psi)
    {
        var wrapped = new ProcessStartInfo("setpriv", ["--bounding-set=-sys_admin", "--", psi.FileName, .. psi.ArgumentList])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = psi.WorkingDirectory,
        };
        foreach (var (key, value) in psi.Environment) wrapped.Environment[key] = value;
        return wrapped;
    }

    [Fact]
    public async Task An_invalid_manifest_is_reported_without_an_engine()
    {
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "invalid-no-engine"), "cli-invalid");
        var manifest = Path.Combine(dir, "model.yaml");
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(manifest)).Replace("port: 9000", "port: 70000", StringComparison.Ordinal));
        var (code, output, err) = await TestWithoutEngineAsync(dir);
        Assert.Equal(1, code);
        Assert.Contains("manifest-invalid", output, StringComparison.Ordinal);
        Assert.Contains("port", output, StringComparison.Ordinal);
        Assert.DoesNotContain("IM3001", output + err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
    }

    private Task<(int Code, string Out, string Err)> TestWithoutEngineAsync(string dir)
    {
        var psi = InfraProcess.StartInfo(_cli.Home, "test", "--container", dir);
        psi.Environment["DOCKER_HOST"] = "unix:///tmp/no-such-engine.sock";
        return InfraProcess.RunAsync(psi, TimeSpan.FromSeconds(60));
    }

    [SkippableFact]
    public async Task Ctrl_c_during_a_run_removes_the_container_and_exits_130()
    {
        using var engine = await TestEngine.ConnectAsync();
        var dir = BrokenModel.Create(Path.Combine(_cli.Work, "slow"), "cli-slow", "BEHAVIOR=slow");
        Assert.Equal(0, (await _cli.RunAsync("build", dir)).Code);

        using var p = Process.Start(InfraProcess.StartInfo(_cli.Home, "test", "--container", dir, "--cases", "5"))!;
        var stderr = p.StandardError.ReadToEndAsync();
        string? line;
        while ((line = await p.StandardOutput.ReadLineAsync()) is not null && !line.Contains("▶ cases", StringComparison.Ordinal))
        {
        }

        Assert.NotNull(line);
        // The run's container is there (seen by another client, the docker CLI), so that "none left" below means removed.
        Assert.Single(RunningContainers("cli-slow@1.0.0"));
        Assert.Equal(0, InfraProcess.Signal(p.Id, 2)); // SIGINT, as Ctrl-C sends
        var rest = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 130, rest + await stderr);
        Assert.Empty(RunningContainers("cli-slow@1.0.0", all: true));
        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "cli-slow@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        Assert.Empty(leftovers.Networks);
    }

    /// <summary>The ids of the containers (running, or <paramref name="all"/>) labelled with the model.</summary>
    private static string[] RunningContainers(string model, bool all = false) =>
        DockerCli.Run(check: true, ["ps", "-q", .. all ? new[] { "-a" } : [], "--filter", $"label=org.inframind.model={model}"])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineTests
{
    public const string Name = "engine";
}

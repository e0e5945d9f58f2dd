using System.Diagnostics;
using System.Text.Json;

namespace InfraMind.Cli.Tests;

public sealed class ValidateAndInitTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>
    /// A Dockerfile that is a link to a device is judged by what it names, not by the link: the size check saw the
    /// link's own length (9 bytes for /dev/zero) and `infra validate` read the device without end (IM0001, exit 70:
    /// found by an audit). It is now not read, as an oversized Dockerfile is not; like an empty one (stat says 0 bytes),
    /// it gets the warning that the engine will refuse to build from it.
    /// </summary>
    [Fact]
    public async Task A_Dockerfile_linked_to_a_device_is_not_read_without_end()
    {
        var dir = Path.Combine(_cli.Work, "linked");
        Assert.Equal(0, (await _cli.RunAsync("init", "linked", "--dir", dir)).Code);
        var dockerfile = Path.Combine(dir, "Dockerfile");
        File.Delete(dockerfile);
        File.CreateSymbolicLink(dockerfile, "/dev/zero");

        var (code, output, error) = await InfraProcess.RunAsync(_cli.Home, "validate", dir, "--json");

        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        var result = JsonDocument.Parse(output).RootElement;
        Assert.True(result.GetProperty("valid").GetBoolean());
        var warning = Assert.Single(result.GetProperty("warnings").EnumerateArray());
        Assert.Equal(("IM1054", "the Dockerfile is empty (0 bytes); the engine will refuse to build"),
            (warning.GetProperty("code").GetString(), warning.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Init_writes_a_package_that_validates()
    {
        var dir = Path.Combine(_cli.Work, "sentiment-v1");
        var created = await _cli.RunJsonAsync(0, "init", "sentiment-v1", "--dir", dir, "--json");
        Assert.True(created.GetProperty("valid").GetBoolean());
        foreach (var f in new[] { "Dockerfile", "model.yaml", "serve.py", "hooks/init.sh", "hooks/health.sh", "README.md" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);

        var result = await _cli.RunJsonAsync(0, "validate", dir, "--json");
        Assert.True(result.GetProperty("valid").GetBoolean());
        Assert.Equal(0, result.GetProperty("errors").GetArrayLength());
        Assert.Equal(0, result.GetProperty("warnings").GetArrayLength());
        Assert.Matches("^sha256:[0-9a-f]{64}$", result.GetProperty("manifestDigest").GetString());
    }

    [Fact]
    public async Task Init_grpc_package_validates()
    {
        var dir = Path.Combine(_cli.Work, "g");
        Assert.Equal(0, (await _cli.RunAsync("init", "grpc-model", "--protocol", "grpc", "--dir", dir)).Code);
        var result = await _cli.RunJsonAsync(0, "validate", dir, "--json");
        Assert.True(result.GetProperty("valid").GetBoolean());
        Assert.Contains("protocol: grpc", File.ReadAllText(Path.Combine(dir, "model.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_model_really_classifies_text()
    {
        var dir = Path.Combine(_cli.Work, "m");
        Assert.Equal(0, (await _cli.RunAsync("init", "m", "--dir", dir)).Code);
        var psi = new ProcessStartInfo("python3", ["-c", "import serve, json; print(json.dumps([serve.classify('what a great and wonderful day'), serve.classify('this is not good, it is terrible')]))"])
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        var answers = JsonDocument.Parse(output).RootElement;
        Assert.Equal("positive", answers[0].GetProperty("label").GetString());
        Assert.Equal("negative", answers[1].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Init_refuses_a_non_empty_directory_and_keeps_its_files()
    {
        var dir = Path.Combine(_cli.Work, "taken");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "keep.txt"), "mine");
        var (code, _, err) = await _cli.RunAsync("init", "taken", "--dir", dir);
        Assert.Equal(1, code);
        Assert.Contains("IM1060", err, StringComparison.Ordinal);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "keep.txt")));
        Assert.Single(Directory.GetFileSystemEntries(dir));
    }

    /// <summary>A --dir where no directory can be made: IM0005 naming the file, or the directory that takes none, never .NET's text.</summary>
    [Fact]
    public async Task Init_names_a_dir_that_is_a_file_or_cannot_be_created()
    {
        var file = Path.Combine(_cli.Work, "a-file");
        File.WriteAllText(file, "mine");
        foreach (var (dir, message) in new[]
                 {
                     (file, $"{file} is a file; init creates a directory"),
                     (Path.Combine(file, "x"), $"cannot create {file}/x: {file} is a file, not a directory"),
                     ("/proc/nope/x", "cannot create /proc/nope/x: /proc takes no new directories"),
                 })
        {
            var (code, output, err) = await _cli.RunAsync("init", "m", "--dir", dir, "--json");
            Assert.True(code == 2, $"exit {code}\n{output}\n{err}");
            var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
            Assert.Equal("IM0005", e.GetProperty("code").GetString());
            Assert.Equal(message, e.GetProperty("message").GetString());
            Assert.Contains("--dir", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("Could not find", output + err, StringComparison.Ordinal);
        }

        Assert.Equal("mine", File.ReadAllText(file));
    }

    [Fact]
    public async Task Init_rejects_an_invalid_name_as_usage_error()
    {
        var (code, _, err) = await _cli.RunAsync("init", "Bad_Name", "--dir", Path.Combine(_cli.Work, "x"));
        Assert.Equal(2, code);
        Assert.Contains("IM1020", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_cli.Work, "x")));
    }

    [Fact]
    public async Task Validate_reports_every_error_in_json_with_location_and_hint()
    {
        var dir = Path.Combine(_cli.Work, "p");
        Assert.Equal(0, (await _cli.RunAsync("init", "p", "--dir", dir)).Code);
        var yaml = File.ReadAllText(Path.Combine(dir, "model.yaml"))
            .Replace("version: 0.1.0", "version: one", StringComparison.Ordinal)
            .Replace("port: 9000", "port: 0", StringComparison.Ordinal)
            .Replace("protocol: rest", "protocol: rest\nbogus: 1", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "model.yaml"), yaml);

        var result = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        Assert.False(result.GetProperty("valid").GetBoolean());
        var errors = result.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(["IM1011", "IM1021", "IM1028"], errors.Select(e => e.GetProperty("code").GetString()!).Order().ToArray());
        // In file order, as the human view lists them (the unknown field, on line 6, came first).
        var lines = errors.Select(e => e.GetProperty("line").GetInt32()).ToList();
        Assert.Equal(lines.Order(), lines);
        foreach (var e in errors)
        {
            Assert.True(e.GetProperty("line").GetInt32() > 0);
            Assert.True(e.GetProperty("column").GetInt32() > 0);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("hint").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("path").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
        }
    }

    /// <summary>
    /// An invalid package still says which model it is: its name and version whenever those fields are valid (they
    /// were null in --json as soon as any field was wrong); null only for the field that is itself missing or invalid.
    /// </summary>
    [Fact]
    public async Task Validate_names_the_model_of_an_invalid_package_whenever_its_name_and_version_read()
    {
        var dir = Path.Combine(_cli.Work, "named");
        Assert.Equal(0, (await _cli.RunAsync("init", "named-model", "--dir", dir)).Code);
        var yaml = Path.Combine(dir, "model.yaml");
        var text = await File.ReadAllTextAsync(yaml);
        await File.WriteAllTextAsync(yaml, text.Replace("port: 9000", "port: 0", StringComparison.Ordinal));

        var result = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        Assert.Equal("IM1028", Assert.Single(result.GetProperty("errors").EnumerateArray()).GetProperty("code").GetString());
        Assert.Equal("named-model", result.GetProperty("name").GetString());
        Assert.Equal("0.1.0", result.GetProperty("version").GetString());
        var (code, output, _) = await _cli.RunAsync("validate", dir);
        Assert.Equal(1, code);
        Assert.Contains("(named-model 0.1.0): 1 error", output, StringComparison.Ordinal);

        // The version itself wrong: the name still reads, the version is null.
        await File.WriteAllTextAsync(yaml, text.Replace("version: 0.1.0", "version: one", StringComparison.Ordinal));
        result = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        Assert.Equal("named-model", result.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("version").ValueKind);
        (_, output, _) = await _cli.RunAsync("validate", dir);
        Assert.Contains("(named-model): 1 error", output, StringComparison.Ordinal);

        // The name missing: null, the version still given.
        await File.WriteAllTextAsync(yaml, System.Text.RegularExpressions.Regex.Replace(text, "(?m)^name: .*\n", ""));
        result = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        Assert.Equal(JsonValueKind.Null, result.GetProperty("name").ValueKind);
        Assert.Equal("0.1.0", result.GetProperty("version").GetString());
    }

    /// <summary>
    /// A package with more than 100 findings lists 100, then IM1014 with the count of the rest; the human view and
    /// --json (errorCount) both give the whole count, and IM1070 (`build`) says how many are not listed.
    /// </summary>
    [Fact]
    public async Task Validate_lists_100_findings_and_counts_every_one()
    {
        var dir = Path.Combine(_cli.Work, "many");
        Assert.Equal(0, (await _cli.RunAsync("init", "many", "--dir", dir)).Code);
        var yaml = Path.Combine(dir, "model.yaml");
        var text = await File.ReadAllTextAsync(yaml);
        await File.WriteAllTextAsync(yaml, text + string.Concat(Enumerable.Range(0, 150).Select(i => $"extra{i}: 1\n")));

        var result = await _cli.RunJsonAsync(1, "validate", dir, "--json");
        var errors = result.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(101, errors.Count);
        Assert.Equal((150, 0), (result.GetProperty("errorCount").GetInt32(), result.GetProperty("warningCount").GetInt32()));
        Assert.Equal("IM1014", errors[^1].GetProperty("code").GetString());
        Assert.StartsWith("50 more findings than the 100 listed (50 errors, 0 warnings)", errors[^1].GetProperty("message").GetString(), StringComparison.Ordinal);

        var (code, output, _) = await _cli.RunAsync("validate", dir);
        Assert.Equal(1, code);
        Assert.Contains("(many 0.1.0): 150 errors", output, StringComparison.Ordinal);
        // The count comes last in its file's group, after the findings with a line.
        var lines = output.Split('\n');
        Assert.Contains("error IM1014 - 50 more findings", lines.Last(l => l.Contains("error IM", StringComparison.Ordinal)), StringComparison.Ordinal);

        // `infra test` stops at validation with the same count, and the same findings in errors[].
        var report = await _cli.RunJsonAsync(1, "test", "--container", dir, "--json");
        var step = Assert.Single(report.GetProperty("steps").EnumerateArray());
        Assert.StartsWith("150 errors: model.yaml:", step.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(JsonElement.DeepEquals(result.GetProperty("errors"), report.GetProperty("errors")), report.GetProperty("errors").GetRawText());
    }

    [Fact]
    public async Task Validate_human_output_groups_errors_without_colour_when_redirected()
    {
        var file = Path.Combine(_cli.Work, "model.yaml");
        File.WriteAllText(file, "name: x\nversion: 1\n");
        var (code, output, _) = await _cli.RunAsync("validate", file);
        Assert.Equal(1, code);
        Assert.DoesNotContain("\u001b[", output, StringComparison.Ordinal);
        Assert.Contains("error IM1021", output, StringComparison.Ordinal);
        Assert.Contains("model.yaml:", output.Replace(" model.yaml\n", " model.yaml:\n", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("fix:", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A finding quotes what the package says, and a package may be a stranger's: an escape sequence in a value reaches
    /// the terminal escaped, and a value of any length makes a message of at most 400 characters (a 900 KB scalar
    /// document made a 900 KB message), in `validate` and in the IM1070 of `build`.
    /// </summary>
    [Fact]
    public async Task A_finding_quotes_the_package_escaped_and_bounded()
    {
        var dir = Path.Combine(_cli.Work, "hostile");
        Assert.Equal(0, (await _cli.RunAsync("init", "hostile", "--dir", dir)).Code);
        var yaml = Path.Combine(dir, "model.yaml");
        var text = await File.ReadAllTextAsync(yaml);
        await File.WriteAllTextAsync(yaml, System.Text.RegularExpressions.Regex.Replace(text, "(?m)^version: .*$", "version: \"1.0\\e[2J\\e]0;owned\\a\\nerror IM0000: forged\""));

        var (code, output, _) = await _cli.RunAsync("validate", dir);
        Assert.Equal(1, code);
        Assert.Contains("version '1.0\\u001B[2J\\u001B]0;owned\\u0007\\u000Aerror IM0000: forged' is not SemVer 2.0", output, StringComparison.Ordinal);
        Assert.DoesNotContain(output, c => char.IsControl(c) && c != '\n');
        Assert.DoesNotContain("\nerror IM0000", output, StringComparison.Ordinal);

        var scalar = Path.Combine(_cli.Work, "scalar.yaml");
        await File.WriteAllTextAsync(scalar, new string('x', 900_000));
        var finding = (await _cli.RunJsonAsync(1, "validate", scalar, "--json")).GetProperty("errors")[0];
        Assert.Equal("IM1008", finding.GetProperty("code").GetString());
        var message = finding.GetProperty("message").GetString()!;
        Assert.True(message.Length <= 400, $"{message.Length} characters");
        Assert.StartsWith("scalar.yaml must be a mapping of fields, found a string 'xxx", message, StringComparison.Ordinal);
        Assert.Contains("characters cut", message, StringComparison.Ordinal);
        Assert.EndsWith("xxx'", message, StringComparison.Ordinal);

        var (buildCode, _, buildError) = await _cli.RunAsync("build", scalar);
        Assert.Equal(1, buildCode);
        Assert.StartsWith("error IM1070: ", buildError, StringComparison.Ordinal);
        Assert.True(buildError.Length < 2_000, $"{buildError.Length} characters on stderr");
    }

    [Fact]
    public async Task Validate_missing_path_is_a_usage_error()
    {
        var (code, output, _) = await _cli.RunAsync("validate", Path.Combine(_cli.Work, "absent"));
        Assert.Equal(2, code);
        Assert.Contains("IM1000", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_option_is_a_usage_error()
    {
        var (code, _, err) = await _cli.RunAsync("init", "x", "--colour", "blue");
        Assert.Equal(2, code);
        Assert.Contains("IM0002", err, StringComparison.Ordinal);
        Assert.Contains("--help", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_documents_the_exit_codes()
    {
        var (code, output, _) = await _cli.RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("Exit codes: 0 ok; 1 check failed", output, StringComparison.Ordinal);
        Assert.Contains("INFRAMIND_HOME", output, StringComparison.Ordinal);
        var (_, validateHelp, _) = await _cli.RunAsync("validate", "--help");
        Assert.Contains("Exit codes: 0 valid", validateHelp, StringComparison.Ordinal);
    }

    [Fact]
    public void Home_defaults_to_dot_inframind_and_honours_the_variable()
    {
        Assert.Equal("/home/u/.inframind", InfraHome.Resolve(new Dictionary<string, string?> { ["HOME"] = "/home/u" }).Root);
        Assert.Equal("/tmp/h", InfraHome.Resolve(new Dictionary<string, string?> { ["HOME"] = "/home/u", ["INFRAMIND_HOME"] = "/tmp/h" }).Root);
    }

    [Fact]
    public async Task Garbage_manifest_through_the_real_executable_gives_an_error_not_a_stack_trace()
    {
        var file = Path.Combine(_cli.Work, "model.yaml");
        File.WriteAllText(file, "input_schema: [\n  - {a: [}\n\t\u0001");
        var dll = Path.Combine(AppContext.BaseDirectory, "infra.dll");
        var psi = new ProcessStartInfo("dotnet", [dll, "validate", file])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["INFRAMIND_HOME"] = _cli.Home;
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal(1, p.ExitCode);
        Assert.Contains("IM10", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
    }
}

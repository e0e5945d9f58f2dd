using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `--json` means JSON on stdout for failures too, for every command: {"error": {"code", "message", "hint"}} and the
/// code's exit code, parse errors included; without --json the same failure is `error CODE: message` on stderr.
/// </summary>
public sealed class JsonErrorTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>A well-formed key fingerprint that is no key's.</summary>
    private static readonly string Fingerprint = "sha256:" + new string('0', 64);

    public static TheoryData<string, int, string[]> Failures() => new()
    {
        // command line
        { "IM0002", 2, ["no-such-verb", "--json"] },
        { "IM0002", 2, ["keys", "generate", "nokey", "--json"] },
        { "IM0002", 2, ["log", "--limit", "0", "--json"] },
        { "IM0002", 2, ["mesh", "up", "--nodes", "0", "--json"] },
        { "IM0002", 2, ["cid", "{work}/file", "--wrap", "a/b", "--json"] },
        // "." and ".." are no file's name (UnixFS forbids them as a link name): the CID was of no directory ipfs makes.
        { "IM0002", 2, ["cid", "{work}/file", "--wrap", ".", "--json"] },
        { "IM0002", 2, ["cid", "{work}/file", "--wrap", "..", "--json"] },
        { "IM0002", 2, ["registry", "serve", "--port", "70000", "--json"] },
        { "IM0002", 2, ["test", "{example}", "--request-timeout", "-1", "--json"] },
        { "IM0003", 2, ["verify", "m", "--offline", "{work}/no-bundle.json", "--json"] },
        { "IM0003", 2, ["verify", "m", "--offline", "{work}/file", "--registry-key", "{work}/no-key.pem", "--json"] },
        // manifest and init
        { "IM1000", 2, ["build", "{work}/missing", "--json"] },
        { "IM1000", 2, ["push", "{work}/missing", "--json"] },
        { "IM1000", 2, ["test", "{work}/missing", "--json"] },
        { "IM0002", 2, ["test", "{work}/file", "--json"] },
        { "IM0002", 2, ["push", "{example}", "--image", "x:1", "--json"] },
        { "IM1070", 1, ["publish", "--model", "{work}/bad.yaml", "--image", "local", "--json"] },
        { "IM1020", 2, ["init", "Bad_Name", "--dir", "{work}/x", "--json"] },
        { "IM1060", 1, ["init", "taken", "--dir", "{work}/taken", "--json"] },
        { "IM0005", 2, ["init", "m", "--dir", "{work}/file", "--json"] },
        { "IM0005", 2, ["init", "m", "--dir", "/proc/nope/x", "--json"] },
        // Empty paths (found by an audit: an internal error, IM0001, exit 70).
        { "IM0005", 2, ["init", "m", "--dir", "", "--json"] },
        { "IM1000", 2, ["build", "", "--json"] },
        { "IM1033", 2, ["test", "{example}", "--timeout", "11m", "--json"] },
        // An empty image name (found by an audit: the engine client's ArgumentException, IM0001, exit 70), or one with
        // white space (the engine's "invalid reference format" as IM3008, exit 3: the engine blamed for the user's typo).
        { "IM0002", 2, ["push", "--image", "", "--json"] },
        { "IM0002", 2, ["push", "--image", " ", "--json"] },
        { "IM0002", 2, ["push", "--image", "my model:1", "--json"] },
        { "IM0002", 2, ["doctor", "--image", "", "--json"] },
        { "IM0002", 2, ["doctor", "--image", "BAD REF", "--json"] },
        // Any name outside the engine's reference grammar (before, "x:" reached the engine: IM3008, exit 3).
        { "IM0002", 2, ["push", "--image", "x:", "--json"] },
        { "IM0002", 2, ["doctor", "--image", "My/Model:1", "--json"] },
        // content: IPFS and storage
        { "IM4109", 2, ["cid", "{work}/missing.bin", "--json"] },
        { "IM4201", 2, ["push", "--image", "x:1", "--to", "oci://", "--json"] },
        { "IM4201", 2, ["pull", "summarizer:1", "--json"] },
        { "IM4203", 4, ["pull", "oci://127.0.0.1:9/x:1", "--json"] },
        { "IM4011", 1, ["pull", "file://{work}/taken", "--json"] },
        // signing
        { "IM5002", 2, ["publish", "--model", "{example}/model.yaml", "--image", "local", "--key", "nobody", "--json"] },
        { "IM5001", 2, ["keys", "generate", "--name", "Bad Name", "--json"] },
        { "IM5004", 2, ["keys", "generate", "--name", "enc", "--passphrase-from-env", "NOT_SET_ANYWHERE", "--json"] },
        // registry
        { "IM5105", 1, ["verify", "never-published", "--json"] },
        { "IM5103", 2, ["verify", "m@notsemver", "--json"] },
        { "IM5103", 2, ["verify", "m@1.0", "--offline", "{work}/no-bundle.json", "--json"] },
        { "IM5103", 2, ["chain", "yank", "m@latest", "--registry", "eth://127.0.0.1:9/0x0000000000000000000000000000000000000001", "--key", "k", "--json"] },
        { "IM0002", 2, ["verify", "m", "--registry", "ftp://127.0.0.1/", "--json"] },
        { "IM5130", 4, ["log", "--registry", "http://127.0.0.1:9/", "--json"] },
        // mesh
        { "IM0003", 2, ["receipt", "verify", "{work}/no-receipt.txt", "--fingerprint", Fingerprint, "--json"] },
        { "IM0002", 2, ["receipt", "verify", "{work}", "--fingerprint", Fingerprint, "--json"] },
        { "IM6045", 1, ["receipt", "verify", "not-a-receipt", "--fingerprint", Fingerprint, "--json"] },
        { "IM0002", 2, ["receipt", "verify", "not-a-receipt", "--fingerprint", "sha256:00", "--json"] },
        { "IM0002", 2, ["receipt", "verify", "not-a-receipt", "--fingerprint", "xyz", "--json"] },
        { "IM0003", 2, ["receipt", "verify", "not-a-receipt", "--public-key", "{work}/no-key.pem", "--json"] },
        { "IM0003", 2, ["gateway", "serve", "--port", "0", "--admit-node-keys", "{work}/no-admit-list", "--json"] },
        { "IM6016", 2, ["node", "serve", "--gateway", "http://127.0.0.1:9/", "--token-file", "{work}/no-token", "--json"] },
        { "IM0002", 2, ["node", "serve", "--gateway", "not a url", "--json"] },
        { "IM0002", 2, ["node", "serve", "--gateway", "http://127.0.0.1:9/", "--image-cache", "lots", "--json"] },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task A_failure_is_a_json_error_object_on_stdout_and_the_code_on_stderr(string code, int exit, string[] args)
    {
        Directory.CreateDirectory(Path.Combine(_cli.Work, "taken"));
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "taken", "keep.txt"), "x");
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "file"), "x");
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "bad.yaml"), "name: X\n");
        var expanded = args.Select(a => a.Replace("{work}", _cli.Work, StringComparison.Ordinal)
            .Replace("{example}", TestEngine.ExampleDir("summarizer-v1"), StringComparison.Ordinal)).ToArray();

        var (actual, output, error) = await _cli.RunAsync(expanded);

        Assert.True(actual == exit, $"exit {actual}, expected {exit}\n{output}\n{error}");
        var json = JsonDocument.Parse(output).RootElement;
        var e = json.GetProperty("error");
        Assert.Equal(code, e.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("message").GetString()));
        Assert.DoesNotContain(code, e.GetProperty("message").GetString()!, StringComparison.Ordinal);
        Assert.True(e.TryGetProperty("hint", out var hint) && hint.ValueKind is JsonValueKind.String or JsonValueKind.Null);
        Assert.Single(json.EnumerateObject());
        Assert.StartsWith($"error {code}: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);

        // The same failure without --json: the line on stderr, nothing on stdout.
        var (plainExit, plainOut, plainErr) = await _cli.RunAsync(expanded.Where(a => a != "--json").ToArray());
        Assert.Equal(exit, plainExit);
        Assert.StartsWith($"error {code}: ", plainErr, StringComparison.Ordinal);
        Assert.DoesNotContain("\"error\"", plainOut, StringComparison.Ordinal);
    }

    /// <summary>
    /// A value that is not of the option's type is a usage error, never a crash: every option with a range rule (the
    /// rule must not read a value that did not convert) and one without; the message names the option and what to
    /// write, not a .NET type.
    /// </summary>
    [Theory]
    [InlineData("a whole number", "test", "{example}", "--cases", "abc")]
    [InlineData("a whole number", "test", "{example}", "--seed", "abc")]
    [InlineData("a number", "test", "{example}", "--request-timeout", "5x")]
    [InlineData("a whole number", "log", "--start", "x")]
    [InlineData("a whole number", "log", "--limit", "x")]
    [InlineData("a whole number", "registry", "serve", "--port", "abc")]
    [InlineData("a whole number", "registry", "serve", "--publish-rate-per-address", "x")]
    [InlineData("a whole number", "registry", "serve", "--publish-rate-per-key", "x")]
    [InlineData("a whole number", "mesh", "up", "--nodes", "x")]
    [InlineData("a whole number", "mesh", "up", "--confirmations", "x")]
    [InlineData("a number", "mesh", "up", "--spot-check-share", "x")]
    [InlineData("a number", "mesh", "status", "--interval", "x")]
    [InlineData("a whole number", "gateway", "serve", "--grpc-port", "x")]
    [InlineData("a whole number", "gateway", "serve", "--missed-beats", "x")]
    [InlineData("a whole number", "gateway", "serve", "--max-nodes", "x")]
    public async Task A_value_of_the_wrong_type_is_a_usage_error_naming_the_option(string kind, params string[] args)
    {
        var expanded = args.Select(a => a.Replace("{example}", TestEngine.ExampleDir("summarizer-v1"), StringComparison.Ordinal)).Append("--json").ToArray();
        var (option, value) = (args[^2], args[^1]);

        var (code, output, error) = await _cli.RunAsync(expanded);

        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0002", e.GetProperty("code").GetString());
        Assert.Equal($"{option}: '{value}' is not {kind}", e.GetProperty("message").GetString());
        Assert.DoesNotContain("System.", output + error, StringComparison.Ordinal);
    }

    /// <summary>A missing argument is named, with what it is: System.CommandLine names only the command.</summary>
    [Fact]
    public async Task A_missing_argument_is_named_with_its_description()
    {
        using var cli = new CliRunner();
        var (code, output, error) = await cli.RunAsync("init", "--protocol", "grpc", "--json");
        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0002", e.GetProperty("code").GetString());
        Assert.Equal("infra init needs its NAME argument: Model name (lowercase DNS label, e.g. sentiment-v1)", e.GetProperty("message").GetString());
        Assert.Equal("see `infra init --help`", e.GetProperty("hint").GetString());
    }

    [Theory]
    [InlineData("Cannot parse argument 'x' for option '--grpc-port' as expected type 'System.Nullable`1[[System.Int32, System.Private.CoreLib]]'", "--grpc-port: 'x' is not a whole number")]
    [InlineData("Cannot parse argument 'x' for command 'verify' as expected type 'System.Int64'", "verify: 'x' is not a whole number")]
    [InlineData("Cannot parse argument 'x' as expected type 'System.Guid'", "'x' is not a valid value")]
    [InlineData("Cannot parse argument '99999999999999999999' for option '--seed' as expected type 'System.Int32'", "--seed: '99999999999999999999' is out of range: a whole number from -2147483648 to 2147483647")]
    [InlineData("Cannot parse argument '70000' for option '--port' as expected type 'System.Nullable`1[[System.UInt16, System.Private.CoreLib]]'", "--port: '70000' is out of range: a whole number from 0 to 65535")]
    [InlineData("Cannot parse argument '-1' for command 'log' as expected type 'System.UInt64'", "log: '-1' is out of range: a whole number from 0 to 18446744073709551615")]
    [InlineData("Option '--image' is required", "Option '--image' is required")]
    [InlineData("Argument 'http' not recognized. Must be one of:\n\t'rest'\n\t'grpc'", "'http' is not one of: rest, grpc")]
    public void A_parse_error_names_what_to_write_not_a_dotnet_type(string parser, string user) =>
        Assert.Equal(user, FailureReport.UsageMessage(parser));

    /// <summary>
    /// `verify --offline FILE` with a file that is no entry bundle: IM5107 naming the file, the place (line and byte, or
    /// the field) and what the file should be, never System.Text.Json's own words.
    /// </summary>
    [Theory]
    [InlineData("junk\n", "is not JSON (line 1, byte 1).")]
    [InlineData("{\"index\": 0,\n  oops}", "is not JSON (line 2, byte 3).")]
    [InlineData("[]", "(root) must be an object.")]
    [InlineData("{\"inclusionProof\": {\"hashes\": [\"!!\"]}}", "/inclusionProof/hashes/0 must be base64.")]
    [InlineData("{\"inclusionProof\": {\"hashes\": []}, \"index\": \"seven\"}", "/index must be a whole number.")]
    public async Task An_offline_file_that_is_no_bundle_is_named_with_what_it_should_be(string content, string problem)
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "k")).Code);
        var file = Path.Combine(_cli.Work, "junk.json");
        await File.WriteAllTextAsync(file, content);

        var (code, output, error) = await _cli.RunAsync("verify", "m", "--offline", file, "--registry-key", Path.Combine(_cli.Home, "keys", "k.pub"), "--json");

        Assert.True(code == 1, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM5107", e.GetProperty("code").GetString());
        Assert.Equal($"{file}: entry bundle {problem}", e.GetProperty("message").GetString());
        Assert.Contains("infra verify NAME --save FILE", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
        foreach (var dotnet in new[] { "LineNumber", "invalid start", "System.", "cannot be converted", "Base-64" })
            Assert.DoesNotContain(dotnet, output + error, StringComparison.Ordinal);
    }

    /// <summary>An --offline file is read up to what a registry's answer may hold; one without end is not read whole.</summary>
    [Fact]
    public async Task An_offline_file_without_end_is_refused_at_the_limit()
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "k")).Code);
        var (code, output, error) = await _cli.RunAsync("verify", "m", "--offline", "/dev/zero", "--registry-key", Path.Combine(_cli.Home, "keys", "k.pub"), "--json");
        Assert.True(code == 1, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM5107", e.GetProperty("code").GetString());
        Assert.Equal($"/dev/zero holds more than {16 << 20} bytes; an entry bundle is at most that (a registry's answer)", e.GetProperty("message").GetString());
    }

    /// <summary>A directory that is no OCI layout: what a layout is and what makes one (`infra push`, not `infra build`).</summary>
    [Fact]
    public async Task A_directory_that_is_no_layout_says_what_makes_one()
    {
        var dir = Path.Combine(_cli.Work, "not-a-layout");
        Directory.CreateDirectory(dir);

        var (code, _, error) = await _cli.RunAsync("pull", "file://" + dir);

        Assert.Equal(1, code);
        Assert.StartsWith($"error IM4011: '{dir}' has no oci-layout file", error, StringComparison.Ordinal);
        Assert.Contains("`infra push --to https://…` uploads an image as such a tar", error, StringComparison.Ordinal);
        Assert.Contains("`docker save IMAGE -o FILE`", error, StringComparison.Ordinal);
        Assert.DoesNotContain("infra build", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_with_a_directory_and_an_image_names_both_and_pushes_neither()
    {
        var example = TestEngine.ExampleDir("summarizer-v1");
        var (code, output, error) = await _cli.RunAsync("push", example, "--image", "x:1");
        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        Assert.StartsWith($"error IM0002: both a package directory ({example}) and --image x:1: push takes one or the other", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_cli.Home, "store")), "push touched the store");
    }

    /// <summary>
    /// `verify --offline FILE` reads no registry: a --registry beside it was silently ignored (found by an audit), so the
    /// user believed the bundle was checked against that registry. Both together are a usage error, as --image with
    /// --registry is.
    /// </summary>
    [Fact]
    public async Task Verify_offline_with_a_registry_names_both_and_reads_neither()
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "k")).Code);
        var bundle = Path.Combine(_cli.Work, "bundle.json");
        await File.WriteAllTextAsync(bundle, "{}");

        var (code, output, error) = await _cli.RunAsync("verify", "m", "--offline", bundle, "--registry-key", Path.Combine(_cli.Home, "keys", "k.pub"),
            "--registry", "http://127.0.0.1:9/", "--json");

        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0002", e.GetProperty("code").GetString());
        Assert.Equal("--offline verifies a saved entry bundle with no registry: --registry does not apply", e.GetProperty("message").GetString());
        Assert.Contains("--registry-key", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// `verify --save DIR` is refused before the registry is asked, naming the directory: it was found out only after
    /// the verification, whose result was then lost, as "Access to the path '…' is denied." (found by an audit; as root
    /// too, where nothing is denied).
    /// </summary>
    [Fact]
    public async Task Verify_save_to_a_directory_is_refused_before_anything_is_verified()
    {
        var (code, output, error) = await _cli.RunAsync("verify", "m", "--save", _cli.Work, "--registry", "http://127.0.0.1:9/", "--json");

        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0005", e.GetProperty("code").GetString());
        Assert.Equal($"--save {_cli.Work} is a directory", e.GetProperty("message").GetString());
        Assert.Equal("name the bundle's file: --save DIR/bundle.json", e.GetProperty("hint").GetString());
    }

    /// <summary>
    /// `chain deploy --rpc URL` with no chain node there: the hint named the eth:// URL, which deploy has not (it makes
    /// one), instead of --rpc (found by an audit).
    /// </summary>
    [Fact]
    public async Task Chain_deploy_with_no_node_hints_at_rpc_not_at_an_eth_url()
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "payer", "--type", "secp256k1")).Code);

        var (code, output, error) = await _cli.RunAsync("chain", "deploy", "--rpc", "http://127.0.0.1:9/", "--payer", "payer", "--json");

        Assert.True(code == 4, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM5701", e.GetProperty("code").GetString());
        Assert.Contains("--rpc", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
    }

    /// <summary>`registry serve --data FILE`: said to be a file, not .NET's "The file '…' already exists." (found by an audit).</summary>
    [Fact]
    public async Task Registry_serve_with_a_data_file_says_it_is_no_directory()
    {
        var file = Path.Combine(_cli.Work, "data");
        await File.WriteAllTextAsync(file, "x");

        var (code, output, error) = await _cli.RunAsync("registry", "serve", "--port", "0", "--data", file, "--json");

        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0005", e.GetProperty("code").GetString());
        Assert.Equal($"--data {file} is a file, not a directory", e.GetProperty("message").GetString());
        Assert.Contains("--data", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.Equal("x", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task A_malformed_receipt_fingerprint_names_the_form_to_write()
    {
        var (code, output, error) = await _cli.RunAsync("receipt", "verify", "not-a-receipt", "--fingerprint", "xyz", "--json");
        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        Assert.Equal("--fingerprint 'xyz' is not a key fingerprint: write sha256: and 64 hex digits, as `infra keys list` prints them",
            JsonDocument.Parse(output).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_serving_command_fails_as_json_too()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, output, _) = await _cli.RunAsync("registry", "serve", "--port", port, "--json");
        Assert.Equal(4, code);
        Assert.Equal("IM6021", JsonDocument.Parse(output).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_missing_signing_key_is_named_with_the_command_that_makes_it_and_nothing_is_created()
    {
        var (code, _, err) = await _cli.RunAsync("publish", "--model", Path.Combine(TestEngine.ExampleDir("summarizer-v1"), "model.yaml"), "--image", "local");
        Assert.Equal(2, code);
        Assert.Contains("error IM5002: no signing key 'default'", err, StringComparison.Ordinal);
        Assert.Contains("`infra keys generate --name default`", err, StringComparison.Ordinal);
        var keys = Path.Combine(_cli.Home, "keys");
        Assert.True(!Directory.Exists(keys) || !Directory.EnumerateFiles(keys).Any(), "publish made a key");
    }

    [Fact]
    public async Task A_usage_error_names_the_help_of_the_command_it_is_in()
    {
        var (code, output, err) = await _cli.RunAsync("keys", "generate", "nokey");
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("error IM0002: Unrecognized command or argument 'nokey'", err, StringComparison.Ordinal);
        Assert.Contains("hint: see `infra keys generate --help`", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("validate", "--json", "--bogus")]
    [InlineData("validate", "--bogus", "examples-dir")]
    [InlineData("build", "--bogus")]
    public async Task An_unknown_option_is_not_taken_for_a_path(params string[] args)
    {
        // System.CommandLine binds an unknown --option to a free argument: `validate --json --bogus` validated "--bogus".
        var (code, output, err) = await _cli.RunAsync([.. args.Select(a => a == "examples-dir" ? TestEngine.ExampleDir("summarizer-v1") : a)]);
        Assert.Equal(2, code);
        Assert.Contains("error IM0002: unknown option '--bogus' (a path that starts with '-' is written ./--bogus)", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Unrecognized command or argument", err, StringComparison.Ordinal);
        if (args.Contains("--json")) Assert.Equal("IM0002", JsonDocument.Parse(output).RootElement.GetProperty("error").GetProperty("code").GetString());

        // After --, it is a path as written.
        var (asPath, findings, _) = await _cli.RunAsync("validate", "--", "--bogus");
        Assert.Equal(2, asPath);
        Assert.Contains("error IM1000 - --bogus does not exist", findings, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("keys")]
    [InlineData("mesh")]
    public async Task Infra_alone_or_a_group_alone_prints_its_help_and_exits_0(params string[] args)
    {
        var (code, output, err) = await _cli.RunAsync(args);
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        Assert.Contains("Commands:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", output + err, StringComparison.Ordinal);
        Assert.Equal("", err);
    }

    [Fact]
    public async Task The_real_infra_alone_prints_the_usage_with_the_exit_codes()
    {
        using var home = new TempDirectory("im-home");
        var (code, output, err) = await InfraProcess.RunAsync(InfraProcess.StartInfo(home.Path), TimeSpan.FromMinutes(1));
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        Assert.Contains("infra [command] [options]", output, StringComparison.Ordinal);
        Assert.Contains("70 internal error", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", output + err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unexpected_failure_is_one_line_with_its_type_and_the_stack_goes_to_a_file()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("the impossible happened");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        var home = new InfraHome(_cli.Home);
        var report = FailureReport.From(thrown, home, ["doctor", "--json"]);
        Assert.Equal(CliErrorCodes.Internal, report.Code);
        Assert.Equal(70, report.ExitCode);
        Assert.Equal("internal error: System.InvalidOperationException: the impossible happened", report.Message);
        var file = Directory.EnumerateFiles(Path.Combine(_cli.Home, "logs")).Single();
        Assert.Contains(file, report.Hint, StringComparison.Ordinal);
        var details = await File.ReadAllTextAsync(file);
        Assert.Contains("command: infra doctor --json", details, StringComparison.Ordinal);
        Assert.Contains("   at ", details, StringComparison.Ordinal);

        var output = new StringWriter();
        var error = new StringWriter();
        await report.WriteAsync(_cli.Context(output, error), asJson: true);
        Assert.DoesNotContain("   at ", output.ToString() + error, StringComparison.Ordinal);
        Assert.Equal("IM0001", JsonDocument.Parse(output.ToString()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_home_that_is_a_file_is_named_as_the_cause()
    {
        // Found by an audit: INFRAMIND_HOME=/etc/passwd gave only "Could not find a part of the path '/etc/passwd/keys'".
        using var dir = new TempDirectory("im-home-file");
        var file = dir.Combine("home");
        await File.WriteAllTextAsync(file, "not a directory");

        var (code, output, _) = await InfraProcess.RunAsync(file, "keys", "list", "--json");

        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal(CliErrorCodes.FileAccess.Value, e.GetProperty("code").GetString());
        Assert.StartsWith($"$INFRAMIND_HOME is {file}, a file, not a directory: ", e.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("point INFRAMIND_HOME at a directory", e.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Usage, code);
    }

    [Fact]
    public void Failures_without_a_code_map_to_a_kind_never_to_a_crash()
    {
        var home = new InfraHome(_cli.Home);
        Assert.Equal(CliErrorCodes.Interrupted, FailureReport.From(new OperationCanceledException(), home, []).Code);
        Assert.Equal(130, FailureReport.From(new TaskCanceledException(), home, []).ExitCode);
        Assert.Equal(CliErrorCodes.FileAccess, FailureReport.From(new UnauthorizedAccessException("Access to the path '/x' is denied."), home, []).Code);
        Assert.Equal(CliErrorCodes.FileAccess, FailureReport.From(new IOException("No space left on device"), home, []).Code);
        // A timeout nobody turned into a coded error is a defect, not the user's Ctrl-C.
        Assert.Equal(CliErrorCodes.Internal, FailureReport.From(new TaskCanceledException("timed out", new TimeoutException()), home, []).Code);
    }

    [Fact]
    public async Task Progress_under_json_goes_to_stderr_even_on_a_terminal()
    {
        // Found by an audit: on a terminal, pull/push/publish drew Spectre's progress on stdout before the JSON document.
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, new Dictionary<string, string?> { ["INFRAMIND_HOME"] = _cli.Home }, interactive: true);
        Assert.Equal(7, await ContentAccess.WithProgressAsync(context, asJson: true, progress =>
        {
            progress.Report(new InfraMind.Storage.TransferProgress("blob sha256:ab", 2048, 2048, true));
            return Task.FromResult(7);
        }));
        Assert.Equal("", stdout.ToString());
        Assert.Contains("2.0 KiB", stderr.ToString(), StringComparison.Ordinal);
    }
}

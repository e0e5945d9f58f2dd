namespace InfraMind.Cli.Tests;

/// <summary>
/// `--image` takes what the engine's reference grammar takes, and nothing else: before, only an empty or spaced name
/// was refused, and a name such as "x:" reached the engine, whose "invalid reference format" came back as IM3008
/// (exit 3), blaming the engine for the user's typo.
/// </summary>
public sealed class ImageNameTests
{
    [Theory]
    [InlineData("summarizer:1")]
    [InlineData("summarizer")]
    [InlineData("team/summarizer-v1:0.4.2")]
    [InlineData("a__b.c-d---e/f_g:T_1.0-rc")]
    [InlineData("registry.local:5000/team/model:1")]
    [InlineData("localhost/model:latest")]
    [InlineData("[::1]:5000/model:1")]
    [InlineData("model@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("model:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("3f2a9c1b7d4e")]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void A_reference_the_engine_takes_passes(string value) => Assert.Null(OptionRules.ImageReferenceProblem(value));

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData(" ", "it holds white space")]
    [InlineData("my model:1", "it holds white space")]
    [InlineData("x:", "the tag after ':' is empty")]
    [InlineData("x:@sha256:0123456789abcdef0123456789abcdef", "the tag after ':' is empty")]
    [InlineData("My/Model:1", "the repository name must be lower case")]
    [InlineData("a//b:1", "it does not follow the engine's reference grammar")]
    [InlineData("-a:1", "it does not follow the engine's reference grammar")]
    [InlineData("a..b:1", "it does not follow the engine's reference grammar")]
    [InlineData("a:-1", "it does not follow the engine's reference grammar")]
    [InlineData("a:1@", "it does not follow the engine's reference grammar")]
    [InlineData("a@sha256:abc", "it does not follow the engine's reference grammar")]
    [InlineData("a:b:c", "it does not follow the engine's reference grammar")]
    public void A_reference_the_engine_cannot_parse_is_refused_and_says_why(string value, string problem) =>
        Assert.Equal(problem, OptionRules.ImageReferenceProblem(value));

    [Fact]
    public void The_tag_and_the_name_are_bounded_as_the_engine_bounds_them()
    {
        Assert.Null(OptionRules.ImageReferenceProblem("a:" + new string('t', 128)));
        Assert.Equal("it does not follow the engine's reference grammar", OptionRules.ImageReferenceProblem("a:" + new string('t', 129)));
        var longest = string.Join('/', Enumerable.Repeat(new string('n', 63), 4));   // 255 characters
        Assert.Equal(255, longest.Length);
        Assert.Null(OptionRules.ImageReferenceProblem(longest + ":1"));
        Assert.Equal("the name is longer than 255 characters", OptionRules.ImageReferenceProblem(longest + "n:1"));
    }
}

/// <summary>
/// A directory named where a file belongs is called a directory, under IM0003 with the option's own hint: before, each
/// command said "no file" (or "no entry bundle", "no registry key" …) at a path that plainly was there.
/// </summary>
public sealed class DirectoryNamedAsFileTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("entry bundle", "--save FILE", new[] { "verify", "m", "--offline", "{dir}" })]
    [InlineData("registry key", "--registry-key", new[] { "verify", "m", "--offline", "{work}/bundle.json", "--registry-key", "{dir}" })]
    [InlineData("publisher key", "public key PEM", new[] { "verify", "m", "--image", "oci://127.0.0.1:9/x@sha256:0000000000000000000000000000000000000000000000000000000000000000", "--publisher-key", "{dir}" })]
    [InlineData("private key file", "--private-key-file", new[] { "keys", "import", "--name", "k", "--private-key-file", "{dir}" })]
    [InlineData("--admit-node-keys file", "one key fingerprint", new[] { "gateway", "serve", "--port", "0", "--admit-node-keys", "{dir}" })]
    [InlineData("--input file", "name an existing file", new[] { "receipt", "verify", "{receipt}", "--public-key", "{work}/key.pem", "--input", "{dir}" })]
    public async Task A_directory_where_a_file_belongs_is_named_a_directory(string what, string hint, string[] args)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_cli.Work, "a-directory")).FullName;
        await File.WriteAllTextAsync(Path.Combine(_cli.Work, "bundle.json"), "{}");
        var receipt = "";
        if (args.Contains("{receipt}"))
        {
            using var key = InfraMind.Signing.SigningKey.CreateEphemeral();
            await File.WriteAllTextAsync(Path.Combine(_cli.Work, "key.pem"), key.PublicKey.ToPem());
            receipt = InfraMind.Serving.JobReceipts.Sign(key, "0123456789abcdef0123456789abcdef", "echo", "1.0.0", "sha256:" + new string('0', 64), "{}"u8, "{}"u8, "node-1", DateTimeOffset.UtcNow);
        }

        var expanded = args.Select(a => a.Replace("{dir}", dir, StringComparison.Ordinal).Replace("{work}", _cli.Work, StringComparison.Ordinal)
            .Replace("{receipt}", receipt, StringComparison.Ordinal)).Append("--json").ToArray();
        var e = (await _cli.RunJsonAsync(2, expanded)).GetProperty("error");
        Assert.Equal("IM0003", e.GetProperty("code").GetString());
        Assert.Equal($"{what}: {dir} is a directory, not a file", e.GetProperty("message").GetString());
        Assert.Contains(hint, e.GetProperty("hint").GetString(), StringComparison.Ordinal);
    }
}

/// <summary>
/// infra reads no response files: an argument that starts with '@' is taken as written. Before, System.CommandLine
/// replaced `--input @in.json` (curl's way of naming a file to send) by the words of in.json, so a JSON document was
/// parsed as the command line ("Unrecognized command or argument '--json hi'", IM0002).
/// </summary>
public sealed class NoResponseFilesTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task An_argument_starting_with_at_is_a_path_as_written_and_curls_habit_is_named()
    {
        var input = Path.Combine(_cli.Work, "in.json");
        await File.WriteAllTextAsync(input, """{"text": "--json hi"}""");
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral();
        var pem = Path.Combine(_cli.Work, "key.pem");
        await File.WriteAllTextAsync(pem, key.PublicKey.ToPem());
        var receipt = InfraMind.Serving.JobReceipts.Sign(key, "0123456789abcdef0123456789abcdef", "echo", "1.0.0", "sha256:" + new string('0', 64), "{}"u8, "{}"u8, "node-1", DateTimeOffset.UtcNow);

        var e = (await _cli.RunJsonAsync(2, "receipt", "verify", receipt, "--public-key", pem, "--input", "@" + input, "--json")).GetProperty("error");
        Assert.Equal(("IM0003", $"no --input file at @{input}"), (e.GetProperty("code").GetString(), e.GetProperty("message").GetString()));
        Assert.Equal($"write the path without the '@' ({input}): infra takes a file's path as it is, not curl's @FILE", e.GetProperty("hint").GetString());

        // Where no such file is either, the option's own hint.
        e = (await _cli.RunJsonAsync(2, "receipt", "verify", receipt, "--public-key", pem, "--input", "@" + input + ".none", "--json")).GetProperty("error");
        Assert.Equal(("IM0003", "name an existing file"), (e.GetProperty("code").GetString(), e.GetProperty("hint").GetString()));
    }
}

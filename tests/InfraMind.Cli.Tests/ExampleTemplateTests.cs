using InfraMind.Cli.Commands;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// examples/sentiment-grpc is `infra init sentiment-grpc --protocol grpc`'s output, file for file: the template is the
/// one source, and the example may not drift from it (nor gain or lose a file).
/// </summary>
public sealed partial class ExampleTemplateTests
{
    [Fact]
    public void The_grpc_example_is_exactly_what_init_writes()
    {
        var example = Path.Combine(TestEngine.RepoRoot, "examples", "sentiment-grpc");
        var written = PackageTemplate.Files("sentiment-grpc", grpc: true);
        var onDisk = Directory.EnumerateFiles(example, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(example, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(written.Keys.Order(StringComparer.Ordinal), onDisk);
        foreach (var (file, text) in written)
            Assert.True(text == File.ReadAllText(Path.Combine(example, file)),
                $"examples/sentiment-grpc/{file} differs from what `infra init sentiment-grpc --protocol grpc` writes: change the template " +
                "(src/InfraMind.Cli/Commands/PackageTemplate*.cs), then write the example again with that command");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_readmes_example_answer_is_what_the_models_classify_answers(bool grpc)
    {
        // The README said score 0.6667 for "what a great day", where the lexicon's `great 3` gives 3 / (1 × 3) = 1.0.
        // The claim is checked against serve.py's own classify and lexicon.tsv, run by the host's python3: its
        // definitions only (load_lexicon, classify and what they read), as the gRPC server's imports (grpcio) are not here.
        using var package = new TempDirectory("im-readme-" + (grpc ? "grpc" : "rest"));
        foreach (var (file, text) in PackageTemplate.Files("sentiment", grpc))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(package.Path, file))!);
            await File.WriteAllTextAsync(Path.Combine(package.Path, file), text);
        }

        var claim = Claim().Match(await File.ReadAllTextAsync(Path.Combine(package.Path, "README.md")));
        Assert.True(claim.Success, "README.md has no line `Request: `…` → answer: `…``");
        const string Script = """
            import ast, json, sys
            source = open("serve.py", encoding="utf-8").read()
            kept = [n for n in ast.parse(source).body
                    if isinstance(n, (ast.Import, ast.ImportFrom)) and all(a.name in ("json", "os", "re") for a in n.names)
                    or isinstance(n, ast.FunctionDef) and n.name in ("load_lexicon", "classify")
                    or isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) and t.id in ("HERE", "WORD", "NEGATORS", "LEXICON") for t in n.targets)]
            scope = {"__file__": "serve.py"}
            exec(compile(ast.Module(body=kept, type_ignores=[]), "serve.py", "exec"), scope)
            print(json.dumps(scope["classify"](json.loads(sys.argv[1])["text"])))
            """;
        var psi = new System.Diagnostics.ProcessStartInfo("python3", ["-c", Script, claim.Groups["request"].Value])
        {
            WorkingDirectory = package.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var python = System.Diagnostics.Process.Start(psi)!;
        var error = python.StandardError.ReadToEndAsync();
        var answer = (await python.StandardOutput.ReadToEndAsync()).Trim();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, await error);
        Assert.Equal(answer, claim.Groups["answer"].Value);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Request: `(?<request>[^`]+)` → answer: `(?<answer>[^`]+)`", System.Text.RegularExpressions.RegexOptions.Multiline)]
    private static partial System.Text.RegularExpressions.Regex Claim();
}

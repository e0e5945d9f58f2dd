using System.Reflection;
using System.Text.RegularExpressions;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// docs/errors.md, the code declarations and the sources hold each other: every documented code is declared once as
/// an <see cref="ErrorCode"/> whose kind gives the documented exit code, every declared code is documented and raised
/// somewhere in src, and every command a message or hint names is one `infra` parses.
/// </summary>
public sealed partial class ErrorCatalogTests
{
    private static readonly string[] SourceFiles = Directory.EnumerateFiles(Path.Combine(TestEngine.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
        .ToArray();

    [Fact]
    public void Every_documented_code_is_declared_once_with_the_documented_exit_code()
    {
        var declared = Declared();
        var documented = Documented();
        Assert.True(documented.Count > 120, $"only {documented.Count} codes parsed from docs/errors.md");
        foreach (var (code, exit) in documented)
        {
            Assert.True(declared.TryGetValue(code, out var d), $"{code} is documented in docs/errors.md but declared nowhere");
            Assert.True((int)d.Code.Kind == exit, $"{code} ({d.Owner}) is {d.Code.Kind} = exit {(int)d.Code.Kind}, docs/errors.md says exit {exit}");
        }

        var undocumented = declared.Keys.Except(documented.Select(d => d.Code)).Order().ToList();
        Assert.True(undocumented.Count == 0, "declared but not in docs/errors.md: " + string.Join(", ", undocumented));
    }

    [Fact]
    public void Every_declared_code_is_raised_somewhere_in_src()
    {
        // Code, not comments: a code only named in a doc comment is raised nowhere.
        var sources = SourceFiles.Select(f => string.Join('\n', File.ReadLines(f).Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal)))).ToList();
        var unused = Declared().Values
            .Where(d => !sources.Any(s => Regex.IsMatch(s, $@"\b{Regex.Escape(d.Owner)}\b")))
            .Select(d => $"{d.Owner} ({d.Code})")
            .ToList();
        Assert.True(unused.Count == 0, "declared but never used in src: " + string.Join(", ", unused));
    }

    [Fact]
    public void Every_exit_code_of_a_kind_is_in_the_exit_table_and_the_help()
    {
        var doc = File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "errors.md"));
        foreach (var kind in Enum.GetValues<FailureKind>())
        {
            Assert.Matches($@"\n\| {(int)kind} \|", doc);
            Assert.Contains($"{(int)kind} ", ExitCodes.HelpText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void No_message_starts_with_its_code()
    {
        // The code travels beside the message (Code), never inside it: `error IM3001: IM3001: …` is gone for good.
        var prefixed = SourceFiles
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => PrefixedMessage().IsMatch(x.line))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}")
            .ToList();
        Assert.True(prefixed.Count == 0, "messages that embed their code: " + string.Join(", ", prefixed));
    }

    [Fact]
    public async Task Every_command_a_message_hint_or_help_names_parses_and_has_help()
    {
        var texts = SourceFiles.Select(File.ReadAllText)
            .Append(File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "errors.md")));
        var named = texts.SelectMany(t => QuotedCommand().Matches(t).Select(m => m.Groups["args"].Value)).Distinct().ToList();
        Assert.Contains("keys generate --name NAME", named);

        using var cli = new CliRunner();
        var root = InfraCli.Build(new CliContext(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), interactive: false));
        var failures = new List<string>();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var args in named)
        {
            var tokens = Tokens(args);
            var parse = root.Parse(tokens);
            // A mention may leave out what the command requires (`infra publish` in prose); what it does name must exist.
            var wrong = parse.Errors.Where(e => !e.Message.Contains("is required", StringComparison.Ordinal)
                                                && !e.Message.StartsWith("Required argument missing", StringComparison.Ordinal)).ToList();
            if (wrong.Count > 0) failures.Add($"`infra {args}`: {string.Join("; ", wrong.Select(e => e.Message))}");
            else paths.Add(FailureReport.CommandPath(parse.CommandResult.Command));
        }

        Assert.True(failures.Count == 0, "hints and texts name commands that do not parse:\n" + string.Join("\n", failures));
        foreach (var path in paths)
        {
            var (code, output, error) = await cli.RunAsync([.. path.Split(' ').Skip(1), "--help"]);
            Assert.True(code == 0, $"{path} --help: exit {code}\n{error}");
            Assert.Contains("Usage:", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_hint_naming_a_verb_that_does_not_exist_is_caught()
    {
        // The check above is only worth something if it fails for the kind of hint that was wrong before.
        var root = InfraCli.Build(new CliContext(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), interactive: false));
        Assert.NotEmpty(root.Parse(Tokens("keys generate nokey")).Errors);
        Assert.Empty(root.Parse(Tokens("keys generate --name nokey")).Errors);
    }

    /// <summary>
    /// The words of a command as a user would type them: a C# interpolation stands for one value, a synopsis's
    /// optional part ([--json]) is left out and of alternatives (generate|list) the first is taken.
    /// </summary>
    private static string[] Tokens(string args) =>
        Optional().Replace(Interpolation().Replace(args, "x"), " ").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Contains('|', StringComparison.Ordinal) && t.Length > 1 ? t[..t.IndexOf('|', StringComparison.Ordinal)] : t)
            .TakeWhile(t => t is not ("|" or "…" or "then" or "or" or "and"))
            .Select(t => t.TrimEnd(',', ';', ')', '.'))
            .ToArray();

    private sealed record Declaration(ErrorCode Code, string Owner);

    /// <summary>Every code declared as a public static ErrorCode field in an InfraMind assembly, by value; a value declared twice fails.</summary>
    private static Dictionary<string, Declaration> Declared()
    {
        var assemblies = Directory.EnumerateFiles(AppContext.BaseDirectory, "InfraMind.*.dll")
            .Where(f => !Path.GetFileName(f).Contains(".Tests", StringComparison.Ordinal) && !Path.GetFileName(f).Contains("Testing", StringComparison.Ordinal))
            .Select(f => Assembly.LoadFrom(f))
            .Append(typeof(CliErrorCodes).Assembly)
            .Distinct();
        var declared = new Dictionary<string, Declaration>(StringComparer.Ordinal);
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => t.IsClass))
        {
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.FieldType == typeof(ErrorCode)))
            {
                Assert.True(field.IsInitOnly, $"{type.Name}.{field.Name} must be readonly");
                var code = (ErrorCode)field.GetValue(null)!;
                Assert.True(ErrorCode.IsWellFormed(code.Value), $"{type.Name}.{field.Name} = '{code.Value}'");
                Assert.True(declared.TryAdd(code.Value, new Declaration(code, $"{type.Name}.{field.Name}")),
                    $"{code.Value} is declared twice: {declared.GetValueOrDefault(code.Value)?.Owner} and {type.Name}.{field.Name}");
            }
        }

        Assert.True(declared.Count > 120, $"only {declared.Count} codes found by reflection");
        return declared;
    }

    /// <summary>Every `| IMnnnn | exit | meaning |` row of docs/errors.md; a code documented twice fails.</summary>
    private static List<(string Code, int Exit)> Documented()
    {
        var rows = DocumentedRow().Matches(File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "errors.md")))
            .Select(m => (m.Groups["code"].Value, int.Parse(m.Groups["exit"].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        var twice = rows.GroupBy(r => r.Item1).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, "documented twice: " + string.Join(", ", twice));
        return rows;
    }

    [GeneratedRegex(@"^\| (?<code>IM\d{4}) \| (?<exit>\d+) \|", RegexOptions.Multiline)]
    private static partial Regex DocumentedRow();

    [GeneratedRegex("""[`'](?:[^`'\n]*\| )?infra (?<args>[^`'\n]+)[`']""")]
    private static partial Regex QuotedCommand();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Interpolation();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Optional();

    [GeneratedRegex(@"(Exception|Fail|Reject)\(.*\$?""IM\d{4}: ")]
    private static partial Regex PrefixedMessage();
}

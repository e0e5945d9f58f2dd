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

    /// <summary>
    /// The codes with no <see cref="ErrorCode.DefaultHint"/>, each with why: the advice differs per raise site (and each
    /// site gives its own), the answer is a problem document whose detail is the fix, or there is nothing to fix. Every
    /// other code says how to fix it wherever it is raised, so a user never reads <c>hint: null</c> where a fix is known.
    /// </summary>
    /// <summary>
    /// Why a manifest finding (IM10xx) has no default: each finding carries its own hint (ManifestFindings.Error and
    /// Warning require one, `infra validate` and `--json` print it), and where a command raises the code itself it passes one.
    /// </summary>
    private const string ManifestFinding = "a manifest finding: each finding carries its own hint (ManifestFindings requires one), and `infra validate` prints it";

    private static readonly Dictionary<string, string> WithoutDefaultHint = new(StringComparer.Ordinal)
    {
        ["IM0001"] = "FailureReport's internal-error hint names the file with the details, which differs per run",
        ["IM0002"] = "per site: each names the option and what to write, or the command's --help (FailureReport.Usage)",
        ["IM0003"] = "per site: each names the file it wanted and how to get one",
        ["IM0004"] = "nothing to fix: the user interrupted the command",
        ["IM3003"] = "per site, each passing its own hint: a tag to give, permissions or .dockerignore to fix, a directory or Dockerfile to give",
        ["IM3007"] = "a defect of the caller, not of the user's input; the message names each field",
        ["IM3008"] = "the engine's own refusal is quoted and the fix depends on it; an image in use and an archive the engine cannot load pass their own hints",
        ["IM3010"] = "its one site passes a hint naming the resource (resources.cpu or resources.memory) to lower",
        ["IM4109"] = "per site: `infra cid` passes a hint for a directory and for a missing file",
        ["IM4204"] = "per site, each passing its own hint: not a registry, a manifest rewritten, a server failure or a refusal",
        ["IM4205"] = "per site, each passing its own hint: credentials to set, or a token service to report to its operator",
        ["IM4209"] = "per site, each passing its own hint: an index to pull one manifest of by digest, a schema 1 manifest to push again, a reference to check",
        ["IM5106"] = "the fallback of an admission check's refusal, whose reason is the message",
        ["IM5706"] = "the chain node's own error is quoted and the fix depends on it",
        ["IM5714"] = "the contract's refusal, decoded: the message gives the signature's rules",
        ["IM5716"] = "nothing to fix: the version is yanked already",
        ["IM5717"] = "nothing to fix: that log size is anchored already by this sender",
        ["IM5718"] = "the contract's refusal, decoded: the message names the field and its limit",
        ["IM5719"] = "the contract's revert reason is quoted and the fix depends on it",
        ["IM5732"] = "a verification check's finding: the message names what differs between statement and chain record",
        ["IM5733"] = "the statement store serves more than the cap the message gives: not a statement infra wrote",
        ["IM5735"] = "a verification check's finding: the message names both signers",
        ["IM5737"] = "per site: the message gives the form a digest or endpoint id must have; a statement signed by another key passes a hint",
        ["IM5752"] = "a verification check's finding, per site in the message (fetch the entry again, a consistency proof, a forked log)",
        ["IM6002"] = "answered as a gateway problem document, whose detail says how to fix it (start a node with room, or wait)",
        ["IM6003"] = "answered as a gateway problem document, whose detail lists the violations and where the schema is",
        ["IM6004"] = "answered as a gateway problem document, whose detail lists every attempt's verdict",
        ["IM6006"] = "answered as a gateway problem document, whose detail says which Content-Type to send",
        ["IM6007"] = "answered as a problem document (gateway) or job answer (node), whose detail gives the limit",
        ["IM6008"] = "answered as a problem document (gateway) or job answer (node), whose detail says what is wrong with the JSON",
        ["IM6009"] = "answered as a gateway problem document, whose detail says what a version looks like",
        ["IM6010"] = "a node's refusal of an assignment, reported to the gateway, which places the model elsewhere",
        ["IM6012"] = "a node's answer to a job the gateway sent: the gateway tries another node",
        ["IM6013"] = "answered to a node as a problem document: the node registers again by itself",
        ["IM6048"] = "per site: both `infra mesh down` sites pass a hint naming the PID to kill",
        ["IM1070"] = "its one site passes a hint naming what to validate: the package directory, or the manifest file when it is not model.yaml",
        ["IM1000"] = ManifestFinding,
        ["IM1001"] = ManifestFinding,
        ["IM1002"] = ManifestFinding,
        ["IM1003"] = ManifestFinding,
        ["IM1004"] = ManifestFinding,
        ["IM1005"] = ManifestFinding,
        ["IM1006"] = ManifestFinding,
        ["IM1007"] = ManifestFinding,
        ["IM1008"] = ManifestFinding,
        ["IM1009"] = ManifestFinding,
        ["IM1010"] = ManifestFinding,
        ["IM1011"] = ManifestFinding,
        ["IM1012"] = ManifestFinding,
        ["IM1013"] = ManifestFinding,
        ["IM1014"] = ManifestFinding,
        ["IM1020"] = ManifestFinding,
        ["IM1021"] = ManifestFinding,
        ["IM1022"] = ManifestFinding,
        ["IM1023"] = ManifestFinding,
        ["IM1024"] = ManifestFinding,
        ["IM1025"] = ManifestFinding,
        ["IM1026"] = ManifestFinding,
        ["IM1027"] = ManifestFinding,
        ["IM1028"] = ManifestFinding,
        ["IM1030"] = ManifestFinding,
        ["IM1031"] = ManifestFinding,
        ["IM1032"] = ManifestFinding,
        ["IM1033"] = ManifestFinding,
        ["IM1040"] = ManifestFinding,
        ["IM1041"] = ManifestFinding,
        ["IM1042"] = ManifestFinding,
        ["IM1043"] = ManifestFinding,
        ["IM1044"] = ManifestFinding,
        ["IM1050"] = ManifestFinding,
        ["IM1051"] = ManifestFinding,
        ["IM1052"] = ManifestFinding,
        ["IM1053"] = ManifestFinding,
        ["IM1054"] = ManifestFinding,
    };

    [Fact]
    public void Every_declared_code_has_a_default_hint_or_a_reason_why_not()
    {
        var missing = Declared().Values
            .Where(d => string.IsNullOrWhiteSpace(d.Code.DefaultHint) && !WithoutDefaultHint.ContainsKey(d.Code.Value))
            .Select(d => $"{d.Owner} ({d.Code})")
            .Order()
            .ToList();
        Assert.True(missing.Count == 0,
            "codes with no DefaultHint: give one that says how to fix it wherever the code is raised, or add the code to " +
            "ErrorCatalogTests.WithoutDefaultHint with the reason there is none: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_code_listed_without_a_default_hint_exists_and_has_none()
    {
        var declared = Declared();
        foreach (var (code, reason) in WithoutDefaultHint)
        {
            Assert.True(declared.TryGetValue(code, out var d), $"{code} is listed in WithoutDefaultHint but declared nowhere");
            Assert.True(d.Code.DefaultHint is null, $"{code} ({d.Owner}) has a DefaultHint now: remove it from WithoutDefaultHint");
            Assert.False(string.IsNullOrWhiteSpace(reason), $"{code} is listed without a reason");
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
            // A placeholder (NAME:VERSION, FILE) stands for a value of the user's, read as one: --image's grammar takes
            // only lower-case names.
            .Select(t => Placeholder().IsMatch(t) ? t.ToLowerInvariant() : t)
            .ToArray();

    [GeneratedRegex("^[A-Z][A-Z0-9_]*(?::[A-Z][A-Z0-9_]*)?$")]
    private static partial Regex Placeholder();

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

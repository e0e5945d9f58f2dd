using System.Text.RegularExpressions;
using InfraMind.Testing;

namespace InfraMind.Manifest.Tests;

/// <summary>
/// Every manifest under Corpus/ (written by Corpus/generate.py): valid ones validate; invalid ones produce exactly the
/// findings their `# expect:` lines name, at the stated place.
/// </summary>
public sealed partial class CorpusTests : IDisposable
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Corpus");
    private readonly List<TempDirectory> _temps = [];

    public static TheoryData<string> ValidCases() => Cases("valid");

    public static TheoryData<string> InvalidCases() => Cases("invalid");

    private static TheoryData<string> Cases(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(Corpus, kind), "*.yaml").Order()) data.Add(Path.GetFileNameWithoutExtension(f));
        return data;
    }

    [Fact]
    public void Corpus_has_at_least_sixty_cases()
    {
        Assert.True(ValidCases().Count + InvalidCases().Count >= 60);
        Assert.True(InvalidCases().Count >= 40);
    }

    [Theory]
    [MemberData(nameof(ValidCases))]
    public void Valid_manifest_validates(string name)
    {
        var result = ManifestReader.Validate(Package(Path.Combine(Corpus, "valid", name + ".yaml")));
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.NotNull(result.Manifest);
        Assert.StartsWith("sha256:", result.ManifestDigest, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Invalid_manifest_reports_the_expected_findings(string name)
    {
        var file = Path.Combine(Corpus, "invalid", name + ".yaml");
        var expectFile = Path.ChangeExtension(file, ".expect");
        var expectText = File.Exists(expectFile) ? File.ReadAllText(expectFile) : File.ReadAllText(file);
        var expected = ExpectLine().Matches(expectText).Select(m => (Code: m.Groups[1].Value, Path: m.Groups[2].Value, Where: m.Groups[3].Value)).ToList();
        Assert.NotEmpty(expected);

        var result = ManifestReader.Validate(Package(file));

        Assert.False(result.IsValid);
        Assert.Null(result.Manifest);
        var errors = result.Errors.ToList();
        Assert.Equal(expected.Select(e => e.Code).Distinct().Order(), errors.Select(e => e.Code).Distinct().Order());
        foreach (var (code, path, where) in expected)
        {
            var candidates = errors.Where(e => e.Code == code && (path == "-" ? e.Path.Length == 0 : e.Path == path)).ToList();
            Assert.True(candidates.Count > 0, $"no {code} at {path}; got:\n{string.Join("\n", errors)}");
            if (where == "-") continue;
            var parts = where.Split(':');
            var (wantFile, line, col) = parts.Length == 3 ? (parts[0], parts[1], parts[2]) : ("model.yaml", parts[0], parts[1]);
            Assert.Contains(candidates, e => e.File == wantFile && $"{e.Line}:{e.Column}" == $"{line}:{col}");
        }

        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Hint), $"{e.Code} has no hint"));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
    }

    [GeneratedRegex(@"^# expect: (IM\d{4}) (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex ExpectLine();

    private string Package(string manifest)
    {
        var temp = new TempDirectory("im-corpus");
        _temps.Add(temp);
        var dir = temp.Path;
        TempDirectory.Copy(Path.Combine(Corpus, "package"), dir);
        File.Copy(manifest, Path.Combine(dir, "model.yaml"));
        File.CreateSymbolicLink(Path.Combine(dir, "escape.py"), "/etc/hostname");
        return dir;
    }

    public void Dispose()
    {
        foreach (var t in _temps) t.Dispose();
    }
}

using System.Xml.Linq;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// docs/architecture.md's list of project references ("Manifest → Errors; …") is what the projects under src/ reference:
/// a reference added or dropped without the doc fails here, not in a reader's head.
/// </summary>
public sealed class ArchitectureDocTests
{
    private const string Prefix = "InfraMind.";

    [Fact]
    public void The_documented_project_references_are_the_projects_references()
    {
        var doc = File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "architecture.md"));
        var start = doc.IndexOf("- Project references", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no '- Project references' list");
        var end = doc.IndexOf("\n- ", start, StringComparison.Ordinal);
        var list = doc[(doc.IndexOf("):", start, StringComparison.Ordinal) + 2)..end];
        var documented = list.Split(';').Select(entry => entry.Split('→')).ToDictionary(
            parts => parts[0].Trim(),
            parts => string.Join(", ", parts[1].Split(',').Select(p => p.Trim().TrimEnd('.')).Order(StringComparer.Ordinal)),
            StringComparer.Ordinal);

        var actual = Directory.EnumerateFiles(Path.Combine(TestEngine.RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories)
            .Select(file => (Project: Path.GetFileNameWithoutExtension(file)[Prefix.Length..], References: XDocument.Load(file).Descendants("ProjectReference")
                .Select(r => r.Attribute("Include")!.Value.Split('\\', '/')[^1].Replace(".csproj", "", StringComparison.Ordinal)[Prefix.Length..])
                .Order(StringComparer.Ordinal).ToList()))
            .Where(p => p.References.Count > 0)
            .ToDictionary(p => p.Project, p => string.Join(", ", p.References), StringComparer.Ordinal);

        Assert.True(actual.Count >= 10, $"only {actual.Count} projects under src/ reference another");
        Assert.Equal(actual.OrderBy(p => p.Key, StringComparer.Ordinal), documented.OrderBy(p => p.Key, StringComparer.Ordinal));
    }
}

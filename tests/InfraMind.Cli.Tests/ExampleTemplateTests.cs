using InfraMind.Cli.Commands;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// examples/sentiment-grpc is `infra init sentiment-grpc --protocol grpc`'s output, file for file: the template is the
/// one source, and the example may not drift from it (nor gain or lose a file).
/// </summary>
public sealed class ExampleTemplateTests
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
}

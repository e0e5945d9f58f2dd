using InfraMind.Testing;
using System.Formats.Tar;
using InfraMind.Containers;
using InfraMind.Containers.Build;

namespace InfraMind.Containers.Tests.Build;

public sealed class BuildContextTests
{
    [Fact]
    public void A_missing_directory_or_Dockerfile_is_IM3003_with_the_fix_as_its_hint()
    {
        using var dir = new TempDirectory();
        var missing = Assert.Throws<ContainerEngineException>(() => BuildContext.Validate(dir.Combine("nowhere")));
        Assert.Equal(ContainerErrorCodes.InvalidBuildContext, missing.Code);
        Assert.Equal("pass the model directory that holds the Dockerfile", missing.Hint);

        var noDockerfile = Assert.Throws<ContainerEngineException>(() => BuildContext.Validate(dir.Path));
        Assert.Equal(ContainerErrorCodes.InvalidBuildContext, noDockerfile.Code);
        Assert.Contains("examples/summarizer-v1/Dockerfile", noDockerfile.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tar_holds_what_dockerignore_lets_through()
    {
        using var dir = new TempDirectory();
        dir.Write("Dockerfile", "FROM scratch\n");
        dir.Write(".dockerignore", "Dockerfile\n.dockerignore\nsecret.txt\nlogs/\n!logs/keep.log\n**/*.tmp\nnode_modules\n");
        dir.Write("serve.py", "print(1)\n");
        dir.Write("secret.txt", "token\n");
        dir.Write("logs/a.log", "x");
        dir.Write("logs/keep.log", "x");
        dir.Write("src/deep/y.tmp", "x");
        dir.Write("src/deep/z.py", "x");
        dir.Write("node_modules/m/index.js", "x");

        using var tar = new MemoryStream();
        await BuildContext.WriteTarAsync(dir.Path, tar, CancellationToken.None);
        tar.Position = 0;
        var names = new List<string>();
        using (var reader = new TarReader(tar))
        {
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                names.Add(entry.EntryType == TarEntryType.Directory ? entry.Name.TrimEnd('/') + "/" : entry.Name);
            }
        }

        // The engine needs Dockerfile and .dockerignore even when they are ignored (it drops them from COPY itself).
        Assert.Equal(
            [".dockerignore", "Dockerfile", "logs/keep.log", "serve.py", "src/", "src/deep/", "src/deep/z.py"],
            names.Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Missing_directory_is_IM3003()
    {
        var e = Assert.Throws<ContainerEngineException>(() => BuildContext.Validate("/nonexistent/inframind"));
        Assert.Equal("IM3003", e.Code);
        Assert.DoesNotContain("IM3003", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_dockerfile_is_IM3003()
    {
        using var dir = new TempDirectory();
        dir.Write("serve.py", "");
        var e = Assert.Throws<ContainerEngineException>(() => BuildContext.Validate(dir.Path));
        Assert.Equal("IM3003", e.Code);
        Assert.Contains("Dockerfile", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Symlinked_directories_are_sent_as_links_not_walked()
    {
        using var dir = new TempDirectory();
        dir.Write("Dockerfile", "FROM scratch\n");
        dir.Write("real/a.txt", "a");
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "link"), Path.Combine(dir.Path, "real"));
        Assert.Equal(["Dockerfile", "link", "real", "real/a.txt"], BuildContext.ListEntries(dir.Path));
    }
}

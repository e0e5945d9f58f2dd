using InfraMind.Containers.Build;

namespace InfraMind.Containers.Tests.Build;

public sealed class DockerIgnoreTests
{
    [Theory]
    [InlineData("secret.txt", "secret.txt", true)]
    [InlineData("secret.txt", "sub/secret.txt", false)]
    [InlineData("*.log", "a.log", true)]
    [InlineData("*.log", "dir/a.log", false)]
    [InlineData("**/*.log", "dir/deeper/a.log", true)]
    [InlineData("**/*.log", "a.log", true)]
    [InlineData("logs", "logs/a/b.txt", true)]
    [InlineData("logs/", "logs/b.txt", true)]
    [InlineData("/logs", "logs/b.txt", true)]
    [InlineData("./logs", "logs/b.txt", true)]
    [InlineData("logs/**", "logs/x/y", true)]
    [InlineData("docs/**/*.md", "docs/a/b/c.md", true)]
    [InlineData("docs/**/*.md", "docs/c.md", true)]
    [InlineData("docs/**/*.md", "other/c.md", false)]
    [InlineData("data?.csv", "data1.csv", true)]
    [InlineData("data?.csv", "data10.csv", false)]
    [InlineData("data[0-9].csv", "data7.csv", true)]
    [InlineData("data[!0-9].csv", "data7.csv", false)]
    [InlineData("data[!0-9].csv", "datax.csv", true)]
    [InlineData("a.b", "axb", false)]
    [InlineData("# comment", "# comment", false)]
    [InlineData("**", "anything/at/all", true)]
    public void Single_pattern(string pattern, string path, bool excluded)
    {
        Assert.Equal(excluded, DockerIgnore.Parse(pattern).IsExcluded(path));
    }

    [Fact]
    public void Last_matching_line_wins_and_bang_reincludes()
    {
        var ignore = DockerIgnore.Parse("""
            # build outputs
            *.md
            !README.md
            logs/
            !logs/keep.log
            README*.md
            """);
        Assert.True(ignore.IsExcluded("CHANGES.md"));
        Assert.True(ignore.IsExcluded("README.md"), "README*.md comes after !README.md");
        Assert.True(ignore.IsExcluded("logs/a.log"));
        Assert.False(ignore.IsExcluded("logs/keep.log"));
        Assert.False(ignore.IsExcluded("serve.py"));
        Assert.True(ignore.HasExceptions);
    }

    [Fact]
    public void Crlf_and_blank_lines_are_tolerated()
    {
        var ignore = DockerIgnore.Parse("a.txt\r\n\r\n   \r\n  b.txt  \r\n");
        Assert.True(ignore.IsExcluded("a.txt"));
        Assert.True(ignore.IsExcluded("b.txt"));
        Assert.False(ignore.IsExcluded("c.txt"));
    }

    [Theory]
    [InlineData("a/./b/../c", "a/c")]
    [InlineData("./x/", "x")]
    [InlineData("/x//y", "/x/y")]
    [InlineData(".", ".")]
    public void Paths_are_cleaned_like_go(string input, string expected)
    {
        Assert.Equal(expected, DockerIgnore.CleanPath(input));
    }
}

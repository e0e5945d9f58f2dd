using System.Text.Json;

namespace InfraMind.Cli.Tests;

/// <summary>Runs `infra` in-process against captured output and a temporary home, as a user's shell would.</summary>
internal sealed class CliRunner : IDisposable
{
    public CliRunner()
    {
        Home = Path.Combine(Path.GetTempPath(), "im-home-" + Guid.NewGuid().ToString("N"));
        Work = Path.Combine(Path.GetTempPath(), "im-work-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Work);
    }

    public string Home { get; }

    public string Work { get; }

    /// <summary>
    /// examples/summarizer-v1 copied into <see cref="Work"/> (afresh) under another name and version; the path of its
    /// model.yaml, for `publish --model`.
    /// </summary>
    public string SummarizerModel(string name, string version)
    {
        var dir = Path.Combine(Work, $"{name}-{version}");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        InfraMind.Testing.TempDirectory.Copy(InfraMind.Testing.TestEngine.ExampleDir("summarizer-v1"), dir);
        var yaml = File.ReadAllText(Path.Combine(dir, "model.yaml"))
            .Replace("name: summarizer-v1", $"name: {name}", StringComparison.Ordinal)
            .Replace("version: 0.4.2", $"version: {version}", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(dir, "model.yaml"), yaml);
        return Path.Combine(dir, "model.yaml");
    }

    /// <summary>More environment variables for the commands this runner runs (e.g. INFRAMIND_IPFS_API).</summary>
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    public async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await InfraCli.RunAsync(args, Context(output, error));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The context the commands of this runner run in (its home, its HOME, <see cref="Environment"/>), for code called without a command.</summary>
    public CliContext Context(TextWriter? output = null, TextWriter? error = null) =>
        new(output ?? TextWriter.Null, error ?? TextWriter.Null,
            new Dictionary<string, string?>(Environment, StringComparer.Ordinal) { ["INFRAMIND_HOME"] = Home, ["HOME"] = Work }, interactive: false);

    public async Task<JsonElement> RunJsonAsync(int expectedCode, params string[] args)
    {
        var (code, output, err) = await RunAsync(args);
        Assert.True(expectedCode == code, $"exit {code}, expected {expectedCode}\n{output}\n{err}");
        return JsonDocument.Parse(output).RootElement;
    }

    public void Dispose()
    {
        if (Directory.Exists(Home)) Directory.Delete(Home, true);
        if (Directory.Exists(Work)) Directory.Delete(Work, true);
    }
}

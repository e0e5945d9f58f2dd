using InfraMind.Containers;
using Xunit;

namespace InfraMind.Testing;

/// <summary>Access to the real engine for integration tests, and to the repository's files.</summary>
public static class TestEngine
{
    public const string BaseImage = "python:3.10-slim";

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The engine, or null when none answers and CI is not set (the test then returns early). Under CI=true a missing
    /// engine or base image fails the test: CI must have run scripts/setup-engine.sh.
    /// </summary>
    public static async Task<ContainerEngine?> TryConnectAsync(bool needsBaseImage = true)
    {
        ContainerEngine engine;
        try
        {
            engine = await ContainerEngine.ConnectAsync(CancellationToken.None);
        }
        catch (EngineUnavailableException e)
        {
            if (IsCi) Assert.Fail("CI=true but no container engine: " + e.Message);
            return null;
        }

        if (needsBaseImage && !await engine.ImageExistsAsync(BaseImage, CancellationToken.None))
        {
            engine.Dispose();
            if (IsCi) Assert.Fail($"CI=true but the engine has no {BaseImage}: run scripts/setup-engine.sh.");
            return null;
        }

        return engine;
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ExampleDir(string name) => Path.Combine(RepoRoot, "examples", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InfraMind.slnx"))) return dir.FullName;
        }

        throw new InvalidOperationException("InfraMind.slnx not found above " + AppContext.BaseDirectory);
    }
}

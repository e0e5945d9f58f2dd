using InfraMind.Containers;

namespace InfraMind.Testing;

/// <summary>Access to the real engine for integration tests, and to the repository's files.</summary>
public static class TestEngine
{
    public const string BaseImage = "python:3.10-slim";

    /// <summary>
    /// The engine (with <see cref="BaseImage"/> unless <paramref name="needsBaseImage"/> is false). When none answers,
    /// or the base image is missing, the test fails where peers are required and is skipped elsewhere
    /// (<see cref="Peers.Missing"/>): it never returns early as a pass.
    /// </summary>
    public static async Task<ContainerEngine> ConnectAsync(bool needsBaseImage = true)
    {
        ContainerEngine engine;
        try
        {
            engine = await ContainerEngine.ConnectAsync(CancellationToken.None);
        }
        catch (EngineUnavailableException e)
        {
            throw Peers.Missing("no container engine answers (" + e.Message + ")", "run scripts/setup-engine.sh");
        }

        if (needsBaseImage && !await engine.ImageExistsAsync(BaseImage, CancellationToken.None))
        {
            engine.Dispose();
            throw Peers.Missing($"the engine has no {BaseImage}", "run scripts/setup-engine.sh (it builds the local stand-in)");
        }

        return engine;
    }

    /// <summary>
    /// Removes the images a test built under names of its own (e.g. <c>far-1a2b3c:1.0.0</c>), once their containers are
    /// gone: a name made unique per run would otherwise leave one image in the engine for every run of the suite. An
    /// image still in use stays (the test's own assertions say why); one already gone is fine.
    /// </summary>
    public static async Task RemoveTestImagesAsync(ContainerEngine engine, params string[] tags)
    {
        ArgumentNullException.ThrowIfNull(engine);
        foreach (var tag in tags)
        {
            try
            {
                await engine.RemoveImageAsync(tag, force: false, CancellationToken.None);
            }
            catch (ContainerEngineException)
            {
                // In use (a container the test's prune did not own): left to the engine's owner.
            }
        }
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

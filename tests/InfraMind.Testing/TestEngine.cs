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

    /// <summary>Longest wait for a container that holds an image for a moment (see <see cref="RemoveImageAsync"/>).</summary>
    public static readonly TimeSpan HeldImageWait = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Removes an image (tag or id) as <see cref="ContainerEngine.RemoveImageAsync"/> does, but waits out a running
    /// container that holds it for a moment: tests share the engine, and `infra doctor` without <c>--image</c> (as anyone
    /// sharing the engine may run it; the suite's own doctor runs name the base image) enters a short-lived container of
    /// the newest image InfraMind built, whichever test built it. A running container still there after
    /// <see cref="HeldImageWait"/>, or any other refusal, throws as the engine does.
    /// </summary>
    public static async Task<bool> RemoveImageAsync(ContainerEngine engine, string imageRef, bool force = true)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var deadline = DateTime.UtcNow + HeldImageWait;
        while (true)
        {
            try
            {
                return await engine.RemoveImageAsync(imageRef, force, CancellationToken.None);
            }
            catch (ContainerEngineException e) when (e.Message.Contains("running container", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary>
    /// Removes the images a test built, in its clean-up (a <c>finally</c> or a fixture's disposal), once their
    /// containers are gone: a name made unique per run would otherwise leave one image in the engine for every run of
    /// the suite. A container that holds one for a moment is waited out (<see cref="RemoveImageAsync"/>); an image still
    /// in use after that stays (the test's own assertions say why), and one already gone is fine. It never throws: an
    /// exception here would hide the test's own outcome.
    /// </summary>
    public static Task RemoveTestImagesAsync(ContainerEngine engine, params string[] tags) => RemoveTestImagesAsync(engine, force: false, tags);

    /// <inheritdoc cref="RemoveTestImagesAsync(ContainerEngine, string[])"/>
    public static async Task RemoveTestImagesAsync(ContainerEngine engine, bool force, params string[] refs)
    {
        ArgumentNullException.ThrowIfNull(engine);
        foreach (var imageRef in refs)
        {
            try
            {
                await RemoveImageAsync(engine, imageRef, force);
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

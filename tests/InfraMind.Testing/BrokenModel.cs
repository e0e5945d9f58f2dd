namespace InfraMind.Testing;

/// <summary>
/// Copies of tests/packages/broken-model with one way of breaking switched on (BEHAVIOR or HOOK_FAIL in its Dockerfile)
/// and a model name of their own, so images of different tests never share a tag.
/// </summary>
public static class BrokenModel
{
    public static string Source => Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model");

    /// <param name="setting">e.g. <c>BEHAVIOR=slow</c> or <c>HOOK_FAIL=init</c>; null keeps the good model.</param>
    /// <param name="extraStep">a Dockerfile line added after COPY (e.g. <c>RUN exit 9</c>).</param>
    public static string Create(string directory, string name, string? setting = null, string? extraStep = null, string? memory = null)
    {
        TempDirectory.Copy(Source, directory);
        var dockerfile = Path.Combine(directory, "Dockerfile");
        var text = File.ReadAllText(dockerfile);
        if (setting is not null) text = text.Replace($"ARG {setting.Split('=')[0]}=", $"ARG {setting}\n# was: ", StringComparison.Ordinal);
        if (extraStep is not null) text = text.Replace("COPY . .", "COPY . .\n" + extraStep, StringComparison.Ordinal);
        File.WriteAllText(dockerfile, text);
        var manifestPath = Path.Combine(directory, "model.yaml");
        var manifest = File.ReadAllText(manifestPath).Replace("name: broken-model", $"name: {name}", StringComparison.Ordinal);
        if (memory is not null) manifest = manifest.Replace("memory: 256Mi", $"memory: {memory}", StringComparison.Ordinal);
        File.WriteAllText(manifestPath, manifest);
        return directory;
    }
}

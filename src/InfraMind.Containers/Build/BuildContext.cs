using System.Formats.Tar;

namespace InfraMind.Containers.Build;

/// <summary>Packs a build context directory into the tar stream the engine's build endpoint takes.</summary>
public static class BuildContext
{
    public const string DockerfileName = "Dockerfile";

    /// <summary>Validates the context directory and returns its full path.</summary>
    internal static string Validate(string contextDir)
    {
        if (string.IsNullOrWhiteSpace(contextDir) || !Directory.Exists(contextDir))
        {
            throw new ContainerEngineException(
                ContainerErrorCodes.InvalidBuildContext,
                $"build context directory '{contextDir}' does not exist",
                hint: "pass the model directory that holds the Dockerfile");
        }

        var full = Path.GetFullPath(contextDir);
        if (!File.Exists(Path.Combine(full, DockerfileName)))
        {
            throw new ContainerEngineException(
                ContainerErrorCodes.InvalidBuildContext,
                $"no {DockerfileName} in build context '{full}'",
                hint: "add one (see examples/summarizer-v1/Dockerfile)");
        }

        return full;
    }

    /// <summary>The context-relative paths (with <c>/</c>) that go into the context, in the order they are written.</summary>
    public static List<string> ListEntries(string contextDir)
    {
        var ignore = DockerIgnore.Load(contextDir);
        var entries = new List<string>();
        Walk(contextDir, "", ignore, entries);
        return entries;
    }

    /// <summary>Writes the context as a tar into <paramref name="destination"/>.</summary>
    internal static async Task WriteTarAsync(string contextDir, Stream destination, CancellationToken cancellationToken)
    {
        var entries = ListEntries(contextDir);
        await using var writer = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var relative in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await writer.WriteEntryAsync(Path.Combine(contextDir, relative), relative, cancellationToken);
        }
    }

    private static void Walk(string root, string relativeDir, DockerIgnore ignore, List<string> entries)
    {
        var dir = relativeDir.Length == 0 ? root : Path.Combine(root, relativeDir);
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = false,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        };
        var children = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", options)
            .OrderBy(i => i.Name, StringComparer.Ordinal);
        foreach (var child in children)
        {
            var relative = relativeDir.Length == 0 ? child.Name : relativeDir + "/" + child.Name;
            // The engine reads these two itself, and drops them from what COPY sees when .dockerignore says so.
            var alwaysSent = relativeDir.Length == 0 && child.Name is DockerfileName or ".dockerignore";
            var excluded = !alwaysSent && ignore.IsExcluded(relative);
            var isRealDirectory = child is DirectoryInfo && child.LinkTarget is null;
            if (isRealDirectory)
            {
                if (!excluded)
                {
                    entries.Add(relative);
                }

                // Under an excluded directory only a "!" line can bring a file back: without one, skip the walk.
                if (!excluded || ignore.HasExceptions)
                {
                    Walk(root, relative, ignore, entries);
                }
            }
            else if (!excluded)
            {
                entries.Add(relative);
            }
        }
    }
}

namespace InfraMind.Manifest;

/// <summary>Checks that a path written in a manifest names a file inside the package, even through symlinks.</summary>
internal static class PackagePaths
{
    public enum Problem
    {
        None,
        Invalid,
        Missing,
        Escapes,
    }

    /// <summary>The checks that need no package on disk: relative, no '..', no NUL.</summary>
    public static (Problem Problem, string Detail) CheckSyntax(string relative)
    {
        if (relative.Length == 0) return (Problem.Invalid, "the path is empty");
        if (relative.Contains('\0', StringComparison.Ordinal)) return (Problem.Invalid, "the path contains a NUL character");
        if (Path.IsPathRooted(relative) || relative.StartsWith('~'))
            return (Problem.Invalid, $"'{relative}' is absolute; paths are relative to the package directory");
        var segments = relative.Split('/', '\\');
        if (segments.Contains(".."))
            return (Problem.Invalid, $"'{relative}' uses '..'; it must stay inside the package directory");
        return (Problem.None, "");
    }

    public static (Problem Problem, string Detail) Check(string packageDir, string relative)
    {
        var syntax = CheckSyntax(relative);
        if (syntax.Problem != Problem.None) return syntax;
        var root = RealPath(Path.GetFullPath(packageDir));
        var full = Path.Combine(root, relative);
        // Judged by where the path leads, not by the link it names: File.Exists is true for a link to nothing (it
        // falls back to the link itself), and a chain longer than RealPath follows (and the system opens) ended
        // "inside" at its last unresolved link, so both validated as files of the package.
        var real = RealPath(full);
        var inside = real.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);
        if (!inside) return (Problem.Escapes, $"'{relative}' resolves to {real}, outside the package");
        if (Directory.Exists(real)) return (Problem.Invalid, $"'{relative}' is a directory, not a file");
        if (File.Exists(real) && new FileInfo(real).LinkTarget is null) return (Problem.None, "");
        return File.Exists(full)
            ? (Problem.Missing, $"'{relative}' is a link that leads to no file (a missing target, or more than 40 links) in {packageDir}")
            : (Problem.Missing, $"'{relative}' does not exist in {packageDir}");
    }

    /// <summary>Resolves every symlink along the path (bounded, so link loops end).</summary>
    internal static string RealPath(string path)
    {
        var parts = Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "/";
        var hops = 0;
        var queue = new Queue<string>(parts);
        while (queue.Count > 0)
        {
            var next = Path.Combine(current, queue.Dequeue());
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target && hops++ < 40)
            {
                var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                var rest = queue.ToArray();
                queue = new Queue<string>(resolved.Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                current = "/";
                continue;
            }

            current = next;
        }

        return current;
    }
}

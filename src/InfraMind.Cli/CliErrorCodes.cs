namespace InfraMind.Cli;

/// <summary>
/// Stable codes of the command line itself (IM00xx) and of `infra init` (IM1060), documented in docs/errors.md. The
/// libraries' codes are declared beside their failures (ManifestCodes, OciErrorCodes, StorageErrorCodes, …).
/// </summary>
public static class CliErrorCodes
{
    /// <summary>A failure no code describes: a defect of infra. The details (stack trace included) go to a file, never the terminal.</summary>
    public static readonly ErrorCode Internal = new("IM0001", FailureKind.Internal);

    /// <summary>The command line is wrong: unknown command or option, missing argument, a value out of range.</summary>
    public static readonly ErrorCode UsageError = new("IM0002", FailureKind.Usage);

    /// <summary>A file named on the command line (or one a command reads by default) does not exist, or is a directory: a bundle, a key.</summary>
    public static readonly ErrorCode FileNotFound = new("IM0003", FailureKind.Usage);

    /// <summary>
    /// <paramref name="path"/> when a file is there; IM0003 otherwise, "no WHAT at PATH", or "WHAT: PATH is a directory,
    /// not a file" for a directory (before, a directory was reported as missing, though it plainly was there). The one
    /// check of a file a user names, before it is read.
    /// </summary>
    /// <remarks>
    /// A path written "@FILE" where FILE exists (curl's way of naming a file to send) is told so: infra reads no
    /// response files, so the "@" is part of the name it looked for.
    /// </remarks>
    public static string RequireFile(string path, string what, string hint)
    {
        if (File.Exists(path)) return path;
        if (path is ['@', .. var rest] && File.Exists(rest))
            throw new InfraMindException(FileNotFound, $"no {what} at {path}", $"write the path without the '@' ({rest}): infra takes a file's path as it is, not curl's @FILE");
        throw new InfraMindException(FileNotFound, Directory.Exists(path) ? $"{what}: {path} is a directory, not a file" : $"no {what} at {path}", hint);
    }

    /// <summary>Interrupted (Ctrl-C, SIGTERM); the command removed what it had started.</summary>
    public static readonly ErrorCode Interrupted = new("IM0004", FailureKind.Interrupted);

    /// <summary>A file or directory cannot be read or written: permissions, a full disk, a path that is no directory.</summary>
    public static readonly ErrorCode FileAccess = new("IM0005", FailureKind.Usage,
        "check the path and its permissions; infra writes only under $INFRAMIND_HOME (default ~/.inframind) and where an option names");

    /// <summary>`infra init`: the target directory exists and is not empty.</summary>
    public static readonly ErrorCode InitDirectoryNotEmpty = new("IM1060", FailureKind.CheckFailed,
        "choose another --dir, or remove the directory first; init never overwrites files");
}

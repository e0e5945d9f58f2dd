namespace InfraMind.Manifest;

public enum DiagnosticSeverity
{
    Error,
    Warning,
}

/// <summary>One finding about a package: a stable code, where it is, what is wrong and how to fix it.</summary>
/// <param name="Code">Stable code such as IM1010; documented in docs/errors.md.</param>
/// <param name="Path">Field path inside the manifest (e.g. <c>resources.memory</c>), empty for the whole file.</param>
/// <param name="File">The file the finding is in (model.yaml, a schema file, the Dockerfile).</param>
/// <param name="Line">1-based line, 0 when the finding has no single place.</param>
/// <param name="Column">1-based column, 0 when the finding has no single place.</param>
public sealed record ManifestDiagnostic(
    string Code,
    DiagnosticSeverity Severity,
    string Path,
    string File,
    int Line,
    int Column,
    string Message,
    string Hint)
{
    public string Location => Line > 0 ? $"{File}:{Line}:{Column}" : File;

    public override string ToString() =>
        $"{Location}: {(Severity == DiagnosticSeverity.Error ? "error" : "warning")} {Code}: {Message}" +
        (Path.Length > 0 ? $" [{Path}]" : "") + (Hint.Length > 0 ? $" (hint: {Hint})" : "");
}

/// <summary>The stable codes of every manifest finding. Never renumber: scripts match on them.</summary>
public static class ManifestCodes
{
    public const string PathNotFound = "IM1000";
    public const string ManifestMissing = "IM1001";
    public const string FileTooLarge = "IM1002";
    public const string NotText = "IM1003";
    public const string EmptyFile = "IM1004";
    public const string YamlSyntax = "IM1005";
    public const string TabIndentation = "IM1006";
    public const string DuplicateKey = "IM1007";
    public const string NotAMapping = "IM1008";
    public const string MultipleDocuments = "IM1009";
    public const string MissingField = "IM1010";
    public const string UnknownField = "IM1011";
    public const string WrongType = "IM1012";
    public const string InvalidName = "IM1020";
    public const string InvalidVersion = "IM1021";
    public const string InvalidPath = "IM1022";
    public const string FileNotInPackage = "IM1023";
    public const string PathEscapes = "IM1024";
    public const string UnknownHook = "IM1025";
    public const string InvalidRuntime = "IM1026";
    public const string InvalidProtocol = "IM1027";
    public const string InvalidPort = "IM1028";
    public const string InvalidCpu = "IM1030";
    public const string InvalidMemory = "IM1031";
    public const string InvalidGpu = "IM1032";
    public const string InvalidTimeout = "IM1033";
    public const string SchemaInvalid = "IM1040";
    public const string SchemaRefUnresolved = "IM1041";
    public const string SchemaNotObject = "IM1042";
    public const string SchemaFileInvalid = "IM1043";
    public const string SchemaDialect = "IM1044";

    /// <summary>A <c>pattern</c> or <c>patternProperties</c> key that cannot be matched in linear time (<see cref="SchemaPatterns"/>).</summary>
    public const string SchemaPatternUnsafe = "IM1045";
    public const string DockerfileMissing = "IM1050";
    public const string ExposeMismatch = "IM1051";
    public const string CommandMismatch = "IM1052";
}

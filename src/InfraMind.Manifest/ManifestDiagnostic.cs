namespace InfraMind.Manifest;

public enum DiagnosticSeverity
{
    Error,
    Warning,
}

/// <summary>One finding about a package: a stable code, where it is, what is wrong and how to fix it.</summary>
/// <param name="Code">Stable code such as IM1010 (one of <see cref="ManifestCodes"/>); documented in docs/errors.md.</param>
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

    /// <summary>
    /// The finding as every <c>--json</c> writes it (`infra validate`'s <c>errors[]</c> and <c>warnings[]</c>, `infra
    /// test`'s <c>errors[]</c>): its code, where it is, what is wrong and the fix, each a member of its own.
    /// </summary>
    public object ToJson() => new { code = Code, path = Path, file = File, line = Line, column = Column, message = Message, hint = Hint };

    public override string ToString() =>
        $"{Location}: {(Severity == DiagnosticSeverity.Error ? "error" : "warning")} {Code}: {Message}" +
        (Path.Length > 0 ? $" [{Path}]" : "") + (Hint.Length > 0 ? $" (hint: {Hint})" : "");
}

/// <summary>
/// The stable codes of every manifest finding (IM10xx), documented in docs/errors.md. Never renumber: scripts match on
/// them. A finding's kind is what the code means when a command fails with it alone: the value rules that are also
/// checked on the command line (a model name, a CPU or memory quantity, a timeout) are usage errors; `infra validate`
/// and every command that reads model.yaml exit 1 when model.yaml has any error finding.
/// </summary>
public static class ManifestCodes
{
    public static readonly ErrorCode PathNotFound = new("IM1000", FailureKind.Usage);
    public static readonly ErrorCode ManifestMissing = new("IM1001", FailureKind.CheckFailed);
    public static readonly ErrorCode FileTooLarge = new("IM1002", FailureKind.CheckFailed);
    public static readonly ErrorCode NotText = new("IM1003", FailureKind.CheckFailed);
    public static readonly ErrorCode EmptyFile = new("IM1004", FailureKind.CheckFailed);
    public static readonly ErrorCode YamlSyntax = new("IM1005", FailureKind.CheckFailed);
    public static readonly ErrorCode TabIndentation = new("IM1006", FailureKind.CheckFailed);
    public static readonly ErrorCode DuplicateKey = new("IM1007", FailureKind.CheckFailed);
    public static readonly ErrorCode NotAMapping = new("IM1008", FailureKind.CheckFailed);
    public static readonly ErrorCode MultipleDocuments = new("IM1009", FailureKind.CheckFailed);
    public static readonly ErrorCode MissingField = new("IM1010", FailureKind.CheckFailed);
    public static readonly ErrorCode UnknownField = new("IM1011", FailureKind.CheckFailed);
    public static readonly ErrorCode WrongType = new("IM1012", FailureKind.CheckFailed);

    /// <summary>
    /// A warning: the manifest validated is a file named other than model.yaml (model.yml, Model.yaml, a copy), which
    /// `build`, `test` and `push` never read: they read model.yaml in its directory.
    /// </summary>
    public static readonly ErrorCode ManifestNameNotRead = new("IM1013", FailureKind.CheckFailed);

    /// <summary>
    /// One package made more findings than are listed (<c>ManifestFindings.MaxListed</c>, 100): this one finding, last,
    /// counts the rest. An error when any of the rest is one.
    /// </summary>
    public static readonly ErrorCode FindingsUnlisted = new("IM1014", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidName = new("IM1020", FailureKind.Usage);
    public static readonly ErrorCode InvalidVersion = new("IM1021", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidPath = new("IM1022", FailureKind.CheckFailed);
    public static readonly ErrorCode FileNotInPackage = new("IM1023", FailureKind.CheckFailed);
    public static readonly ErrorCode PathEscapes = new("IM1024", FailureKind.CheckFailed);
    public static readonly ErrorCode UnknownHook = new("IM1025", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidRuntime = new("IM1026", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidProtocol = new("IM1027", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidPort = new("IM1028", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidCpu = new("IM1030", FailureKind.Usage);
    public static readonly ErrorCode InvalidMemory = new("IM1031", FailureKind.Usage);
    public static readonly ErrorCode InvalidGpu = new("IM1032", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidTimeout = new("IM1033", FailureKind.Usage);
    public static readonly ErrorCode SchemaInvalid = new("IM1040", FailureKind.CheckFailed);
    public static readonly ErrorCode SchemaRefUnresolved = new("IM1041", FailureKind.CheckFailed);
    public static readonly ErrorCode SchemaNotObject = new("IM1042", FailureKind.CheckFailed);
    public static readonly ErrorCode SchemaFileInvalid = new("IM1043", FailureKind.CheckFailed);
    public static readonly ErrorCode SchemaDialect = new("IM1044", FailureKind.CheckFailed);

    /// <summary>A <c>pattern</c> or <c>patternProperties</c> key that cannot be matched in linear time (<see cref="SchemaPatterns"/>).</summary>
    public static readonly ErrorCode SchemaPatternUnsafe = new("IM1045", FailureKind.CheckFailed,
        "write the pattern without backreferences, lookarounds or atomic groups (InfraMind matches patterns in linear time)");

    /// <summary>A schema with more than <see cref="ModelSchema.MaxValues"/> values: what every gateway and node would hold parsed per version.</summary>
    public static readonly ErrorCode SchemaTooLarge = new("IM1046", FailureKind.CheckFailed,
        "describe repeated shapes once (items, additionalProperties, patternProperties, a $ref to a definition)");

    public static readonly ErrorCode DockerfileMissing = new("IM1050", FailureKind.CheckFailed);
    public static readonly ErrorCode ExposeMismatch = new("IM1051", FailureKind.CheckFailed);
    public static readonly ErrorCode CommandMismatch = new("IM1052", FailureKind.CheckFailed);

    /// <summary>A Dockerfile line that starts with no instruction the engine knows (a typo, a continuation without its backslash).</summary>
    public static readonly ErrorCode DockerfileInstructionUnknown = new("IM1053", FailureKind.CheckFailed);

    /// <summary>A Dockerfile whose first instruction (ARG aside) is not FROM, or that has none.</summary>
    public static readonly ErrorCode DockerfileNoFrom = new("IM1054", FailureKind.CheckFailed);

    /// <summary>A command that needs a valid package (build, push, publish) stopped: the package has error findings, all listed.</summary>
    public static readonly ErrorCode PackageInvalid = new("IM1070", FailureKind.CheckFailed);
}

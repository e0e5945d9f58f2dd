using Semver;

namespace InfraMind.Manifest;

/// <summary>The outcome of reading a package: the manifest when it is valid, and every finding either way.</summary>
public sealed record ManifestValidation(
    string ManifestPath,
    string PackageDirectory,
    string? ManifestDigest,
    ModelManifest? Manifest,
    IReadOnlyList<ManifestDiagnostic> Diagnostics)
{
    /// <summary>
    /// The manifest's name when that field holds a valid one, also when other fields are wrong (a report of an invalid
    /// package still says which model it is); null when the name is missing or invalid, or the file was not read.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>The manifest's version when that field is valid SemVer, also when other fields are wrong; as <see cref="Name"/>.</summary>
    public SemVersion? Version { get; init; }

    /// <summary>The error findings past the listed ones (<see cref="ManifestCodes.FindingsUnlisted"/> counts them): not in <see cref="Diagnostics"/>.</summary>
    public int UnlistedErrors { get; init; }

    /// <summary>The warnings past the listed ones, as <see cref="UnlistedErrors"/>.</summary>
    public int UnlistedWarnings { get; init; }

    /// <summary>Every error found, listed or not; the finding that counts the unlisted ones is not one of them.</summary>
    public int ErrorCount => Errors.Count(d => !IsUnlistedCount(d)) + UnlistedErrors;

    /// <summary>Every warning found, listed or not, as <see cref="ErrorCount"/>.</summary>
    public int WarningCount => Warnings.Count(d => !IsUnlistedCount(d)) + UnlistedWarnings;

    /// <summary>The finding that counts those not listed (IM1014): it is listed last, after every file's findings.</summary>
    public static bool IsUnlistedCount(ManifestDiagnostic d) => d.Code == ManifestCodes.FindingsUnlisted.Value;

    public IEnumerable<ManifestDiagnostic> Errors => InFileOrder(DiagnosticSeverity.Error);

    public IEnumerable<ManifestDiagnostic> Warnings => InFileOrder(DiagnosticSeverity.Warning);

    // Findings come in the order the checks ran (an unknown field before the required one it hides): listed by file, in
    // the order files were first named, then by line and column, so that `validate`, its --json and IM1070 agree.
    private IEnumerable<ManifestDiagnostic> InFileOrder(DiagnosticSeverity severity)
    {
        var found = Diagnostics.Where(d => d.Severity == severity).ToList();
        var files = found.Select(d => d.File).Distinct(StringComparer.Ordinal).ToList();
        return found.OrderBy(IsUnlistedCount).ThenBy(d => files.IndexOf(d.File)).ThenBy(d => d.Line).ThenBy(d => d.Column);
    }

    public bool IsValid => Manifest is not null && !Errors.Any();

    /// <summary>True when the path given does not exist at all: a usage error rather than an invalid package.</summary>
    public bool PathMissing => Diagnostics.Any(d => d.Code == ManifestCodes.PathNotFound);

    /// <summary>
    /// The manifest of a valid package, for a command that cannot go on without one. Otherwise throws a
    /// <see cref="ManifestException"/>: <see cref="ManifestCodes.PathNotFound"/> when the path does not exist, else
    /// <see cref="ManifestCodes.PackageInvalid"/> listing every error finding (warnings do not stop a command).
    /// </summary>
    public ModelManifest EnsureValid()
    {
        if (IsValid) return Manifest!;
        if (Diagnostics.FirstOrDefault(d => d.Code == ManifestCodes.PathNotFound) is { } missing)
            throw new ManifestException(ManifestCodes.PathNotFound, missing.Message, missing.Hint, this);
        var errors = Errors.ToList();
        // The subject is the package, not model.yaml: a finding may be in a schema file or the Dockerfile. Each file is
        // named with its count, in the order the findings list them (by file, then line and column).
        var subject = PackageDirectory.Length > 0 ? $"the package at {PackageDirectory}" : ManifestPath;
        var files = string.Join("; ", errors.Where(e => !IsUnlistedCount(e)).GroupBy(e => e.File, StringComparer.Ordinal).Select(g => $"{g.Key}: {Plural(g.Count(), "error")}")
            .Concat(UnlistedErrors > 0 ? [$"{UnlistedErrors:N0} more not listed"] : []));
        throw new ManifestException(
            ManifestCodes.PackageInvalid,
            $"{subject} has {Plural(ErrorCount, "error")} ({files}):\n" + string.Join("\n", errors.Select(e => "  " + e)),
            $"`infra validate {ValidatePath}` lists every finding with its fix",
            this);
    }

    /// <summary>
    /// What to pass `infra validate` to see these findings again: the package directory, or the manifest file itself when
    /// it is not model.yaml (`publish --model other.yaml`), which validating the directory would not read.
    /// </summary>
    private string ValidatePath =>
        PackageDirectory.Length == 0 || !string.Equals(Path.GetFileName(ManifestPath), ManifestReader.FileName, StringComparison.Ordinal) ? ManifestPath : PackageDirectory;

    /// <summary>A count of findings as a reader says it ("1 error", "2 warnings"): IM1070's and `infra validate`'s words.</summary>
    public static string Plural(int count, string noun) => $"{count:N0} {noun}{(count == 1 ? "" : "s")}";
}

/// <summary>A command needed a valid package and did not get one; <see cref="Validation"/> holds every finding.</summary>
public sealed class ManifestException(ErrorCode code, string message, string? hint, ManifestValidation validation)
    : InfraMindException(code, message, hint)
{
    public ManifestValidation Validation { get; } = validation;
}

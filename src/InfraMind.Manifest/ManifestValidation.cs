namespace InfraMind.Manifest;

/// <summary>The outcome of reading a package: the manifest when it is valid, and every finding either way.</summary>
public sealed record ManifestValidation(
    string ManifestPath,
    string PackageDirectory,
    string? ManifestDigest,
    ModelManifest? Manifest,
    IReadOnlyList<ManifestDiagnostic> Diagnostics)
{
    public IEnumerable<ManifestDiagnostic> Errors => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);

    public IEnumerable<ManifestDiagnostic> Warnings => Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning);

    public bool IsValid => Manifest is not null && !Errors.Any();

    /// <summary>True when the path given does not exist at all: a usage error rather than an invalid package.</summary>
    public bool PathMissing => Diagnostics.Any(d => d.Code == ManifestCodes.PathNotFound);
}

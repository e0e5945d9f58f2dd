namespace InfraMind.Manifest;

/// <summary>
/// The findings of reading one package, in the order they were made. Every reader of a part of the package (text,
/// fields, schemas, Dockerfile) adds to the same list, so a user sees every problem at once.
/// </summary>
/// <param name="file">The manifest's file name, where a finding is when it names no other file.</param>
internal sealed class ManifestFindings(string file)
{
    private readonly List<ManifestDiagnostic> _diagnostics = [];

    public string File { get; } = file;

    public IReadOnlyList<ManifestDiagnostic> All => _diagnostics;

    public int Count => _diagnostics.Count;

    public bool HasErrors => _diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>An error at <paramref name="at"/>, or at <paramref name="line"/>:<paramref name="column"/> when there is no node.</summary>
    public void Error(string code, string path, YNode? at, string message, string hint, int line = 0, int column = 0, string? file = null) =>
        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Error, path, file ?? File,
            at?.Line ?? line, at?.Column ?? column, message, hint));

    public void Warning(string code, string path, string file, int line, string message, string hint) =>
        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Warning, path, file, line, line > 0 ? 1 : 0, message, hint));
}

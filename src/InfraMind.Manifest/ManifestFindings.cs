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

    /// <summary>The longest message a finding keeps; the middle of a longer one (a value it quotes) is cut out.</summary>
    public const int MaxMessageLength = 400;

    /// <summary>An error at <paramref name="at"/>, or at <paramref name="line"/>:<paramref name="column"/> when there is no node.</summary>
    public void Error(string code, string path, YNode? at, string message, string hint, int line = 0, int column = 0, string? file = null) =>
        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Error, Shown(path), file ?? File,
            at?.Line ?? line, at?.Column ?? column, Shown(message), hint));

    public void Warning(string code, string path, string file, int line, string message, string hint) =>
        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Warning, Shown(path), file, line, line > 0 ? 1 : 0, Shown(message), hint));

    /// <summary>
    /// A message as a terminal may show it: it quotes what the package says (a value, a key, a whole scalar document),
    /// and a package may come from a stranger. Control characters are escaped (<c>\u001B</c>: no escape sequence reaches
    /// the terminal, no line is forged), and a message over <see cref="MaxMessageLength"/> keeps its start and its end.
    /// </summary>
    internal static string Shown(string message)
    {
        message = TerminalText.Escape(message);

        if (message.Length <= MaxMessageLength) return message;
        var keep = (MaxMessageLength - 40) / 2;
        return $"{message[..keep]}…({message.Length - 2 * keep:N0} characters cut)…{message[^keep..]}";
    }
}

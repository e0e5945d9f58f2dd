namespace InfraMind.Manifest;

/// <summary>
/// The findings of reading one package, in the order they were made. Every reader of a part of the package (text,
/// fields, schemas, Dockerfile) adds to the same list, so a user sees every problem at once.
/// </summary>
/// <param name="file">The manifest's file name, where a finding is when it names no other file.</param>
internal sealed class ManifestFindings(string file)
{
    private readonly List<ManifestDiagnostic> _diagnostics = [];
    private int _unlistedErrors;
    private int _unlistedWarnings;

    public string File { get; } = file;

    /// <summary>
    /// The most findings one package lists. A manifest is at most 1 MiB, but one of 92,000 unknown keys would make as
    /// many errors, and a message (IM1070, a registry's refusal) 19 times the manifest's size. Past this, findings are
    /// counted, not kept, and <see cref="All"/> ends with one <see cref="ManifestCodes.FindingsUnlisted"/> that says how
    /// many more there are. 100, as the schema violations one answer lists (<see cref="ModelSchema.MaxViolations"/>).
    /// </summary>
    public const int MaxListed = 100;

    /// <summary>The findings listed (at most <see cref="MaxListed"/>), then the count of the rest when there are more.</summary>
    public IReadOnlyList<ManifestDiagnostic> All => Unlisted == 0 ? _diagnostics : [.. _diagnostics, UnlistedFinding()];

    /// <summary>Every finding made, listed or not: a reader compares it before and after a part to know whether that part added any.</summary>
    public int Count => _diagnostics.Count + Unlisted;

    /// <summary>The error findings past <see cref="MaxListed"/>, counted but not listed.</summary>
    public int UnlistedErrors => _unlistedErrors;

    /// <summary>The warnings past <see cref="MaxListed"/>, counted but not listed.</summary>
    public int UnlistedWarnings => _unlistedWarnings;

    private int Unlisted => _unlistedErrors + _unlistedWarnings;

    public bool HasErrors => _unlistedErrors > 0 || _diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>The longest message a finding keeps; the middle of a longer one (a value it quotes) is cut out.</summary>
    public const int MaxMessageLength = 400;

    /// <summary>An error at <paramref name="at"/>, or at <paramref name="line"/>:<paramref name="column"/> when there is no node.</summary>
    public void Error(string code, string path, YNode? at, string message, string hint, int line = 0, int column = 0, string? file = null)
    {
        if (_diagnostics.Count >= MaxListed)
        {
            _unlistedErrors++;
            return;
        }

        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Error, Shown(path), file ?? File,
            at?.Line ?? line, at?.Column ?? column, Shown(message), hint));
    }

    public void Warning(string code, string path, string file, int line, string message, string hint)
    {
        if (_diagnostics.Count >= MaxListed)
        {
            _unlistedWarnings++;
            return;
        }

        _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Warning, Shown(path), file, line, line > 0 ? 1 : 0, Shown(message), hint));
    }

    /// <summary>
    /// The one finding that stands for those not listed: an error when any of them is one (the package is invalid either
    /// way), in the manifest's file with no line, as they may be anywhere in the package.
    /// </summary>
    private ManifestDiagnostic UnlistedFinding() => new(
        ManifestCodes.FindingsUnlisted, _unlistedErrors > 0 ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, "", File, 0, 0,
        $"{Unlisted:N0} more finding{(Unlisted == 1 ? "" : "s")} than the {MaxListed} listed ({ManifestValidation.Plural(_unlistedErrors, "error")}, " +
        $"{ManifestValidation.Plural(_unlistedWarnings, "warning")}): InfraMind lists at most {MaxListed} for one package",
        "fix the findings listed and validate again to see the rest; so many usually means the file is not a model.yaml (another tool's YAML, a generated file)");

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

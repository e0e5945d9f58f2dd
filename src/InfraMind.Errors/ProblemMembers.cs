namespace InfraMind;

/// <summary>
/// The members every InfraMind server adds to an RFC 9457 problem document beyond the RFC's own: <c>code</c> (the
/// stable <c>IMnnnn</c>) and <c>hint</c> (how to fix it: the one given where the failure was raised, else the code's
/// default; absent when there is nothing to add), as the command line's <c>hint:</c> line and <c>--json</c> error object
/// carry them. A client that shows a server's hint reads it with <see cref="HintOf"/>.
/// </summary>
public static class ProblemMembers
{
    /// <summary>The most characters of a server's hint a client shows: longer is cut there (a hint is one sentence or two).</summary>
    public const int MaxHintChars = 500;

    /// <summary><c>code</c>, and <c>hint</c> when there is one (<paramref name="hint"/>, else the code's default).</summary>
    public static Dictionary<string, object?> Of(ErrorCode code, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(code);
        var members = new Dictionary<string, object?> { ["code"] = code.Value };
        if ((hint ?? code.DefaultHint) is { Length: > 0 } fix) members["hint"] = fix;
        return members;
    }

    /// <summary>
    /// A server's hint as a client shows it: cut to <see cref="MaxHintChars"/>, on one line; null when the server gave
    /// none (or an empty one). It is the server's text, as the problem's detail is: the terminal escapes it as it does
    /// every message.
    /// </summary>
    public static string? HintOf(string? hint)
    {
        if (string.IsNullOrWhiteSpace(hint)) return null;
        var line = hint.ReplaceLineEndings(" ").Trim();
        return TerminalText.Shorten(line, MaxHintChars);
    }
}

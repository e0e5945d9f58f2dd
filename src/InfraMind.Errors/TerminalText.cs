using System.Text;

namespace InfraMind;

/// <summary>
/// Text that may quote a stranger (a package's model.yaml, a model's build output, a peer's answer) as a terminal may
/// show it: control characters are escaped as <c>\uXXXX</c>, so that no escape sequence reaches the terminal (colours,
/// cursor moves, a title, a hyperlink) and no carriage return rewrites what was printed.
/// </summary>
public static class TerminalText
{
    /// <summary>
    /// <paramref name="text"/> with its control characters escaped; line feeds and tabs kept when
    /// <paramref name="keepLines"/> (a build's output tail reads as lines), escaped otherwise (a value quoted in one line
    /// cannot forge another).
    /// </summary>
    public static string Escape(string text, bool keepLines = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(c => Escaped(c, keepLines))) return text;
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (Escaped(c, keepLines)) escaped.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            else escaped.Append(c);
        }

        return escaped.ToString();
    }

    private static bool Escaped(char c, bool keepLines) => char.IsControl(c) && !(keepLines && c is '\n' or '\t');
}

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

    /// <summary>
    /// A stranger's text quoted in one line of a message: in single quotes, its control characters escaped, at most
    /// <paramref name="most"/> characters of it and then "…" (with, when <paramref name="sayLength"/>, how many it
    /// had), so a message never grows with what the stranger sent.
    /// </summary>
    public static string Quote(string text, int most, bool sayLength = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= most
            ? $"'{Escape(text)}'"
            : $"'{Escape(Cut(text, most))}…'" + (sayLength ? $" ({text.Length} characters)" : "");
    }

    /// <summary><paramref name="text"/> as it is when it has at most <paramref name="most"/> characters; else its first <paramref name="most"/> (<see cref="Cut"/>) and "…".</summary>
    public static string Shorten(string text, int most)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= most ? text : Cut(text, most) + "…";
    }

    /// <summary>The first <paramref name="most"/> characters of <paramref name="text"/> at most, never half of a surrogate pair.</summary>
    public static string Cut(string text, int most)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= most) return text;
        return text[..(most > 0 && char.IsHighSurrogate(text[most - 1]) ? most - 1 : most)];
    }

    private static bool Escaped(char c, bool keepLines) => char.IsControl(c) && !(keepLines && c is '\n' or '\t');
}

using Spectre.Console;

namespace InfraMind.Cli;

/// <summary>
/// Text put into Spectre.Console markup: its brackets escaped (it is not markup), and its control characters too
/// (<see cref="TerminalText"/>), since what a command prints may quote a stranger — a package's build output, a model's
/// answer or logs, a registry's or a gateway's words — whose escape sequences must not reach the terminal.
/// </summary>
internal static class ConsoleText
{
    public static string Escape(string text) => Markup.Escape(TerminalText.Escape(text, keepLines: true));
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// `--log-format text` (with --verbose): one line per entry, <c>HH:mm:ss level: category[event] message</c>, as the
/// built-in simple console formatter writes it with SingleLine, except that control characters are escaped
/// (<see cref="TerminalText"/>). A log line quotes strangers (a node's id and what its gateway refused, a peer's error,
/// a model's failure): with the built-in one, their escape sequences reached the operator's terminal and their line
/// breaks made lines of their own that read as the server's. On a terminal (stderr not redirected, NO_COLOR unset)
/// the level word is coloured (warn yellow, fail and crit red, info green); the colours are the formatter's own
/// codes, written around the level only, after the line was escaped.
/// </summary>
internal sealed class TextLogFormatter : ConsoleFormatter
{
    public const string FormatterName = "inframind-text";

    private readonly bool colour;

    /// <summary>For the console logger's DI (its one public constructor): colours when stderr, where the logs go, is a terminal and NO_COLOR is unset.</summary>
    public TextLogFormatter()
        : this(!System.Console.IsErrorRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")))
    {
    }

    internal TextLogFormatter(bool colour)
        : base(FormatterName) => this.colour = colour;

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var line = $"{logEntry.Category}[{logEntry.EventId.Id}] {message}";
        if (logEntry.Exception is { } e) line += " " + e;
        textWriter.Write(DateTime.Now.ToString("HH:mm:ss ", CultureInfo.InvariantCulture));
        var level = Level(logEntry.LogLevel);
        if (colour && Colour(logEntry.LogLevel) is { } code) textWriter.Write($"\u001b[{code}m{level}\u001b[0m");
        else textWriter.Write(level);
        textWriter.Write(": ");
        textWriter.Write(TerminalText.Escape(line));
        textWriter.Write('\n');
    }

    /// <summary>The SGR colour of a level's word: red for failures, yellow for warnings, green for information.</summary>
    private static string? Colour(LogLevel level) => level switch
    {
        LogLevel.Information => "32",
        LogLevel.Warning => "33",
        LogLevel.Error or LogLevel.Critical => "31",
        _ => null,
    };

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}

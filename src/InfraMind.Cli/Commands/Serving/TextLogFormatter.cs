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
/// breaks made lines of their own that read as the server's.
/// </summary>
internal sealed class TextLogFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "inframind-text";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var line = $"{DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {Level(logEntry.LogLevel)}: {logEntry.Category}[{logEntry.EventId.Id}] {message}";
        if (logEntry.Exception is { } e) line += " " + e;
        textWriter.Write(TerminalText.Escape(line));
        textWriter.Write('\n');
    }

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

using InfraMind.Cli.Commands.Serving;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InfraMind.Cli.Tests;

/// <summary>`--log-format text`: one line per entry, whatever a stranger's text quoted in it carries.</summary>
public sealed class TextLogFormatterTests
{
    [Fact]
    public void An_entry_is_one_line_and_a_strangers_control_characters_are_escaped()
    {
        var output = new StringWriter();
        var formatter = new TextLogFormatter(colour: false);
        const string Refusal = "bad\n12:00:00 info: InfraMind.Gateway[0] forged\u001B]0;owned\u0007";
        Write(formatter, output, LogLevel.Warning, "the gateway {Gateway} refused registration: {Body}", "http://127.0.0.1:1/", Refusal);
        Write(formatter, output, LogLevel.Error, "catalog refresh failed", exception: new InvalidOperationException("line one\nline two"));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^\d\d:\d\d:\d\d warn: InfraMind\.Node\[0\] the gateway http://127\.0\.0\.1:1/ refused registration: " +
                       @"bad\\u000A12:00:00 info: InfraMind\.Gateway\[0\] forged\\u001B\]0;owned\\u0007$", lines[0]);
        Assert.Matches(@"^\d\d:\d\d:\d\d fail: InfraMind\.Node\[0\] catalog refresh failed System\.InvalidOperationException: line one\\u000Aline two$", lines[1]);
        Assert.DoesNotContain(output.ToString(), c => char.IsControl(c) && c != '\n');
    }

    [Fact]
    public void On_a_terminal_only_the_level_word_is_coloured_and_a_strangers_escapes_stay_escaped()
    {
        var output = new StringWriter();
        var formatter = new TextLogFormatter(colour: true);
        Write(formatter, output, LogLevel.Warning, "refused: {Body}", "\u001B[31mforged");
        Write(formatter, output, LogLevel.Error, "failed");
        Write(formatter, output, LogLevel.Information, "placed");
        Write(formatter, output, LogLevel.Debug, "detail");

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^\d\d:\d\d:\d\d \u001B\[33mwarn\u001B\[0m: InfraMind\.Node\[0\] refused: \\u001B\[31mforged$", lines[0]);
        Assert.Contains("\u001B[31mfail\u001B[0m: ", lines[1], StringComparison.Ordinal);
        Assert.Contains("\u001B[32minfo\u001B[0m: ", lines[2], StringComparison.Ordinal);
        Assert.Matches(@"^\d\d:\d\d:\d\d dbug: ", lines[3]);
        Assert.All(lines, l => Assert.Equal(l.Contains('\u001B', StringComparison.Ordinal) ? 2 : 0, l.Count(c => c == '\u001B')));
    }

    private static void Write(TextLogFormatter formatter, TextWriter output, LogLevel level, string format, params object?[] args) =>
        Write(formatter, output, level, format, null, args);

    private static void Write(TextLogFormatter formatter, TextWriter output, LogLevel level, string format, Exception? exception, params object?[] args)
    {
        var state = new FormattedLogValues(format, args);
        formatter.Write(new LogEntry<FormattedLogValues>(level, "InfraMind.Node", default, state, exception, (s, _) => s.ToString()), null, output);
    }

    /// <summary>A message template with its values, as ILogger's extension methods make one.</summary>
    private sealed class FormattedLogValues(string format, object?[] args)
    {
        public override string ToString()
        {
            var i = 0;
            return System.Text.RegularExpressions.Regex.Replace(format, @"\{[A-Za-z]+\}", _ => Convert.ToString(args[i++], System.Globalization.CultureInfo.InvariantCulture) ?? "");
        }
    }
}

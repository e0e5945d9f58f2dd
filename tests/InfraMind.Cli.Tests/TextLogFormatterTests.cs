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
        var formatter = new TextLogFormatter();
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

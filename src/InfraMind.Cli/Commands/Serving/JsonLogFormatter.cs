using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// `--log-format json`: one flat JSON object per line — timestamp (UTC), level, category, event, message, the trace and
/// span ids and ASP.NET Core's request id from the scopes, then the message's own fields in camelCase (model, node,
/// verdict, status, …). Written by hand because the built-in JSON console formatter nests fields under "State" and
/// "Scopes", which `jq .traceId` and log pipelines cannot pick up without knowing each message.
/// </summary>
internal sealed class JsonLogFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "inframind-json";

    private static readonly Dictionary<string, string> ScopeNames = new(StringComparer.Ordinal)
    {
        ["TraceId"] = "traceId", ["SpanId"] = "spanId", ["RequestId"] = "requestId", ["RequestPath"] = "requestPath",
    };

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("timestamp", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            json.WriteString("level", Level(logEntry.LogLevel));
            json.WriteString("category", logEntry.Category);
            if (logEntry.EventId.Name is { } name) json.WriteString("event", name);
            else if (logEntry.EventId.Id != 0) json.WriteNumber("event", logEntry.EventId.Id);
            json.WriteString("message", message);
            var written = new HashSet<string>(StringComparer.Ordinal) { "timestamp", "level", "category", "event", "message", "exception" };
            scopeProvider?.ForEachScope((scope, w) =>
            {
                if (scope is not IEnumerable<KeyValuePair<string, object?>> fields) return;
                foreach (var (key, value) in fields)
                    if (ScopeNames.TryGetValue(key, out var named) && written.Add(named)) Field(w, named, value);
            }, json);
            if (logEntry.State is IEnumerable<KeyValuePair<string, object?>> state)
            {
                foreach (var (key, value) in state)
                {
                    if (key == "{OriginalFormat}") continue;
                    var named = JsonNamingPolicy.CamelCase.ConvertName(key);
                    if (written.Add(named)) Field(json, named, value);
                }
            }

            if (logEntry.Exception is { } e) json.WriteString("exception", e.ToString());
            json.WriteEndObject();
        }

        textWriter.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write('\n');
    }

    private static void Field(Utf8JsonWriter json, string name, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(name);
                break;
            case bool b:
                json.WriteBoolean(name, b);
                break;
            case int or long or short or byte or uint or ulong or ushort:
                json.WriteNumber(name, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case double d when double.IsFinite(d):
                json.WriteNumber(name, d);
                break;
            default:
                json.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "information",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };
}

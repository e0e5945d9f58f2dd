using System.Diagnostics;
using System.Text.Json;
using InfraMind.Cli.Commands.Serving;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InfraMind.Cli.Tests;

/// <summary>`--log-format json`: flat lines a log pipeline reads without knowing each message.</summary>
public sealed class JsonLogFormatterTests
{
    /// <summary>Hands each line to the formatter as the console logger would, with the logger factory's scopes.</summary>
    private sealed class FormattingProvider(TextWriter output) : ILoggerProvider, ISupportExternalScope
    {
        private readonly JsonLogFormatter _formatter = new();
        private readonly TextWriter _output = output;
        private IExternalScopeProvider? _scopes;

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(FormattingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes?.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), owner._scopes, owner._output);
        }
    }

    [Fact]
    public void A_line_is_one_flat_object_with_the_trace_the_request_and_the_messages_fields()
    {
        var output = new StringWriter();
        using (var factory = LoggerFactory.Create(b => b.AddProvider(new FormattingProvider(output))
                   .Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId)))
        {
            var logger = factory.CreateLogger("InfraMind.Gateway.Inference");
            using var activity = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start();
            using (logger.BeginScope(new Dictionary<string, object?> { ["RequestId"] = "0HNA:00000001", ["ConnectionId"] = "0HNA" }))
                logger.LogWarning(new EventId(6101, "AttemptFailed"), "attempt on {Node} for {Model} failed: {Verdict} (status {Status})", "n1", "echo@1.0.0", "output-schema-violation", 200);
            logger.LogError(new InvalidOperationException("boom \"quoted\"\nnext line"), "no fields here");
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Length);
            var line = JsonDocument.Parse(lines[0]).RootElement;
            Assert.True(DateTimeOffset.TryParse(line.GetProperty("timestamp").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
            Assert.Equal("warning", line.GetProperty("level").GetString());
            Assert.Equal("AttemptFailed", line.GetProperty("event").GetString());
            Assert.Equal("attempt on n1 for echo@1.0.0 failed: output-schema-violation (status 200)", line.GetProperty("message").GetString());
            Assert.Equal(activity.TraceId.ToHexString(), line.GetProperty("traceId").GetString());
            Assert.Equal(activity.SpanId.ToHexString(), line.GetProperty("spanId").GetString());
            Assert.Equal("0HNA:00000001", line.GetProperty("requestId").GetString());
            Assert.Equal(("n1", "echo@1.0.0", "output-schema-violation", 200),
                (line.GetProperty("node").GetString(), line.GetProperty("model").GetString(), line.GetProperty("verdict").GetString(), line.GetProperty("status").GetInt32()));
            Assert.False(line.TryGetProperty("connectionId", out _));
            var error = JsonDocument.Parse(lines[1]).RootElement;
            Assert.Equal("error", error.GetProperty("level").GetString());
            Assert.Contains("boom \"quoted\"\nnext line", error.GetProperty("exception").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Logging_is_off_unless_asked_for()
    {
        Assert.Null(ServingHosts.Logging(verbose: false, "text"));
        Assert.NotNull(ServingHosts.Logging(verbose: false, "json"));
        Assert.NotNull(ServingHosts.Logging(verbose: true, "text"));
    }

    [Theory]
    [InlineData("text")]
    [InlineData("json")]
    public void The_hosts_own_lines_are_left_out_and_infras_are_not(string format)
    {
        using var factory = LoggerFactory.Create(ServingHosts.Logging(verbose: true, format)!);
        // "Application started. Press Ctrl+C to shut down." and the content root, once per server of `mesh up`.
        Assert.False(factory.CreateLogger("Microsoft.Hosting.Lifetime").IsEnabled(LogLevel.Information));
        Assert.False(factory.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.True(factory.CreateLogger("Microsoft.Hosting.Lifetime").IsEnabled(LogLevel.Warning));
        Assert.True(factory.CreateLogger("InfraMind.Gateway.MeshState").IsEnabled(LogLevel.Information));
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway.Tests;

/// <summary>One log line as a provider received it: its formatted message, its own fields, its scopes' fields and the exception it carries.</summary>
internal sealed record CapturedLog(string Category, LogLevel Level, int EventId, string Message, Dictionary<string, object?> Fields, Dictionary<string, object?> Scopes,
    Exception? Exception = null)
{
    public string All => Message + " " + string.Join(" ", Fields.Values) + " " + string.Join(" ", Scopes.Values);
}

internal sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider? _scopes;

    public ConcurrentQueue<CapturedLog> Logs { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = (state as IEnumerable<KeyValuePair<string, object?>>)?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? [];
            var scopes = new Dictionary<string, object?>();
            owner._scopes?.ForEachScope((scope, s) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> kvs)
                    foreach (var (k, v) in kvs) s[k] = v;
            }, scopes);
            owner.Logs.Enqueue(new CapturedLog(category, logLevel, eventId.Id, formatter(state, exception), fields, scopes, exception));
        }
    }
}

/// <summary>The gateway's request log: one line per request with its outcome and correlation ids, and the users' data only when asked.</summary>
public sealed class RequestLogTests
{
    private const string SecretInput = "SECRET-INPUT-7f3a";
    private const string SecretAnswer = "SECRET-ANSWER-91c2";

    private static async Task<List<CapturedLog>> OneFailedRequestAsync(bool logPayloads)
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        var token = MeshToken.Create();
        var capture = new CapturingLoggerProvider();
        await using var gateway = await GatewayHost.StartAsync(
            new GatewayOptions { NodeToken = token, Replicas = 1, MaxAttempts = 1, AttemptTimeout = TimeSpan.FromSeconds(5), LogPayloads = logPayloads }, catalog, TimeProvider.System,
            b => b.AddProvider(capture).Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId), CancellationToken.None);
        // The node answers with something that breaks output_schema and quotes what it must not: the users' data.
        await using var node = new FakeNode(gateway.Url, token) { Answer = (s, ct) => FakeNode.WriteAsync(s, 200, $$"""{"summary": 42, "echo": "{{SecretAnswer}}"}""", ct) };
        using (var r = await node.RegisterAsync("n1")) r.EnsureSuccessStatusCode();
        await node.ReadyAsync("n1");
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url };
        using var response = await http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), new StringContent($$"""{"text": "{{SecretInput}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        // The request's line is written once its answer has gone out, so it may come a moment after the client has it.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!capture.Logs.Any(l => l.EventId == 6100) && waited.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20);
        // Every line of every category: the secrets must be in none of them.
        return [.. capture.Logs];
    }

    [Fact]
    public async Task Each_request_is_one_line_with_its_outcome_and_ids_and_no_payload()
    {
        var logs = await OneFailedRequestAsync(logPayloads: false);
        Assert.Contains(logs, l => l.Category == "InfraMind.Gateway");
        var request = Assert.Single(logs, l => l.EventId == 6100);
        Assert.Equal(LogLevel.Warning, request.Level);
        Assert.Equal(("echo", "1.0.0", 502, "IM6004", 1, "output-schema-violation"),
            ((string?)request.Fields["Model"], (string?)request.Fields["Version"], (int?)request.Fields["Status"], (string?)request.Fields["Code"], (int?)request.Fields["Attempts"],
                (string?)request.Fields["Verdicts"]));
        Assert.Matches("^[0-9a-f]{32}$", (string?)request.Scopes["TraceId"]);
        Assert.False(string.IsNullOrEmpty(request.Scopes["RequestId"] as string));
        var attempt = Assert.Single(logs, l => l.EventId == 6101);
        Assert.Equal(("n1", "output-schema-violation"), ((string?)attempt.Fields["Node"], (string?)attempt.Fields["Verdict"]));
        Assert.Equal(request.Scopes["TraceId"], attempt.Scopes["TraceId"]);
        Assert.All(logs, l => Assert.DoesNotContain(SecretInput, l.All, StringComparison.Ordinal));
        Assert.All(logs, l => Assert.DoesNotContain(SecretAnswer, l.All, StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_log_payloads_the_input_and_the_quoted_answer_are_logged()
    {
        var logs = await OneFailedRequestAsync(logPayloads: true);
        Assert.Contains(SecretInput, Assert.Single(logs, l => l.EventId == 6103).Message, StringComparison.Ordinal);
        Assert.Contains(SecretAnswer, Assert.Single(logs, l => l.EventId == 6102).Message, StringComparison.Ordinal);
        Assert.Single(logs, l => l.EventId == 6100);
    }
}

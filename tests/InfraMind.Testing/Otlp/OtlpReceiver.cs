using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Google.Protobuf;

namespace InfraMind.Testing.Otlp;

/// <summary>One span as an OTLP exporter sent it: ids in lower-case hex, the service that sent it, its attributes.</summary>
public sealed record ReceivedSpan(
    string Service, string Scope, string TraceId, string SpanId, string? ParentSpanId, string Name, int Kind, IReadOnlyDictionary<string, string> Attributes, int StatusCode)
{
    public string? this[string attribute] => Attributes.TryGetValue(attribute, out var v) ? v : null;

    public override string ToString() => $"{Name} [{Scope}] {SpanId} <- {ParentSpanId ?? "root"}";
}

/// <summary>
/// A real OTLP/HTTP trace receiver inside a test: POST /v1/traces with an application/x-protobuf
/// ExportTraceServiceRequest, decoded and kept. Anything else is refused, so a wrong path or encoding fails the test.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<string> _refused = new();
    private readonly ListenerServer _server;

    public OtlpReceiver() => _server = new ListenerServer(HandleAsync);

    /// <summary>What OTEL_EXPORTER_OTLP_ENDPOINT would be set to (the exporter adds /v1/traces).</summary>
    public Uri Endpoint => _server.BaseUri;

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    /// <summary>Requests that were not an OTLP/HTTP protobuf trace export: what they were.</summary>
    public IReadOnlyList<string> Refused => [.. _refused];

    private async Task HandleAsync(HttpListenerContext context, CancellationToken ct)
    {
        var request = context.Request;
        if (request.HttpMethod != "POST" || request.Url?.AbsolutePath != "/v1/traces" || request.ContentType != "application/x-protobuf")
        {
            _refused.Enqueue($"{request.HttpMethod} {request.Url?.AbsolutePath} {request.ContentType}");
            context.Response.StatusCode = 404;
            context.Response.Close();
            return;
        }

        using var body = new MemoryStream();
        await request.InputStream.CopyToAsync(body, ct);
        var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
        foreach (var resource in export.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var scope in resource.ScopeSpans)
            foreach (var span in scope.Spans)
            {
                _spans.Enqueue(new ReceivedSpan(service, scope.Scope?.Name ?? "", Convert.ToHexStringLower(span.TraceId.Span), Convert.ToHexStringLower(span.SpanId.Span),
                    span.ParentSpanId.IsEmpty ? null : Convert.ToHexStringLower(span.ParentSpanId.Span), span.Name, span.Kind,
                    span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value)), span.Status?.Code ?? 0));
            }
        }

        var answer = new ExportTraceServiceResponse().ToByteArray();
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-protobuf";
        context.Response.ContentLength64 = answer.Length;
        await context.Response.OutputStream.WriteAsync(answer, ct);
        context.Response.Close();
    }

    private static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        _ => "",
    };

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

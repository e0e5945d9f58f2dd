using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace InfraMind.Serving.Telemetry;

/// <summary>
/// The mesh's traces: the activity sources of gateway, node and registry, and the one tracer provider of a process.
/// A provider is per process, not per server, because activity listeners are process-wide: with one provider per
/// server, `infra mesh up` (a gateway and nodes in one process) would export every span once per server. Spans say
/// which server made them with <see cref="RoleTag"/> and <see cref="NodeTag"/>.
/// </summary>
public static class MeshTracing
{
    public const string GatewaySourceName = "InfraMind.Gateway";
    public const string NodeSourceName = "InfraMind.Node";
    public const string RegistrySourceName = "InfraMind.Registry";

    public const string RoleTag = "inframind.role";
    public const string NodeTag = "inframind.node";
    public const string ModelTag = "inframind.model";
    public const string VerdictTag = "inframind.verdict";
    public const string AttemptTag = "inframind.attempt";

    public static readonly ActivitySource Gateway = new(GatewaySourceName);
    public static readonly ActivitySource Node = new(NodeSourceName);
    public static readonly ActivitySource Registry = new(RegistrySourceName);

    /// <summary>The standard variables read here (https://opentelemetry.io/docs/specs/otel/protocol/exporter/).</summary>
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string TracesEndpointVariable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    public const string ProtocolVariable = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string ServiceNameVariable = "OTEL_SERVICE_NAME";

    /// <summary>
    /// The process's tracer provider exporting over OTLP, or null (nothing recorded, nothing sent) when neither
    /// OTEL_EXPORTER_OTLP_ENDPOINT nor OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. Protocol: OTEL_EXPORTER_OTLP_PROTOCOL,
    /// http/protobuf (the specification's default) when unset, or grpc. Headers (OTEL_EXPORTER_OTLP_HEADERS) are read by
    /// the exporter itself. Dispose it at exit: that flushes what is buffered.
    /// </summary>
    /// <param name="environment">Reads a variable: <see cref="Environment.GetEnvironmentVariable(string)"/> in a real process.</param>
    /// <exception cref="ArgumentException">An endpoint that is not an absolute http(s) URI, or an unknown protocol.</exception>
    public static TracerProvider? Start(string defaultServiceName, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var settings = ExportSettings.From(environment);
        if (settings is null) return null;
        var service = environment(ServiceNameVariable) is { Length: > 0 } named ? named : defaultServiceName;
        // W3C trace context alone: with it, OpenTelemetry's HttpClient instrumentation leaves the headers to the runtime's
        // propagator, which on the data path is TraceparentPropagator (its default composite would also send the
        // client's tracestate and baggage on to nodes and models).
        Sdk.SetDefaultTextMapPropagator(new OpenTelemetry.Context.Propagation.TraceContextPropagator());
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService(service))
            .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()))
            .AddSource(GatewaySourceName, NodeSourceName, RegistrySourceName)
            // Only the mesh's own requests: inference, jobs and publishes; never heartbeats, scrapes or health checks.
            .AddAspNetCoreInstrumentation(o => o.Filter = context => IsTraced(context.Request))
            // Only calls made inside a mesh span (a gateway's attempt, a node's call to its model): no heartbeats, no fetches.
            .AddHttpClientInstrumentation(o => o.FilterHttpRequestMessage = _ => Activity.Current?.Parent?.Source.Name is GatewaySourceName or NodeSourceName)
            .AddOtlpExporter(o =>
            {
                o.Endpoint = settings.Endpoint;
                o.Protocol = settings.Protocol;
            })
            .Build();
    }

    private static bool IsTraced(Microsoft.AspNetCore.Http.HttpRequest request) =>
        HttpMethods.IsPost(request.Method) &&
        (request.Path.StartsWithSegments("/inference/v1") || request.Path.StartsWithSegments("/jobs") || request.Path.StartsWithSegments("/v1/entries"));

    /// <summary>Where and how spans go, from the standard variables (pure: unit-tested).</summary>
    public sealed record ExportSettings(Uri Endpoint, OtlpExportProtocol Protocol)
    {
        public static ExportSettings? From(Func<string, string?> environment)
        {
            ArgumentNullException.ThrowIfNull(environment);
            var protocol = environment(ProtocolVariable) switch
            {
                null or "" or "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
                "grpc" => OtlpExportProtocol.Grpc,
                var other => throw new ArgumentException($"{ProtocolVariable}='{other}' is not supported; use http/protobuf or grpc"),
            };
            // The signal's own variable is used as it is; the general one is a base to which http/protobuf adds /v1/traces.
            if (environment(TracesEndpointVariable) is { Length: > 0 } traces) return new(Parse(TracesEndpointVariable, traces), protocol);
            if (environment(EndpointVariable) is not { Length: > 0 } general) return null;
            var endpoint = Parse(EndpointVariable, general);
            if (protocol == OtlpExportProtocol.HttpProtobuf) endpoint = new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/v1/traces");
            return new(endpoint, protocol);
        }

        private static Uri Parse(string variable, string value) =>
            Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
                ? uri
                : throw new ArgumentException($"{variable}='{value}' is not an absolute http:// or https:// URL");
    }
}

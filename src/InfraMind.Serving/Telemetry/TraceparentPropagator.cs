using System.Diagnostics;

namespace InfraMind.Serving.Telemetry;

/// <summary>
/// What the data path's HTTP client (<see cref="JobHttp"/>) tells the next hop about the trace: the W3C traceparent of
/// the current span and nothing else. A client's tracestate and baggage stop at the gateway: they are the client's
/// words, and a node or a model (third-party code) has no business reading them. traceparent carries only ids and the
/// sampled flag, so a model can join its own spans to the request's trace.
/// </summary>
public sealed class TraceparentPropagator : DistributedContextPropagator
{
    public const string Header = "traceparent";

    public static TraceparentPropagator Instance { get; } = new();

    public override IReadOnlyCollection<string> Fields { get; } = [Header];

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter)
    {
        if (activity is null || setter is null || activity.IdFormat != ActivityIdFormat.W3C || activity.Id is not { } id) return;
        setter(carrier, Header, id);
    }

    /// <summary>Never used to read: ASP.NET Core reads a server's incoming traceparent with its own propagator.</summary>
    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
    {
        traceState = null;
        traceId = null;
        if (getter is null) return;
        getter(carrier, Header, out traceId, out _);
    }

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) => null;
}

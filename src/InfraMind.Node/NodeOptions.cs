using InfraMind.Conformance;
using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>How a node agent runs; immutable once started.</summary>
public sealed record NodeOptions
{
    public required string NodeId { get; init; }

    /// <summary>The gateway to register with, e.g. http://127.0.0.1:7300/.</summary>
    public required Uri Gateway { get; init; }

    public required NodeCapacity Capacity { get; init; }

    /// <summary>
    /// The gateway's mesh token (<see cref="MeshToken"/>), sent with registration and heartbeats; the node's job API
    /// then answers only callers that send it too. Null: no token is sent and the job API is open.
    /// </summary>
    public string? GatewayToken { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Where the node's job API listens; port 0 picks a free one.</summary>
    public string ListenUrl { get; init; } = "http://127.0.0.1:0";

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Default per-job limit; the gateway may ask for less with InfraMind-Timeout-Ms.</summary>
    public TimeSpan JobTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan RestartBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRestartBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The pre-flight: the same rules as `infra test`, with fewer cases so admission stays quick.</summary>
    public ConformanceOptions Preflight { get; init; } = new() { Cases = 3 };

    /// <summary>Extra labels on every container (e.g. a session label, so leftovers can be pruned).</summary>
    public IReadOnlyDictionary<string, string> ContainerLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>Every problem, each with how to fix it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(NodeId) || NodeId.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            errors.Add($"{MeshErrorCodes.RegistrationInvalid}: node id '{NodeId}' must be letters, digits, '-', '_' or '.'");
        if (!Gateway.IsAbsoluteUri) errors.Add($"{MeshErrorCodes.RegistrationInvalid}: gateway '{Gateway}' must be an absolute http(s) URL");
        if (Capacity.CpuMillicores <= 0 || Capacity.MemoryBytes <= 0 || Capacity.GpuCount < 0)
            errors.Add($"{MeshErrorCodes.RegistrationInvalid}: capacity must have cpu > 0, memory > 0 and gpu ≥ 0");
        if (HeartbeatInterval <= TimeSpan.Zero) errors.Add($"{MeshErrorCodes.RegistrationInvalid}: heartbeat interval must be positive");
        if (GatewayToken is { } token && !MeshToken.IsWellFormed(token))
            errors.Add($"{MeshErrorCodes.RegistrationInvalid}: the gateway token must be at least 16 characters with no white space (the gateway's MeshToken)");
        return errors;
    }
}

namespace InfraMind.Serving;

/// <summary>
/// What makes a node registration valid: the one set of rules a node checks its own options against before it starts
/// and the gateway checks every registration against before it admits the node. Every limit is here, so a node that
/// starts is a node the gateway admits.
/// </summary>
public static class RegistrationRules
{
    /// <summary>Longest node id: it is a path segment of the node API and a label of the gateway's metrics.</summary>
    public const int MaxNodeIdLength = 64;

    /// <summary>Most labels a node may carry, and the longest key and value.</summary>
    public const int MaxLabels = 32;

    public const int MaxLabelKeyLength = 63;

    public const int MaxLabelValueLength = 256;

    /// <summary>
    /// Longest heartbeat interval. A node is offline after a few missed beats of its own interval, so an unbounded one
    /// would let a node that died keep its placements for as long as it asked.
    /// </summary>
    public static TimeSpan MaxHeartbeatInterval { get; } = TimeSpan.FromMinutes(1);

    /// <summary>Every problem of <paramref name="registration"/> (fields a JSON body left out included), each prefixed with its code and saying how to fix it.</summary>
    public static IReadOnlyList<string> Check(NodeRegistration? registration)
    {
        if (registration is null) return [Problem("a registration needs nodeId, address, capacity and heartbeatInterval")];
        var problems = new List<string>();
        problems.AddRange(CheckNode(registration.NodeId, registration.Capacity, registration.Labels, registration.HeartbeatInterval));
        if (registration.Address is not { IsAbsoluteUri: true } address || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
            problems.Add(Problem($"address '{registration.Address}' must be the node's absolute http(s) URL"));
        if (registration.TlsFingerprint is { } pin && (!Tls.MeshTls.IsFingerprint(pin) || registration.Address?.Scheme != Uri.UriSchemeHttps))
            problems.Add(Problem($"tlsFingerprint '{pin}' must be sha256:HEX (64 lower-case hex digits) of an https address's certificate key"));
        return problems;
    }

    /// <summary>The rules on what a node says about itself, before it knows its own address (a node's options).</summary>
    public static IReadOnlyList<string> CheckNode(string? nodeId, NodeCapacity? capacity, IReadOnlyDictionary<string, string>? labels, TimeSpan heartbeatInterval)
    {
        var problems = new List<string>();
        if (!IsNodeId(nodeId))
            problems.Add(Problem($"node id '{nodeId}' must be 1–{MaxNodeIdLength} letters, digits, '-', '_' or '.'"));
        if (capacity is null || capacity.CpuMillicores <= 0 || capacity.MemoryBytes <= 0 || capacity.GpuCount < 0)
            problems.Add(Problem("capacity must have cpu > 0, memory > 0 and gpu ≥ 0"));
        if (heartbeatInterval <= TimeSpan.Zero || heartbeatInterval > MaxHeartbeatInterval)
            problems.Add(Problem($"heartbeat interval must be positive and at most {MaxHeartbeatInterval.TotalSeconds:0} s"));
        if (labels is not null && (labels.Count > MaxLabels || labels.Any(l => l.Key.Length is 0 or > MaxLabelKeyLength || (l.Value?.Length ?? 0) > MaxLabelValueLength)))
            problems.Add(Problem($"at most {MaxLabels} labels, each key 1–{MaxLabelKeyLength} characters and each value at most {MaxLabelValueLength}"));
        return problems;
    }

    /// <summary>1–64 ASCII letters, digits, '-', '_' or '.'.</summary>
    private static bool IsNodeId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxNodeIdLength && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static string Problem(string message) => message;
}

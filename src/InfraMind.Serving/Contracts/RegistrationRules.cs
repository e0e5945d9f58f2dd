using Semver;

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

    /// <summary>Longest address a node registers: it is stored, shown on the dashboard and quoted in logs.</summary>
    public const int MaxAddressLength = 2048;

    /// <summary>Longest model name and version a heartbeat's report may name (a model name is at most 63 characters).</summary>
    public const int MaxReportNameLength = 63;

    public const int MaxReportVersionLength = 256;

    /// <summary>
    /// Most characters of a report's detail the gateway keeps (the rest is cut, marked "…"): every state document and
    /// dashboard poll carries it, for every node.
    /// </summary>
    public const int MaxReportDetailLength = 1024;

    /// <summary>
    /// Most reports in one heartbeat, and most assignments a node takes from one heartbeat reply (a node runs at most
    /// 1,024 versions): what a gateway takes by default (GatewayOptions.MaxReportsPerHeartbeat), so a node never sends
    /// more, whatever the gateways assigned it.
    /// </summary>
    public const int MaxReportsPerHeartbeat = 1024;

    /// <summary>Most bytes of one heartbeat a gateway reads; more is a 413.</summary>
    public const int MaxHeartbeatBytes = 1024 * 1024;

    /// <summary>
    /// Characters of detail one heartbeat carries in all, shared by its reports (each at most
    /// <see cref="MaxReportDetailLength"/>): 32 reports (a node's default most) carry whole details; 1,024 carry 32
    /// characters each. Even if every character were escaped (six bytes), a heartbeat of 1,024 reports stays well under
    /// <see cref="MaxHeartbeatBytes"/>.
    /// </summary>
    public const int HeartbeatDetailBudget = 32 * 1024;

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
            problems.Add(Problem($"address {TerminalText.Quote(registration.Address?.ToString() ?? "", 200, sayLength: true)} must be the node's absolute http(s) URL"));
        else if (address.OriginalString.Length > MaxAddressLength)
            problems.Add(Problem($"address {TerminalText.Quote(address.OriginalString, 200, sayLength: true)} is longer than {MaxAddressLength} characters"));
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

    /// <summary>
    /// What is wrong with a heartbeat's report, or null: a name or version longer than any model's (a node reporting
    /// what no registry publishes).
    /// </summary>
    public static string? CheckReport(ModelReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return NameProblem("a report", report.Name, report.Version);
    }

    // A report names what an assignment named: the same bounds for both.
    private static string? NameProblem(string what, string name, string version) =>
        name.Length > MaxReportNameLength || version.Length > MaxReportVersionLength
            ? $"{Names(what, name, version)}: a name is at most {MaxReportNameLength} characters and a version at most {MaxReportVersionLength}"
            : null;

    private static string Names(string what, string name, string version) =>
        $"{what} names the model {TerminalText.Quote(name, 63, sayLength: true)} version {TerminalText.Quote(version, 63, sayLength: true)}";

    /// <summary>
    /// Whether a manifest could name <paramref name="name"/> and <paramref name="version"/>: lowercase letters, digits and
    /// '-' (a manifest's name is a lowercase DNS label), and SemVer as a manifest's version reads. A node reports a
    /// refusal under the name and version it was assigned, so these are what keep a report's name to a byte a character
    /// on the wire (but SemVer's one '+').
    /// </summary>
    private static bool IsManifestName(string name, string version) =>
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') && SemVersion.TryParse(version, SemVersionStyles.Strict, out _);

    /// <summary>
    /// <paramref name="report"/> with its detail cut to <paramref name="most"/> characters (by default
    /// <see cref="MaxReportDetailLength"/>: the gateway keeps no more).
    /// </summary>
    public static ModelReport Bounded(ModelReport report, int most = MaxReportDetailLength)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.Detail is { } detail && detail.Length > most ? report with { Detail = Detail(detail, most) } : report;
    }

    /// <summary><paramref name="detail"/> cut to <paramref name="most"/> characters, marked "…" where cut.</summary>
    public static string? Detail(string? detail, int most = MaxReportDetailLength) => detail is null ? null : TerminalText.Shorten(detail, most);

    /// <summary>
    /// What one heartbeat reports of <paramref name="reports"/>: the first <see cref="MaxReportsPerHeartbeat"/>, their
    /// details cut to a share of <see cref="HeartbeatDetailBudget"/>, so that a heartbeat is never over what a gateway
    /// reads, whatever the details quote (a publisher's references, a registry's problem).
    /// </summary>
    public static IReadOnlyList<ModelReport> Heartbeat(IEnumerable<ModelReport> reports)
    {
        ArgumentNullException.ThrowIfNull(reports);
        var taken = reports.Take(MaxReportsPerHeartbeat).ToList();
        var most = Math.Clamp(HeartbeatDetailBudget / Math.Max(1, taken.Count), 1, MaxReportDetailLength);
        return [.. taken.Select(r => Bounded(r, most))];
    }

    /// <summary>
    /// What makes a gateway's heartbeat reply unusable, or null: lists or fields left out (JSON's null, which the
    /// contract's types do not allow), more assignments than <see cref="MaxReportsPerHeartbeat"/>, or a name or version
    /// longer than a report may name or that no manifest names (the node reports every assignment back, a refusal under
    /// the name it was assigned: 1,024 names in characters JSON escapes, six bytes each, made every heartbeat a 413).
    /// Checked before any of it is taken.
    /// </summary>
    public static string? CheckReply(HeartbeatReply? reply)
    {
        if (reply?.Assignments is not { } assignments || reply.Preflight is not { } preflight) return "it lacks its assignments or preflight list";
        if (assignments.Count > MaxReportsPerHeartbeat || preflight.Count > MaxReportsPerHeartbeat)
            return $"it holds {assignments.Count} assignments and {preflight.Count} pre-flight requests; a node takes at most {MaxReportsPerHeartbeat} of each";
        foreach (var a in assignments)
        {
            if (a?.Name is not { Length: > 0 } name || a.Version is not { Length: > 0 } version || a.Manifest is null || a.ImageDigest is null ||
                a.ContentReferences is null || a.ContentReferences.Any(r => r is null))
                return "an assignment lacks its name, version, manifest, image digest or content references";
            if (NameProblem("an assignment", name, version) is { } tooLong) return tooLong;
            if (!IsManifestName(name, version))
                return $"{Names("an assignment", name, version)}: no manifest names it so (a name is lowercase letters, digits and '-', a version SemVer)";
        }

        return preflight.Any(p => p is null) ? "a pre-flight request is null" : null;
    }

    /// <summary>1–64 ASCII letters, digits, '-', '_' or '.'.</summary>
    public static bool IsNodeId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxNodeIdLength && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static string Problem(string message) => message;
}

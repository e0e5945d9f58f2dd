using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Serving;

/// <summary>What a node offers: compute in the manifest's exact units.</summary>
public sealed record NodeCapacity(long CpuMillicores, long MemoryBytes, int GpuCount);

/// <summary>A node introducing itself to the gateway (POST /mesh/v1/nodes).</summary>
public sealed record NodeRegistration(
    string NodeId,
    Uri Address,
    NodeCapacity Capacity,
    IReadOnlyDictionary<string, string> Labels,
    TimeSpan HeartbeatInterval);

/// <summary>A published model version the gateway asks a node to run: everything a node needs to fetch and verify it.</summary>
public sealed record ModelAssignment(
    string Name,
    string Version,
    JsonObject Manifest,
    string ImageDigest,
    IReadOnlyList<string> ContentReferences,
    long? RegistryIndex)
{
    public string Key => ModelKey.Of(Name, Version);
}

/// <summary>Where a model stands on one node.</summary>
public enum ModelState
{
    /// <summary>Accepted; fetching the image or starting the container.</summary>
    Starting,

    /// <summary>Pre-flight passed; accepting jobs.</summary>
    Ready,

    /// <summary>Start or pre-flight failed, or the container died; the node retries with back-off.</summary>
    Failed,

    /// <summary>Not accepted: it does not fit the node's free capacity or needs a GPU the node lacks.</summary>
    Refused,
}

/// <summary>One model on a node, as the node reports it in every heartbeat.</summary>
/// <param name="PreflightGeneration">Counts passing pre-flights; a higher number than the gateway saw is a fresh pass.</param>
/// <param name="Endpoint">
/// While ready: the container's port as published on the node's 127.0.0.1. A gateway on the same machine sends jobs
/// there itself and saves a hop; any other gateway goes through the node's job API.
/// </param>
public sealed record ModelReport(
    string Name,
    string Version,
    ModelState State,
    string? Verdict,
    string? Detail,
    long PreflightGeneration,
    int Restarts,
    int Failures,
    DateTimeOffset Since,
    Uri? Endpoint = null);

/// <summary>POST /mesh/v1/nodes/{id}/heartbeat.</summary>
public sealed record NodeHeartbeat(string NodeId, IReadOnlyList<ModelReport> Models);

/// <summary>The gateway's answer to a heartbeat: what the node should run, and which models to pre-flight again.</summary>
public sealed record HeartbeatReply(IReadOnlyList<ModelAssignment> Assignments, IReadOnlyList<string> Preflight);

public static class ModelKey
{
    public static string Of(string name, string version) => $"{name}@{version}";
}

/// <summary>Header names shared by node and gateway.</summary>
public static class MeshHeaders
{
    /// <summary>On a node's own failure answer (no model answer at all): the verdict, e.g. connection-failed.</summary>
    public const string Verdict = "InfraMind-Verdict";

    public const string Node = "InfraMind-Node";

    public const string Attempts = "InfraMind-Attempts";

    public const string ModelVersion = "InfraMind-Model-Version";

    /// <summary>The job's time limit in milliseconds, set by the gateway so the node gives up first.</summary>
    public const string TimeoutMs = "InfraMind-Timeout-Ms";
}

/// <summary>
/// The mesh's shared secret. A node sends it (Authorization: Bearer) with its registration and heartbeats, and the
/// gateway with every job it sends through a node's job API; without it any local process could register as a node
/// and be sent users' inputs, or reach a model through a node without the gateway's checks.
/// </summary>
public static class MeshToken
{
    /// <summary>The authentication scheme: the WWW-Authenticate challenge of a refusal, and the Authorization prefix.</summary>
    public const string Challenge = "Bearer";

    private const string Scheme = Challenge + " ";

    /// <summary>256 random bits, base64url.</summary>
    public static string Create() => System.Buffers.Text.Base64Url.EncodeToString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>At least 16 characters and no white space: anything shorter is guessable, and white space cannot travel in the header.</summary>
    public static bool IsWellFormed(string token) => token.Length >= 16 && !token.Any(char.IsWhiteSpace);

    /// <summary>The Authorization header value carrying <paramref name="token"/>.</summary>
    public static string Header(string token) => Scheme + token;

    /// <summary>Sets the Authorization header to carry <paramref name="token"/>; no token, no header.</summary>
    public static void Authorize(System.Net.Http.Headers.HttpRequestHeaders headers, string? token)
    {
        if (token is not null) headers.Authorization = System.Net.Http.Headers.AuthenticationHeaderValue.Parse(Header(token));
    }

    /// <summary>True when no token is required, or <paramref name="authorization"/> carries it (compared in constant time).</summary>
    public static bool Admits(string? required, string? authorization)
    {
        if (required is null) return true;
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(authorization[Scheme.Length..].Trim()), System.Text.Encoding.UTF8.GetBytes(required));
    }

    /// <summary>A token read from a file: one line, surrounding white space dropped; null when the file holds none.</summary>
    public static string? Read(string file)
    {
        var token = File.ReadAllText(file).Trim();
        return token.Length == 0 ? null : token;
    }
}

/// <summary>The HTTP client of the data path: a gateway's to nodes and containers, a node's to its containers.</summary>
public static class JobHttp
{
    /// <summary>
    /// No proxy; no redirects (a model's 3xx is an answer to judge, never a place to go: following it would let a model
    /// make the gateway or a node call any address); no cookies; no trace headers; connections renewed every 2
    /// minutes; no client-wide timeout (each job has its own limit).
    /// </summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
}

public static class MeshJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        o.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}

/// <summary>Stable codes of mesh errors a user can hit (IM60xx): gateway answers, node refusals, serving commands.</summary>
public static class MeshErrorCodes
{
    public static readonly ErrorCode ModelNotFound = new("IM6001", FailureKind.CheckFailed, "GET /inference/v1 lists the published models and versions");
    public static readonly ErrorCode NoReadyNode = new("IM6002", FailureKind.Unavailable);
    public static readonly ErrorCode InputInvalid = new("IM6003", FailureKind.CheckFailed);
    public static readonly ErrorCode AllAttemptsFailed = new("IM6004", FailureKind.Unavailable);
    public static readonly ErrorCode Quarantined = new("IM6005", FailureKind.Unavailable, "publish a fixed version");
    public static readonly ErrorCode UnsupportedMediaType = new("IM6006", FailureKind.CheckFailed);
    public static readonly ErrorCode BodyTooLarge = new("IM6007", FailureKind.CheckFailed);
    public static readonly ErrorCode MalformedJson = new("IM6008", FailureKind.CheckFailed);
    public static readonly ErrorCode VersionInvalid = new("IM6009", FailureKind.Usage);
    public static readonly ErrorCode NodeRefused = new("IM6010", FailureKind.CheckFailed);
    public static readonly ErrorCode ImageUnavailable = new("IM6011", FailureKind.Unavailable);
    public static readonly ErrorCode ModelNotReadyOnNode = new("IM6012", FailureKind.Unavailable);
    public static readonly ErrorCode UnknownNode = new("IM6013", FailureKind.CheckFailed);
    public static readonly ErrorCode RegistrationInvalid = new("IM6014", FailureKind.Usage);
    public static readonly ErrorCode NodeUnauthorized = new("IM6015", FailureKind.Unavailable, "give the node the gateway's mesh token file (--token-file)");

    /// <summary>`infra node serve`: the mesh token file is missing, empty or holds no token.</summary>
    public static readonly ErrorCode TokenFileInvalid = new("IM6016", FailureKind.Usage, "`infra gateway serve` writes the token to $INFRAMIND_HOME/mesh/node-token; pass another file with --token-file");

    /// <summary>A gateway option is invalid.</summary>
    public static readonly ErrorCode GatewayOptionInvalid = new("IM6020", FailureKind.Usage);

    /// <summary>A serving command cannot listen: its port is taken.</summary>
    public static readonly ErrorCode ListenFailed = new("IM6021", FailureKind.Unavailable, "choose a free port with --port, or stop what holds it");
}

/// <summary>Verdicts of the mesh itself, beside the conformance verdicts.</summary>
public static class MeshVerdicts
{
    public const string Refused = "refused";
    public const string ImageUnavailable = "image-unavailable";
    public const string NotReady = "model-not-ready";
    public const string Unhealthy = "healthcheck-failed";

    /// <summary>The node refused a job without its mesh token: the gateway and the node were given different tokens.</summary>
    public const string Unauthorized = "node-unauthorized";
}

using InfraMind.Hosting;
using InfraMind.Serving;
namespace InfraMind.Gateway;

/// <summary>How the gateway serves, places and judges; immutable once started.</summary>
public sealed record GatewayOptions
{
    public string ListenUrl { get; init; } = "http://127.0.0.1:0";

    /// <summary>
    /// The certificate the gateway serves HTTPS with (<see cref="Serving.Tls.MeshTls"/>, self-signed; <see cref="ListenUrl"/>
    /// then https://): nodes pin its key's fingerprint. Null: plain HTTP. The gRPC ingress stays h2c either way.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }

    /// <summary>
    /// Where the V2 gRPC ingress listens (cleartext HTTP/2 with prior knowledge, its own port), e.g. http://127.0.0.1:8081;
    /// null: no gRPC ingress. Its messages are bounded by <see cref="MaxRequestBytes"/> (plus <see cref="GrpcEnvelopeBytes"/>).
    /// </summary>
    public string? GrpcListenUrl { get; init; }

    /// <summary>What a ModelInfer message may hold beyond its json tensor (names, id, parameters) before gRPC refuses it (RESOURCE_EXHAUSTED).</summary>
    public const int GrpcEnvelopeBytes = 64 * 1024;

    /// <summary>Most grpc.health.v1 Watch streams one HTTP/2 connection of the gRPC ingress may hold at once; beyond, RESOURCE_EXHAUSTED.</summary>
    public int MaxHealthWatchesPerConnection { get; init; } = 16;

    /// <summary>
    /// Most grpc.health.v1 Watch streams one client address (an IPv6 /64 as one) may hold at once, all its connections
    /// together, so that one client cannot take every watch; beyond, RESOURCE_EXHAUSTED.
    /// </summary>
    public int MaxHealthWatchesPerAddress { get; init; } = 256;

    /// <summary>Most grpc.health.v1 Watch streams the gRPC ingress holds at once, all connections together; beyond, RESOURCE_EXHAUSTED.</summary>
    public int MaxHealthWatches { get; init; } = 1024;

    /// <summary>
    /// How long one server reflection stream (what grpcurl-style tools open to list and describe the services) may stay
    /// open: it is reset then. A stream that sends nothing is not cut by Kestrel's data rate (gRPC turns that off for
    /// streams), so without a bound a stranger could hold them for free. Reflection streams are also bounded in number
    /// as health watches are (per connection, per address, in all), counted apart.
    /// </summary>
    public TimeSpan ReflectionStreamLifetime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a health Watch looks at its service's status (a change is sent at the next look).</summary>
    public TimeSpan HealthWatchInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Nodes each published model version is placed on, where nodes allow.</summary>
    public int Replicas { get; init; } = 2;

    /// <summary>Tries per request, the first included.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Retries may add at most this share of traffic (beyond <see cref="RetryReserve"/>).</summary>
    public double RetryRatio { get; init; } = 0.2;

    /// <summary>Retries always allowed before the ratio applies, so a quiet gateway can still re-route.</summary>
    public int RetryReserve { get; init; } = 20;

    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long an attempt's job may wait for one of its model container's slots (<see cref="JobGate"/>) while the
    /// request has other nodes left to try (sent to a node as <see cref="MeshHeaders.QueueWaitMs"/>): a full container
    /// then answers busy after this and the request goes on to the next node, instead of waiting half of
    /// <see cref="AttemptTimeout"/> in one queue while another node may be idle (full with other gateways' jobs, which
    /// this gateway's own count of jobs in flight does not see). The last choice (no other candidate, the last of
    /// <see cref="MaxAttempts"/>, or no retry left in the budget) waits the half, as a job always did.
    /// </summary>
    public TimeSpan QueueWaitWithOthersLeft { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Longest wait for a connection to a node's job API: a node whose host left the network answers nothing, and the
    /// attempt moves on to another node after this rather than after <see cref="AttemptTimeout"/>.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public long MaxRequestBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Most inference requests in flight at once, REST and gRPC together; beyond, a 503 (IM6026) with Retry-After.
    /// Counted before a body is read and until the answer is written, so what clients make the gateway hold in bodies
    /// and answers is at most this × (<see cref="MaxRequestBytes"/> + <see cref="MaxResponseBytes"/>).
    /// </summary>
    public int MaxInferencesInFlight { get; init; } = 1024;

    /// <summary>Of <see cref="MaxInferencesInFlight"/>, most from one client address (an IPv6 /64 as one; at most that limit); beyond, a 429 (IM6027).</summary>
    public int MaxInferencesInFlightPerAddress { get; init; } = 256;

    /// <summary>
    /// Logs what clients send and models answer (at most <see cref="InferenceLog.MaxPayloadChars"/> characters each), and
    /// the answers quoted in failed attempts' details. Off by default: inputs and answers are the users' data.
    /// </summary>
    public bool LogPayloads { get; init; }

    /// <summary>The longest answer read from a node or container; longer is the verdict response-too-large, its connection dropped.</summary>
    public long MaxResponseBytes { get; init; } = ModelAnswer.DefaultBodyLimit;

    /// <summary>A node that missed this many heartbeats in a row is offline.</summary>
    public int MissedBeatsOffline { get; init; } = 3;

    public int SuspendAfterFailures { get; init; } = 3;

    public TimeSpan SuspensionStep { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxSuspension { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Each failure multiplies a node's reputation by this.</summary>
    public double FailurePenalty { get; init; } = 0.7;

    /// <summary>Time constant of the reputation's return toward 1 (good).</summary>
    public TimeSpan ReputationRecovery { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Distinct nodes failing one model version with one verdict inside <see cref="QuarantineWindow"/> quarantine it.</summary>
    public int QuarantineNodes { get; init; } = 2;

    public TimeSpan QuarantineWindow { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan QuarantineDuration { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan CatalogRefresh { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the gateway looks for nodes that missed their heartbeats (and cuts their attempts in flight short).</summary>
    public TimeSpan LivenessCheck { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The Retry-After of the gateway's own 503s and 429s (no ready node, a quarantined version, too many requests in
    /// flight). Not of a busy model's 503 (IM6038): that one says <see cref="JobGate.RetryAfter"/>, as its nodes do.
    /// </summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a request waits for a placed version to have a ready node before the 503.</summary>
    public TimeSpan ReadyWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Send jobs for a node of this process (<see cref="LocalNodes"/>) straight to its model's container, through the
    /// connector the node handed over (one HTTP hop instead of two); off: every job goes through the node's job API.
    /// </summary>
    public bool DirectToLocalContainers { get; init; } = true;

    /// <summary>The node agents of this process (<c>infra mesh up</c>), shared with them; null: none.</summary>
    public LocalNodes? LocalNodes { get; init; }

    /// <summary>Most nodes the gateway keeps; a registration beyond it is a 503 (IM6023) until offline ones are forgotten.</summary>
    public int MaxNodes { get; init; } = 256;

    /// <summary>
    /// Most versions this gateway places on one node. Declared resources alone let publishers' tiny versions (10m CPU,
    /// 6 MiB each) pack hundreds onto a node, each a container, a probe and a pre-flight there, and every heartbeat reply
    /// carries each placed version's manifest (up to 1 MiB). The node bounds what it runs for all its gateways itself.
    /// </summary>
    public int MaxModelsPerNode { get; init; } = ResourcePolicy.DefaultMaxModelsPerNode;

    /// <summary>
    /// Most models one heartbeat may report (what a node runs for every gateway it serves, and what it refused); more
    /// is a 400 (IM6014). Every placement pass walks each node's reports: without a count, a node's 1 MiB heartbeat of
    /// tiny made-up reports would cost every pass tens of thousands of entries per node.
    /// </summary>
    public int MaxReportsPerHeartbeat { get; init; } = RegistrationRules.MaxReportsPerHeartbeat;

    /// <summary>A node offline this long is forgotten: its id (and credential) free again, its standing gone.</summary>
    public TimeSpan ForgetOfflineNodesAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The file the gateway keeps its node bindings in (<see cref="NodeBindings"/>: each id's registration, credential,
    /// key, replay guard and when it was last seen, and the node's standing: reputation, suspensions and the receipts of
    /// the spot checks it lost), read at the start and written as they change, so that a restart frees no id and
    /// forgives no node: until
    /// <see cref="ForgetOfflineNodesAfter"/> has passed, only an id's own node registers it again, and a suspension runs on.
    /// Null: kept in memory only, and after a restart an id goes to whoever registers it first.
    /// </summary>
    public string? NodeBindingsFile { get; init; }

    /// <summary>
    /// How soon a change to what is bound (an id admitted, bound to a key, forgotten), to a suspension or to a node's
    /// evidence (a spot check lost) is written to <see cref="NodeBindingsFile"/>: changes within one interval make one
    /// write. A crash loses at most this much.
    /// </summary>
    public TimeSpan NodeBindingsWriteDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often <see cref="NodeBindingsFile"/> is written when only the nodes' times or reputations changed (when each
    /// was last seen, its last signed request): after a crash, a node counts as last seen up to this much earlier than it
    /// was, its reputation as of up to this much earlier, and a
    /// request it signed in that span could be sent again once, within <see cref="SignatureSkew"/>.
    /// </summary>
    public TimeSpan NodeBindingsRefresh { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After a request failed on every node it tried (which the input alone may have caused), each of those nodes is
    /// asked to pre-flight the version again, at most once per node and version in this period. Only what a
    /// pre-flight finds (the node's own synthetic inputs, never a client's) can quarantine a version.
    /// </summary>
    public TimeSpan ProbeCooldown { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Deepest nesting of a request body's JSON (arrays and objects); deeper is a 400 (IM6008).</summary>
    public int MaxJsonDepth { get; init; } = 64;

    /// <summary>
    /// The mesh token (<see cref="InfraMind.Serving.MeshToken"/>): nodes must send it to register and heartbeat,
    /// and the gateway sends it with jobs through a node's job API. Null: any caller may register as a node.
    /// </summary>
    public string? NodeToken { get; init; }

    /// <summary>
    /// The gateway's own key: it signs its registration replies (which carry each node's job credential), so a node
    /// started with admitted gateway keys takes credentials only from those gateways. Null: replies are not signed.
    /// </summary>
    public InfraMind.Signing.SigningKey? Identity { get; init; }

    /// <summary>
    /// Fingerprints (sha256:HEX) of the node keys this gateway admits: a node without a key, or with another, is refused
    /// (IM6043), mesh token or not. Null: any node with the mesh token registers, its key (if any) bound to its id.
    /// </summary>
    public IReadOnlySet<string>? AdmitNodeKeys { get; init; }

    /// <summary>How far a node's signature time may be from this gateway's clock, either side (<see cref="MeshSignature"/>).</summary>
    public TimeSpan SignatureSkew { get; init; } = MeshSignature.DefaultSkew;

    /// <summary>
    /// The URL nodes reach this gateway at (its advertised URL): a node's signature names it. The bound address is
    /// always accepted too; null: only that.
    /// </summary>
    public Uri? Audience { get; init; }

    /// <summary>The last receipts kept per node (the evidence behind its reputation), at most this many; older ones are dropped.</summary>
    public int ReceiptsPerNode { get; init; } = 32;

    /// <summary>
    /// For models declared <c>deterministic: true</c>: the share of answered requests (0–1) also sent to a second node
    /// and compared; when the two differ a third decides, the client gets the majority's answer, and a node that
    /// disagrees with the other two is suspended with the receipts as evidence. 0: no spot checks.
    /// </summary>
    public double SpotCheckShare { get; init; } = 0.02;

    /// <summary>
    /// What a client's connections may hold below the endpoints (their count, head sizes, timeouts, data rates, HTTP/2
    /// streams), on the REST API and the gRPC ingress each: every InfraMind server's <see cref="ServerLimits"/>.
    /// </summary>
    public ServerLimits Limits { get; init; } = ServerLimits.Default;

    /// <summary>Every problem, each with how to fix it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        errors.AddRange(Limits?.Validate() ?? ["the server limits must be given"]);
        if (Replicas < 1) errors.Add($"replicas must be ≥ 1");
        if (MaxAttempts < 1) errors.Add($"max attempts must be ≥ 1");
        if (AttemptTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero) errors.Add($"the attempt and connect timeouts must be positive");
        if (QueueWaitWithOthersLeft < TimeSpan.Zero) errors.Add($"the queue wait with other nodes left must be ≥ 0");
        if (LivenessCheck <= TimeSpan.Zero) errors.Add($"the liveness check period must be positive");
        if (RetryRatio is < 0 or > 1) errors.Add($"retry ratio must be between 0 and 1");
        if (FailurePenalty is <= 0 or >= 1) errors.Add($"failure penalty must be between 0 and 1 (exclusive)");
        if (MissedBeatsOffline < 1) errors.Add($"missed beats must be ≥ 1");
        if (SuspendAfterFailures < 1) errors.Add($"suspend-after must be ≥ 1");
        if (QuarantineNodes < 2) errors.Add($"quarantine needs ≥ 2 nodes, or one bad node would quarantine a model");
        if (MaxRequestBytes < 1) errors.Add($"max request bytes must be ≥ 1");
        if (MaxResponseBytes < 1) errors.Add($"max response bytes must be ≥ 1");
        if (MaxNodes < 1) errors.Add($"max nodes must be ≥ 1");
        if (MaxModelsPerNode is < 1 or > 1024) errors.Add($"max models per node must be between 1 and 1024");
        if (MaxInferencesInFlight < 1 || MaxInferencesInFlightPerAddress < 1) errors.Add($"the limits on inferences in flight (all, and per address) must be ≥ 1");
        if (MaxHealthWatchesPerConnection < 1 || MaxHealthWatchesPerAddress < MaxHealthWatchesPerConnection || MaxHealthWatches < MaxHealthWatchesPerConnection)
            errors.Add($"health watches: the limit per connection must be ≥ 1, and the limits per address and in all at least that");
        if (ReflectionStreamLifetime <= TimeSpan.Zero) errors.Add($"the reflection stream lifetime must be more than 0");
        if (HealthWatchInterval < TimeSpan.FromMilliseconds(10)) errors.Add($"the health watch interval must be ≥ 10 ms");
        if (MaxJsonDepth is < 1 or > 256) errors.Add($"max JSON depth must be between 1 and 256");
        if (SignatureSkew <= TimeSpan.Zero || SignatureSkew > TimeSpan.FromMinutes(10)) errors.Add($"the signature skew must be more than 0 and at most 10 minutes");
        if (SpotCheckShare is < 0 or > 1 || double.IsNaN(SpotCheckShare)) errors.Add($"the spot-check share must be between 0 and 1");
        if (NodeBindingsWriteDelay <= TimeSpan.Zero || NodeBindingsRefresh < NodeBindingsWriteDelay)
            errors.Add($"the node bindings' write delay must be positive, and their refresh at least that");
        if (NodeBindingsFile is "") errors.Add($"the node bindings file must be a path, or null to keep them in memory only");
        if (ReceiptsPerNode is < 0 or > 1024) errors.Add($"receipts kept per node must be between 0 and 1024");
        if (AdmitNodeKeys is { } admitted && admitted.Any(f => !f.StartsWith("sha256:", StringComparison.Ordinal) || f.Length != 71))
            errors.Add($"an admitted node key must be a fingerprint sha256:HEX (64 hex digits; infra keys list prints them)");
        if (NodeToken is { } token && !InfraMind.Serving.MeshToken.IsWellFormed(token))
            errors.Add($"the node token must be at least 16 characters with no white space (MeshToken.Create() makes one)");
        return errors;
    }
}

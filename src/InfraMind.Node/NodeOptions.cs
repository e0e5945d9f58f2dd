using InfraMind.Conformance;
using InfraMind.Hosting;
using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>How a node agent runs; immutable once started.</summary>
public sealed record NodeOptions
{
    public required string NodeId { get; init; }

    /// <summary>Most gateways one node serves.</summary>
    public const int MaxGateways = 16;

    /// <summary>The gateway to register with, e.g. http://127.0.0.1:7300/: the first of <see cref="Gateways"/>; setting it sets that list to this one.</summary>
    public Uri Gateway
    {
        get => Gateways.Count > 0 ? Gateways[0] : null!;
        init => Gateways = [value];
    }

    /// <summary>
    /// The gateways this node serves (#16), at most <see cref="MaxGateways"/>: it registers and heartbeats with each on its
    /// own (one that is down does not hold up the others), runs every version any of them assigns it, reports every
    /// model to all, and takes jobs from each with the credential that gateway issued it.
    /// </summary>
    public IReadOnlyList<Uri> Gateways { get; init; } = [];

    /// <summary>
    /// The TLS pin of each https gateway that has one, by its URL (as in <see cref="Gateways"/>): the node takes that
    /// gateway's certificate only when its key's fingerprint (<c>sha256:HEX</c>, <see cref="Serving.Tls.MeshTls"/>) is
    /// this one, and refuses the gateway otherwise (IM6046). An https gateway without a pin is checked against the
    /// system's CAs.
    /// </summary>
    public IReadOnlyDictionary<Uri, string> GatewayTlsPins { get; init; } = new Dictionary<Uri, string>();

    /// <summary>
    /// What a gateway assigned counts this long after its last heartbeat reply: a gateway that is gone for longer no
    /// longer keeps a version running here (the others still do, if they assign it).
    /// </summary>
    public TimeSpan ForgetGatewayAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a registration or heartbeat may take (connecting included) before the gateway counts as unreachable.</summary>
    public TimeSpan GatewayTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The machine this node runs models on (or the share of it its operator gives the mesh).</summary>
    public required NodeCapacity Capacity { get; init; }

    /// <summary>
    /// Most model versions this node runs at once, whatever their declared resources (each is a container, a health
    /// probe and a pre-flight here): an assignment beyond it is refused (IM6010) and goes to another node.
    /// </summary>
    public int MaxModels { get; init; } = ResourcePolicy.DefaultMaxModelsPerNode;

    /// <summary>How models are admitted against <see cref="Capacity"/>: the node registers <see cref="ResourcePolicy.Offered"/>.</summary>
    public ResourcePolicy Resources { get; init; } = ResourcePolicy.Exclusive;

    /// <summary>
    /// The gateway's mesh token (<see cref="MeshToken"/>), sent with registration and heartbeats; the node's job API
    /// then answers only callers that send it too. Null: no token is sent and the job API is open.
    /// </summary>
    public string? GatewayToken { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The node's own key: its public key goes with the registration (the gateway binds the id to it), it signs every
    /// registration and heartbeat, and every job's receipt. Null: the node has no identity beyond its credential.
    /// </summary>
    public InfraMind.Signing.SigningKey? Identity { get; init; }

    /// <summary>
    /// Fingerprints of the gateway keys this node takes a credential from (needs <see cref="Identity"/>): a registration
    /// reply not signed by one is refused (IM6044), so only those gateways can send it jobs. Null: any gateway.
    /// </summary>
    public IReadOnlySet<string>? AdmitGatewayKeys { get; init; }

    /// <summary>How far the gateway's reply signature time may be from this node's clock, either side.</summary>
    public TimeSpan SignatureSkew { get; init; } = MeshSignature.DefaultSkew;

    /// <summary>What a client's connections to the job API may hold (their count, head sizes, timeouts, data rates): every InfraMind server's <see cref="ServerLimits"/>.</summary>
    public ServerLimits Limits { get; init; } = ServerLimits.Default;

    /// <summary>
    /// Where the node keeps the credential the gateway issued at its first registration (owner-only), so that a
    /// restarted node registers under its id again; null: kept in memory only (a node restarted within
    /// the gateway's <c>ForgetOfflineNodesAfter</c> then finds its id taken). With several gateways this is the first
    /// one's; each other's is beside it (<see cref="CredentialFileFor"/>).
    /// </summary>
    public string? CredentialFile { get; init; }

    /// <summary>
    /// The credential file of gateway number <paramref name="index"/> of <see cref="Gateways"/>: <see cref="CredentialFile"/>
    /// for the first, <c>FILE.gw-HASH</c> (the first 12 hex digits of the SHA-256 of the gateway's URL) for the others.
    /// </summary>
    public string? CredentialFileFor(int index)
    {
        if (CredentialFile is null || index == 0) return CredentialFile;
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Gateways[index].AbsoluteUri));
        return $"{CredentialFile}.gw-{Convert.ToHexStringLower(hash)[..12]}";
    }

    /// <summary>The node agents of this process, to which this node hands its containers' connectors (<c>infra mesh up</c>); null: none.</summary>
    public LocalNodes? LocalNodes { get; init; }

    /// <summary>
    /// Jobs one model container is sent at once, whoever sends them (this node's job API, a gateway of this process
    /// straight to it); the next <see cref="MaxQueuedJobsPerModel"/> wait, and beyond them a job is refused as
    /// node-busy (503), which the gateway re-routes and holds against no one (<see cref="JobGate"/>).
    /// </summary>
    public int MaxJobsPerModel { get; init; } = JobGate.DefaultInFlight;

    /// <summary>Jobs that may wait for one model container (<see cref="MaxJobsPerModel"/>); a job whose time limit passes while it waits is node-busy too.</summary>
    public int MaxQueuedJobsPerModel { get; init; } = JobGate.DefaultQueued;

    /// <summary>Largest job body the job API takes (chunked or not); keep it at least the gateway's MaxRequestBytes.</summary>
    public long MaxJobBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Longest answer a container may give a job; longer is the verdict response-too-large (502), its connection dropped.</summary>
    public long MaxAnswerBytes { get; init; } = ModelAnswer.DefaultBodyLimit;

    /// <summary>
    /// Fault injection: the node lies on purpose, altering every job's answer (not its pre-flight's) within the answer's
    /// shape before it signs the receipt (<see cref="LyingAnswers"/>) — what an operator who patched their node could do,
    /// without a patched build; for labs and fault tests of spot-checks only. `infra node serve` sets it from
    /// $INFRAMIND_FAULT_ALTER_ANSWERS=1 and says so on every start.
    /// </summary>
    public bool AlterAnswers { get; init; }

    /// <summary>
    /// Bytes of images this node keeps for versions it no longer runs (<see cref="Images.ImageRetention"/>): beyond
    /// them, the longest unused image goes. Null: the node removes no image (its images are its operator's own, built
    /// from package directories); `infra node serve` sets it (--image-cache, default 10Gi), `infra mesh up` to 10Gi.
    /// </summary>
    public long? UnusedImageBytes { get; init; }

    /// <summary>What `infra node serve --image-cache` and `infra mesh up` keep by default: 10 GiB.</summary>
    public const long DefaultUnusedImageBytes = 10L << 30;

    /// <summary>
    /// With <see cref="UnusedImageBytes"/>: where the node records, for each image it names, the version last run from it
    /// (one small file per image, <see cref="Images.ImageRetention"/>), so that after a restart it still knows which
    /// fetched copy goes with the image. Null: kept in memory only, and the store copy of an image a restarted node finds
    /// only by its name stays. `infra node serve` and `infra mesh up` set it to <c>$INFRAMIND_HOME/mesh/images</c>.
    /// </summary>
    public string? ImageRecordDirectory { get; init; }

    /// <summary>The URL the node registers (where its gateways reach its job API); null: the address it is bound to.</summary>
    public Uri? Advertise { get; init; }

    /// <summary>
    /// The certificate the job API serves HTTPS with (<see cref="Serving.Tls.MeshTls"/>; <see cref="ListenUrl"/> then
    /// https://): its key's fingerprint goes with the registration, and the gateway accepts that key alone. Null: plain HTTP.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }

    /// <summary>Where the node's job API listens; port 0 picks a free one.</summary>
    public string ListenUrl { get; init; } = "http://127.0.0.1:0";

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Default per-job limit; the gateway may ask for less with InfraMind-Timeout-Ms.</summary>
    public TimeSpan JobTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// On a graceful stop, how long the node waits for the jobs its job API is running to finish, once its gateways know
    /// it is leaving (they send it nothing new), before it stops its containers. Within the CLI's 20 s for a stop.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RestartBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRestartBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The pre-flight: the same rules as `infra test`, with fewer cases so admission stays quick.</summary>
    public ConformanceOptions Preflight { get; init; } = new() { Cases = 3 };

    /// <summary>Extra labels on every container (e.g. a session label, so leftovers can be pruned).</summary>
    public IReadOnlyDictionary<string, string> ContainerLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Every problem, each with how to fix it: what the node says about itself by the gateway's own rules
    /// (<see cref="RegistrationRules"/>, so a node that starts is one the gateway admits), then the node's own settings.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = RegistrationRules.CheckNode(NodeId, Capacity, Labels, HeartbeatInterval).ToList();
        errors.AddRange(Limits?.Validate() ?? ["the server limits must be given"]);
        errors.AddRange(Resources.Validate());
        if (MaxModels is < 1 or > 1024) errors.Add($"a node runs 1 to 1024 models at most (got {MaxModels})");
        if (Gateways is null || Gateways.Count is 0 or > MaxGateways)
            errors.Add($"a node serves 1 to {MaxGateways} gateways (got {Gateways?.Count ?? 0}): name each gateway's URL");
        foreach (var g in Gateways ?? [])
        {
            if (g is not { IsAbsoluteUri: true } || (g.Scheme != Uri.UriSchemeHttp && g.Scheme != Uri.UriSchemeHttps))
                errors.Add($"gateway '{g}' must be an absolute http(s) URL");
        }

        if (Gateways is { } all && all.Where(g => g is { IsAbsoluteUri: true }).DistinctBy(g => g.AbsoluteUri).Count() != all.Count)
            errors.Add($"each gateway is named once: {string.Join(", ", all)}");
        foreach (var (g, pin) in GatewayTlsPins ?? new Dictionary<Uri, string>())
        {
            if (!Serving.Tls.MeshTls.IsFingerprint(pin)) errors.Add($"the TLS pin of gateway {g} must be sha256:HEX (64 lower-case hex digits; `infra gateway serve --tls --json` prints it)");
            if (g.Scheme != Uri.UriSchemeHttps || Gateways?.Contains(g) != true) errors.Add($"a TLS pin names one of the node's https gateways (got {g})");
        }

        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > TimeSpan.FromSeconds(15))
            errors.Add($"the drain timeout must be 0 to 15 s (a stop has 20 s in all; got {DrainTimeout.TotalSeconds:0.###} s)");
        if (ForgetGatewayAfter <= TimeSpan.Zero || GatewayTimeout <= TimeSpan.Zero)
            errors.Add($"the gateway timeout and how long a silent gateway's assignments count must be positive");
        if (UnusedImageBytes < 0)
            errors.Add($"the bytes of unused images to keep must be 0 or more (got {UnusedImageBytes}; 0 removes each image once no version here uses it)");
        if (MaxJobBytes < 1 || MaxAnswerBytes < 1)
            errors.Add($"the job and answer limits must be at least 1 byte");
        if (AdmitGatewayKeys is not null && Identity is null)
            errors.Add($"admitting gateway keys needs the node's own key (--key NAME)");
        if (AdmitGatewayKeys is { } admitted && admitted.Any(f => !f.StartsWith("sha256:", StringComparison.Ordinal) || f.Length != 71))
            errors.Add($"an admitted gateway key must be a fingerprint sha256:HEX (64 hex digits; infra keys list prints them)");
        if (SignatureSkew <= TimeSpan.Zero || SignatureSkew > TimeSpan.FromMinutes(10)) errors.Add($"the signature skew must be more than 0 and at most 10 minutes");
        if ((TlsCertificate is not null) != ListenUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            errors.Add($"a job API over TLS listens on an https:// URL with a certificate, plain HTTP on an http:// one (got {ListenUrl})");
        if (TlsCertificate is not null && Advertise is { } advertised && advertised.Scheme != Uri.UriSchemeHttps)
            errors.Add($"a node serving TLS advertises an https:// URL (got {advertised})");
        if (GatewayToken is { } token && !MeshToken.IsWellFormed(token))
            errors.Add($"the gateway token must be at least 16 characters with no white space (the gateway's MeshToken)");
        return errors;
    }
}

using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>
/// A node's tie to one of its gateways: its own HTTP client, the credential that gateway issued (and where it is kept),
/// and what that gateway last assigned. Each link registers and heartbeats on its own loop, so a gateway that is down
/// or slow holds up no other.
/// </summary>
internal sealed class GatewayLink : IDisposable
{
    private volatile string? _credential;
    private volatile Assigned? _assigned;

    private volatile string? _presented;

    public GatewayLink(Uri url, string? token, string? credentialFile, TimeSpan timeout, string? tlsPin = null)
    {
        Url = url;
        CredentialFile = credentialFile;
        Proposal = CredentialFiles.ReadProposal(credentialFile) ?? MeshToken.Create();
        TlsPin = tlsPin;
        var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = timeout };
        // A pinned gateway: its certificate's key alone is taken (no CA, no host name), whatever else it presents is named.
        if (tlsPin is not null) handler.SslOptions = Serving.Tls.MeshTls.Pinned(tlsPin, presented => _presented = presented ?? "no certificate");
        // Every answer of a gateway is read whole (registrations, heartbeat replies) and held within MaxReplyBytes.
        Client = new HttpClient(handler) { BaseAddress = url, Timeout = timeout, MaxResponseContentBufferSize = MaxReplyBytes };
        MeshToken.Authorize(Client.DefaultRequestHeaders, token);
    }

    /// <summary>
    /// The most bytes of one gateway answer a node reads: a heartbeat reply carries each assigned version's signed
    /// manifest (a publish is at most 1 MiB), so this holds dozens of assignments; a gateway that sends more is not
    /// read further (the node gets nothing from that answer and tries again at the next beat).
    /// </summary>
    public const int MaxReplyBytes = 64 << 20;

    public Uri Url { get; }

    /// <summary>The fingerprint this gateway's TLS certificate key must have (null: no pin).</summary>
    public string? TlsPin { get; }

    /// <summary>The other key the gateway last presented instead of <see cref="TlsPin"/>.</summary>
    public string? PresentedInstead => _presented;

    public HttpClient Client { get; }

    public string? CredentialFile { get; }

    /// <summary>
    /// The credential this node proposes to this gateway while it holds none (256 random bits, never a credential jobs
    /// are taken with): every registration attempt presents the same one, so when an answer is lost (a timeout, a
    /// dropped connection) the next attempt is the registration of the id it bound, not of an id another node holds
    /// (409 IM6019). With a <see cref="CredentialFile"/> it is kept beside it (<see cref="KeepProposal"/>) until a
    /// credential is, and a restarted node proposes the same one.
    /// </summary>
    public string Proposal { get; }

    private bool _proposalKept;

    /// <summary>Writes <see cref="Proposal"/> beside <see cref="CredentialFile"/> (once per process; nothing without a file).</summary>
    public void KeepProposal()
    {
        if (_proposalKept || CredentialFile is null) return;
        if (CredentialFiles.ReadProposal(CredentialFile) != Proposal) CredentialFiles.Write(CredentialFiles.ProposalOf(CredentialFile), Proposal);
        _proposalKept = true;
    }

    /// <summary>The credential this gateway issued the node (null before its first registration).</summary>
    public string? Credential
    {
        get => _credential;
        set => _credential = value;
    }

    private volatile bool _refused;

    /// <summary>True once this gateway refused the node for good (a 4xx to its registration); read by the other gateways' loops.</summary>
    public bool Refused
    {
        get => _refused;
        set => _refused = value;
    }

    /// <summary>What the gateway assigned in its latest heartbeat reply, and when (null before the first).</summary>
    public Assigned? Latest => _assigned;

    public void Assign(HeartbeatReply reply, DateTimeOffset at) => _assigned = new Assigned(reply, at);

    /// <summary>Raised to make the link heartbeat before its next tick (<see cref="NodeAgent.BeatSoon"/>).</summary>
    public Wakeup Soon { get; } = new();

    public void Dispose()
    {
        Client.Dispose();
        Soon.Dispose();
    }

    internal sealed record Assigned(HeartbeatReply Reply, DateTimeOffset At);
}

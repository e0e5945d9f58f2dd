using InfraMind.Gateway.Routing;
using InfraMind.Serving;

namespace InfraMind.Gateway;

internal sealed class NodeRecord(NodeRegistration registration, string credential, DateTimeOffset now, Reputation reputation)
{
    public NodeRegistration Registration { get; set; } = registration;

    /// <summary>Issued at the node's first registration; what proves a later request is this node's.</summary>
    public string Credential { get; } = credential;

    /// <summary>True when <paramref name="presented"/> is this node's credential (compared in constant time).</summary>
    public bool Holds(string? presented) => presented is not null &&
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(presented), System.Text.Encoding.UTF8.GetBytes(Credential));

    public DateTimeOffset LastBeat { get; set; } = now;

    /// <summary>When this node's own change (leaving, coming back, new refusals) last made a placement pass run at once.</summary>
    public DateTimeOffset LastForcedPass { get; set; } = DateTimeOffset.MinValue;

    /// <summary>The key the id is bound to (its first registration's); null for a node without one.</summary>
    public InfraMind.Signing.PublicKey? Key { get; set; }

    /// <summary>The time (Unix ms) of the last signed request accepted from this node: a signature not after it is a replay.</summary>
    public long LastSigned { get; set; }

    /// <summary>The node's last receipts, newest last, at most <see cref="GatewayOptions.ReceiptsPerNode"/>.</summary>
    public Queue<string> Receipts { get; } = new();

    /// <summary>The spot checks this node lost, newest last, at most <see cref="MeshState.EvidencePerNode"/>.</summary>
    public Queue<Disagreement> Evidence { get; } = new();

    public Reputation Reputation { get; } = reputation;

    public Dictionary<string, ModelReport> Reports { get; set; } = new(StringComparer.Ordinal);

    public int InFlight;

    /// <summary>Cancelled when the node is found offline: its attempts in flight end at once and their requests move on.</summary>
    public CancellationTokenSource Gone { get; set; } = new();

    /// <summary>When the gateway found the node offline (null while online): the moment from which it gets no new job.</summary>
    public DateTimeOffset? OfflineSince { get; set; }

    /// <summary>
    /// The node said it is leaving (a graceful stop): offline from then on, without a failure held against it, and its
    /// attempts in flight left to finish; a heartbeat or registration brings it back.
    /// </summary>
    public bool Left { get; set; }

    /// <summary>When the gateway last sent the node a job (an attempt began).</summary>
    public DateTimeOffset? LastJob { get; set; }
}

/// <summary>Per node and model version: what routing knows beyond the node's own report.</summary>
internal sealed class Standing(Suspension suspension)
{
    public Suspension Suspension { get; } = suspension;

    public LatencyEwma Latency { get; } = new();

    public long Failures { get; set; }

    /// <summary>The verdict of the last failure held against the node (the reason of its suspension, when suspended).</summary>
    public Verdict? LastFault { get; set; }

    public long Successes { get; set; }

    public int SeenNodeFailures { get; set; }

    /// <summary>A pre-flight to ask for in the node's next heartbeat reply: a request failed on every node it tried.</summary>
    public bool ProbeWanted { get; set; }

    public DateTimeOffset? ProbedAt { get; set; }

    /// <summary>
    /// Until when the node is put behind the others for this version: it answered node-busy (its container's JobGate
    /// was full) at most <see cref="NodeChoice.MaxBusyWindow"/> before. One timestamp, replaced by each busy answer, and
    /// cleared by a good answer to an attempt that began after <see cref="BusyAttempt"/> (MeshState.RecordSuccess).
    /// </summary>
    public DateTimeOffset? BusyUntil { get; set; }

    /// <summary>The number (MeshState.Begin) of the newest attempt that met a busy answer from the node for this version; 0: none.</summary>
    public long BusyAttempt { get; set; }
}

/// <summary>How a registration went.</summary>
internal enum Admission
{
    Registered,

    /// <summary>Another node holds the id: the request did not carry its credential.</summary>
    IdTaken,

    /// <summary>The gateway holds <see cref="GatewayOptions.MaxNodes"/> nodes already.</summary>
    Full,

    /// <summary>The id is bound to another key than the registration's.</summary>
    KeyMismatch,

    /// <summary>The signature is not newer than the last one accepted from the id's key.</summary>
    Replayed,

    /// <summary>The key is bound to another node, online now: one key, one node (its rank is the key's).</summary>
    KeyInUse,
}

/// <summary>Whether a request about a node comes from that node.</summary>
internal enum NodeAuth
{
    Ok,
    Unknown,
    Forbidden,
}

/// <summary>
/// Where an attempt goes: through the node's job API at its registered address (<see cref="Connector"/> null), or
/// straight to the container through the connector its node of this process handed over.
/// </summary>
/// <see cref="TlsPin"/>: the fingerprint the node registered for its https job API, the one key the gateway accepts there.
internal sealed record Route(Uri Target, IModelConnector? Connector, string Credential, ILocalNode? Local = null, string? TlsPin = null)
{
    public bool Direct => Connector is not null;
}

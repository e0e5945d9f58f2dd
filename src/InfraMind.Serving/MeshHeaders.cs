namespace InfraMind.Serving;

/// <summary>Header names shared by node and gateway.</summary>
public static class MeshHeaders
{
    /// <summary>On a node's own failure answer (no model answer at all): the verdict, e.g. connection-failed.</summary>
    public const string Verdict = "InfraMind-Verdict";

    public const string Node = "InfraMind-Node";

    public const string Attempts = "InfraMind-Attempts";

    public const string ModelVersion = "InfraMind-Model-Version";

    /// <summary>
    /// A node's own credential, issued by the gateway at its first registration and bound to its id: sent with every
    /// later registration and heartbeat of that node (a node's reports count only for the node that holds it).
    /// </summary>
    public const string NodeCredential = "InfraMind-Node-Credential";

    /// <summary>The job's time limit in milliseconds, set by the gateway so the node gives up first.</summary>
    public const string TimeoutMs = "InfraMind-Timeout-Ms";

    /// <summary>
    /// The longest the job may wait at the node for one of its model container's slots (<see cref="JobGate"/>), in
    /// milliseconds, set by the gateway: short while the request has other nodes to try, so a full container sends it on
    /// to them instead of holding it; half the time limit for its last choice. A node waits the smaller of this and half
    /// the job's time limit (without it, or with a value it cannot read: half), then answers busy.
    /// </summary>
    public const string QueueWaitMs = "InfraMind-Queue-Wait-Ms";

    /// <summary>
    /// A node's signature over a registration or heartbeat, and the gateway's over its registration reply
    /// (<see cref="MeshSignature"/>): <c>t=UNIX_MS;key=sha256:…;sig=BASE64URL</c>.
    /// </summary>
    public const string Signature = "InfraMind-Signature";

    /// <summary>The request id the gateway gives each request: sent to the node with every attempt, named in its receipt.</summary>
    public const string RequestId = "InfraMind-Request-Id";

    /// <summary>The node's signed receipt of a job (<see cref="JobReceipts"/>): from a node to the gateway, and from the gateway to its client.</summary>
    public const string Receipt = "InfraMind-Receipt";
}

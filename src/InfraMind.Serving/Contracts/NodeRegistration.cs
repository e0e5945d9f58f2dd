namespace InfraMind.Serving;

/// <summary>What a node offers: compute in the manifest's exact units.</summary>
public sealed record NodeCapacity(long CpuMillicores, long MemoryBytes, int GpuCount);

/// <summary>A node introducing itself to the gateway (POST /mesh/v1/nodes).</summary>
/// <param name="PublicKey">
/// The node's public key (DER SubjectPublicKeyInfo, base64) when it has one: the gateway binds the id to it at the first
/// registration, and every registration and heartbeat of the id must then be signed by it (<see cref="MeshSignature"/>).
/// </param>
/// <param name="TlsFingerprint">
/// The SPKI SHA-256 (<c>sha256:HEX</c>) of the certificate the node's https job API presents (<see cref="Tls.MeshTls"/>):
/// the gateway takes that key alone when it calls the node. Signed with the rest of the registration by the node's key.
/// </param>
public sealed record NodeRegistration(
    string NodeId,
    Uri Address,
    NodeCapacity Capacity,
    IReadOnlyDictionary<string, string> Labels,
    TimeSpan HeartbeatInterval,
    string? PublicKey = null,
    string? TlsFingerprint = null);

/// <summary>
/// The gateway's answer to an accepted registration: the node's own credential (256 random bits), bound to its id for as
/// long as the gateway knows the node. The node sends it (<see cref="MeshHeaders.NodeCredential"/>) with every later
/// registration and heartbeat, and the gateway sends it (Authorization: Bearer) with every job through the node's job API.
/// </summary>
/// <param name="GatewayKey">The gateway's public key (SubjectPublicKeyInfo, base64) when it has one; the reply is then signed by it.</param>
public sealed record NodeRegistered(string Registered, string Credential, string? GatewayKey = null);

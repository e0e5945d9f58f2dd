using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>
/// The gateway refused a node's registration, with the code its answer names or its status means: 401 a missing or
/// wrong mesh token (IM6015) or signature (IM6041, IM6042), 403 a key the gateway does not admit (IM6043), 409 an id
/// another node holds (IM6019) or bound to another key (IM6040), a key bound to another online node (IM6051), anything else an invalid registration (IM6014); or
/// this node refused the gateway (IM6044).
/// </summary>
public sealed class NodeRegistrationException : InfraMindException
{
    private NodeRegistrationException(int status, ErrorCode code, string message, string? hint)
        : base(code, message, hint) => Status = status;

    public int Status { get; }

    /// <summary>
    /// A gateway's refusal of the registration (its status, its problem's detail and code), in this node's words; the
    /// gateway's <paramref name="hint"/> where this node has no advice of its own for the refusal.
    /// </summary>
    public static NodeRegistrationException For(Uri gateway, int status, string detail, string? code = null, string? hint = null) => status switch
    {
        401 when code == MeshErrorCodes.SignatureExpired.Value => new(status, MeshErrorCodes.SignatureExpired,
            $"the gateway {gateway} refused this node's signature as expired or replayed: {detail}", MeshErrorCodes.SignatureExpired.DefaultHint),
        401 when code == MeshErrorCodes.NodeSignatureInvalid.Value => new(status, MeshErrorCodes.NodeSignatureInvalid,
            $"the gateway {gateway} refused this node's signature: {detail}", MeshErrorCodes.NodeSignatureInvalid.DefaultHint),
        401 => new(status, MeshErrorCodes.NodeUnauthorized, $"the gateway {gateway} refused this node's mesh token",
            "start the node with that gateway's token file (infra node serve --token-file; `infra gateway serve` writes it)"),
        403 when code == MeshErrorCodes.NodeKeyNotAdmitted.Value => new(status, MeshErrorCodes.NodeKeyNotAdmitted, $"the gateway {gateway} does not admit this node's key: {detail}", MeshErrorCodes.NodeKeyNotAdmitted.DefaultHint),
        409 when code == MeshErrorCodes.NodeKeyMismatch.Value => new(status, MeshErrorCodes.NodeKeyMismatch,
            $"the gateway {gateway} has this node id bound to another key: {detail}", MeshErrorCodes.NodeKeyMismatch.DefaultHint),
        409 when code == MeshErrorCodes.NodeKeyInUse.Value => new(status, MeshErrorCodes.NodeKeyInUse,
            $"the gateway {gateway} has this node's key bound to another node, online: {detail}", MeshErrorCodes.NodeKeyInUse.DefaultHint),
        409 => new(status, MeshErrorCodes.NodeIdTaken, $"the gateway {gateway} has another node registered under this id: {detail}",
            "choose another --id, or start the node with the home that holds this id's credential"),
        _ => new(status, MeshErrorCodes.RegistrationInvalid, $"the gateway {gateway} refused the registration: {detail}", ProblemMembers.HintOf(hint)),
    };

    /// <summary>This node refused the gateway: its TLS certificate's key is not the one pinned for it (--gateway URL#sha256:HEX).</summary>
    public static NodeRegistrationException GatewayPinMismatch(Uri gateway, string pin, string presented) =>
        new(0, MeshErrorCodes.TlsPinMismatch, $"this node refused the gateway {gateway}: its TLS certificate key is {presented}, not the pinned {pin}",
            "pin the fingerprint `infra gateway serve --tls --json` prints (tlsFingerprint); if it did not change, someone else answers at that address");

    /// <summary>This node refused the gateway: its registration reply is not signed by a gateway key the node admits.</summary>
    public static NodeRegistrationException GatewayNotAdmitted(Uri gateway, string detail) =>
        new(0, MeshErrorCodes.GatewayKeyNotAdmitted, $"this node refused the gateway {gateway}: {detail}", MeshErrorCodes.GatewayKeyNotAdmitted.DefaultHint);
}

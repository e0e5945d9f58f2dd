using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>
/// The gateway refused a node's registration, with the code its status means: 401 a missing or wrong mesh token
/// (IM6015), 409 an id another node holds (IM6019), anything else an invalid registration (IM6014).
/// </summary>
public sealed class NodeRegistrationException : InfraMindException
{
    private NodeRegistrationException(int status, ErrorCode code, string message, string? hint)
        : base(code, message, hint) => Status = status;

    public int Status { get; }

    public static NodeRegistrationException For(Uri gateway, int status, string detail) => status switch
    {
        401 => new(status, MeshErrorCodes.NodeUnauthorized, $"the gateway {gateway} refused this node's mesh token",
            "start the node with that gateway's token file (infra node serve --token-file; `infra gateway serve` writes it)"),
        409 => new(status, MeshErrorCodes.NodeIdTaken, $"the gateway {gateway} has another node registered under this id: {detail}",
            "choose another --id, or start the node with the home that holds this id's credential"),
        _ => new(status, MeshErrorCodes.RegistrationInvalid, $"the gateway {gateway} refused the registration: {detail}", null),
    };
}

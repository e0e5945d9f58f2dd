namespace InfraMind.Serving;

/// <summary>Where a model stands on one node.</summary>
public enum ModelState
{
    /// <summary>Accepted; fetching the image or starting the container, or waiting for a stopped version's removal to free room.</summary>
    Starting,

    /// <summary>Pre-flight passed; accepting jobs.</summary>
    Ready,

    /// <summary>Start or pre-flight failed, or the container died; the node retries with back-off.</summary>
    Failed,

    /// <summary>Not accepted: it does not fit the node's free capacity or needs a GPU the node lacks.</summary>
    Refused,
}

/// <summary>One model on a node, as the node reports it in every heartbeat.</summary>
/// <param name="PreflightGeneration">
/// Counts the container instance's passing pre-flights, from none when the node (re)starts it; a number other than the
/// one the gateway saw when it suspended the node is a fresh pass.
/// </param>
/// <param name="LastFailure">
/// The verdict of the latest of <paramref name="Failures"/>, kept after the state moved on (a node restarts a failed
/// container at once, so a heartbeat may never see the failed state itself).
/// </param>
/// <param name="Limits">
/// The resource limits the version runs under on this node, so that every gateway counts what the node runs, whichever
/// gateway placed it (null: a node of an earlier version; refusals carry none).
/// </param>
/// <remarks>
/// A report names no address: the gateway sends a job only through the node's job API, at the address it registered,
/// or (in one process) through the connector the node handed it (<see cref="LocalNodes"/>), never to an address a
/// node merely claims.
/// </remarks>
public sealed record ModelReport(
    string Name,
    string Version,
    ModelState State,
    Verdict? Verdict,
    string? Detail,
    long PreflightGeneration,
    int Restarts,
    int Failures,
    DateTimeOffset Since,
    Verdict? LastFailure = null,
    InfraMind.Manifest.ResourceRequest? Limits = null);

/// <summary>POST /mesh/v1/nodes/{id}/heartbeat.</summary>
public sealed record NodeHeartbeat(string NodeId, IReadOnlyList<ModelReport> Models);

/// <summary>The gateway's answer to a heartbeat: what the node should run, and which models to pre-flight again.</summary>
public sealed record HeartbeatReply(IReadOnlyList<ModelAssignment> Assignments, IReadOnlyList<string> Preflight);

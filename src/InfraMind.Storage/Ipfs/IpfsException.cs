namespace InfraMind.Storage.Ipfs;

/// <summary>An IPFS content error a user can hit; its code (IM41xx) is stable.</summary>
public class IpfsException(ErrorCode code, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException);

/// <summary>Stable error codes of the IPFS part of InfraMind.Storage (IM41xx), documented in docs/errors.md. Never renumber.</summary>
public static class IpfsErrorCodes
{
    /// <summary>A CID string or byte form is malformed or uses an unsupported codec, multibase or hash.</summary>
    public static readonly ErrorCode InvalidCid = new("IM4101", FailureKind.Usage,
        "write a CIDv0 (Qm…) or a base32 CIDv1 (b…) of dag-pb or raw content hashed with sha2-256, as `ipfs add` prints it");

    /// <summary>Content does not import to the CID that named it.</summary>
    public static readonly ErrorCode CidMismatch = new("IM4102", FailureKind.CheckFailed,
        "nothing was stored; fetch from a source you trust, or republish the content");

    /// <summary>Importer options are out of range (chunk size, link count, CID version, wrap name).</summary>
    public static readonly ErrorCode InvalidOptions = new("IM4103", FailureKind.Usage,
        "change the option the message names, or leave it out for kubo's default (the same CIDs as `ipfs add`)");

    /// <summary>No IPFS node or gateway answers at the address (connection refused, unknown host, TLS failure).</summary>
    public static readonly ErrorCode NodeUnreachable = new("IM4104", FailureKind.Unavailable,
        "check the address and that the IPFS node or gateway runs, then retry");

    /// <summary>The node or gateway answered with an HTTP error status (404 content not found, 405, 500…).</summary>
    public static readonly ErrorCode HttpError = new("IM4105", FailureKind.Unavailable,
        "the IPFS node's or gateway's log says why; retry once it is healthy");

    /// <summary>The node or gateway answered something that is not a valid answer (bad JSON, no CID, cut short).</summary>
    public static readonly ErrorCode BadAnswer = new("IM4106", FailureKind.Unavailable,
        "check that the address is a Kubo RPC API or an IPFS gateway, and its log; then retry");

    /// <summary>The node or gateway stopped sending for longer than the stall timeout.</summary>
    public static readonly ErrorCode Stalled = new("IM4107", FailureKind.Unavailable,
        "check that the IPFS node or gateway runs and is not overloaded, then retry");

    /// <summary>The node stored the content under another CID than InfraMind computes with the same settings.</summary>
    public static readonly ErrorCode NodeCidDisagrees = new("IM4108", FailureKind.Unavailable,
        "do not publish the node's CID; add the content with a kubo-compatible node that imports with the settings asked");

    /// <summary>A file to import does not exist, is a directory or cannot be read (`infra cid`).</summary>
    public static readonly ErrorCode FileUnreadable = new("IM4109", FailureKind.Usage);
}

/// <summary>Content imported to another CID than the one that named it.</summary>
public sealed class CidMismatchException(Cid expected, Cid actual, string settings)
    : IpfsException(
        IpfsErrorCodes.CidMismatch,
        $"content should have CID {expected} but imports to {actual} ({settings}). Either the content is not the " +
        "one published (fetch it again from a source you trust) or it was added with other import settings " +
        "(CID version, raw leaves, chunk size, wrap-with-directory name); use the settings recorded with the CID")
{
    public Cid Expected { get; } = expected;

    public Cid Actual { get; } = actual;
}

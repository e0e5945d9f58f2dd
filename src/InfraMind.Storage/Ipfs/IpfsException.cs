namespace InfraMind.Storage.Ipfs;

/// <summary>An IPFS content error a user can hit; <see cref="Code"/> (IM41xx) is stable.</summary>
public class IpfsException : Exception
{
    public IpfsException(string code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
    }

    public IpfsException()
        : this(IpfsErrorCodes.InvalidCid, "invalid IPFS content")
    {
    }

    public IpfsException(string message)
        : this(IpfsErrorCodes.InvalidCid, message)
    {
    }

    public IpfsException(string message, Exception innerException)
        : base($"{IpfsErrorCodes.InvalidCid}: {message}", innerException)
    {
        Code = IpfsErrorCodes.InvalidCid;
    }

    public string Code { get; }
}

/// <summary>Stable error codes of the IPFS part of InfraMind.Storage (IM41xx).</summary>
public static class IpfsErrorCodes
{
    /// <summary>A CID string or byte form is malformed or uses an unsupported codec, multibase or hash.</summary>
    public const string InvalidCid = "IM4101";

    /// <summary>Content does not import to the CID that named it.</summary>
    public const string CidMismatch = "IM4102";

    /// <summary>Importer options are out of range (chunk size, link count, CID version).</summary>
    public const string InvalidOptions = "IM4103";

    /// <summary>No IPFS node or gateway answers at the address (connection refused, unknown host, TLS failure).</summary>
    public const string NodeUnreachable = "IM4104";

    /// <summary>The node or gateway answered with an HTTP error status (404 content not found, 405, 500…).</summary>
    public const string HttpError = "IM4105";

    /// <summary>The node or gateway answered something that is not a valid answer (bad JSON, no CID, cut short).</summary>
    public const string BadAnswer = "IM4106";

    /// <summary>The node or gateway stopped sending for longer than the stall timeout.</summary>
    public const string Stalled = "IM4107";

    /// <summary>The node stored the content under another CID than InfraMind computes with the same settings.</summary>
    public const string NodeCidDisagrees = "IM4108";

    /// <summary>A file to import does not exist or cannot be read (`infra cid`).</summary>
    public const string FileUnreadable = "IM4109";
}

/// <summary>Content imported to another CID than the one that named it.</summary>
public sealed class CidMismatchException : IpfsException
{
    public CidMismatchException(Cid expected, Cid actual, string settings)
        : base(
            IpfsErrorCodes.CidMismatch,
            $"content should have CID {expected} but imports to {actual} ({settings}). Either the content is not the " +
            "one published (fetch it again from a source you trust) or it was added with other import settings " +
            "(CID version, raw leaves, chunk size, wrap-with-directory name); use the settings recorded with the CID.")
    {
        Expected = expected;
        Actual = actual;
    }

    public CidMismatchException()
    {
    }

    public CidMismatchException(string message)
        : base(IpfsErrorCodes.CidMismatch, message)
    {
    }

    public CidMismatchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public Cid? Expected { get; }

    public Cid? Actual { get; }
}

namespace InfraMind.Storage;

/// <summary>Stable error codes of content storage (IM42xx). Each message starts with its code.</summary>
public static class StorageErrorCodes
{
    /// <summary>A content reference or push target is malformed.</summary>
    public const string InvalidReference = "IM4201";

    /// <summary>The reference is valid but cannot be used for this operation (push to a digest, plain http off loopback…).</summary>
    public const string UnsupportedReference = "IM4202";

    /// <summary>The peer (registry, HTTP server, IPFS node) could not be reached or stopped answering.</summary>
    public const string PeerUnavailable = "IM4203";

    /// <summary>The peer answered with an error status.</summary>
    public const string PeerRejected = "IM4204";

    /// <summary>The peer asked for credentials, or refused the ones given.</summary>
    public const string AuthenticationFailed = "IM4205";

    /// <summary>The peer does not have the manifest, blob or file asked for.</summary>
    public const string NotFound = "IM4206";

    /// <summary>The image is not in the local content store.</summary>
    public const string NotInStore = "IM4207";

    /// <summary>No backend for this kind of reference is available in this build.</summary>
    public const string BackendUnavailable = "IM4208";

    /// <summary>The manifest is of a kind InfraMind cannot run (schema 1, an index without a linux/amd64 image…).</summary>
    public const string UnsupportedManifest = "IM4209";
}

/// <summary>
/// An error a user can hit while storing or fetching content. <see cref="Code"/> is stable; the message says where
/// (reference, URL) and how to fix it. <see cref="IsUnavailable"/> separates "the peer is down or refused" (exit 4)
/// from "the content or the reference is wrong" (exit 1).
/// </summary>
public class StorageException : Exception
{
    public StorageException(string code, string message, Exception? innerException = null)
        : base($"{code}: {message}", innerException)
    {
        Code = code;
    }

    public StorageException()
        : this(StorageErrorCodes.PeerRejected, "storage error")
    {
    }

    public StorageException(string message)
        : this(StorageErrorCodes.PeerRejected, message)
    {
    }

    public StorageException(string message, Exception innerException)
        : this(StorageErrorCodes.PeerRejected, message, innerException)
    {
    }

    public string Code { get; }

    /// <summary>The text after the code, for front ends that print the code separately.</summary>
    public string Detail => Message.StartsWith(Code + ": ", StringComparison.Ordinal) ? Message[(Code.Length + 2)..] : Message;

    public bool IsUnavailable => Code is StorageErrorCodes.PeerUnavailable or StorageErrorCodes.PeerRejected
        or StorageErrorCodes.AuthenticationFailed or StorageErrorCodes.BackendUnavailable;
}

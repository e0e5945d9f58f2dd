namespace InfraMind.Oci;

/// <summary>
/// An error a user can hit while handling OCI content: a typed <see cref="InfraMindException.Code"/> (IM40xx), a
/// message that says what was expected and what was found, and a hint that says how to fix it.
/// </summary>
public class OciException(ErrorCode code, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException);

/// <summary>Stable error codes of InfraMind.Oci (IM40xx), documented in docs/errors.md. Never renumber.</summary>
public static class OciErrorCodes
{
    /// <summary>A digest string is not <c>sha256:</c> followed by 64 lower-case hex digits.</summary>
    public static readonly ErrorCode InvalidDigest = new("IM4001", FailureKind.CheckFailed, "write a digest as sha256: followed by 64 lower-case hex digits");

    /// <summary>Content does not hash to the digest it was named by.</summary>
    public static readonly ErrorCode DigestMismatch = new("IM4002", FailureKind.CheckFailed,
        "nothing was stored; fetch it again from a source you trust, or republish the content");

    /// <summary>Content is longer or shorter than its descriptor says.</summary>
    public static readonly ErrorCode SizeMismatch = new("IM4003", FailureKind.CheckFailed,
        "nothing was stored; the source is truncated or serves other content: fetch it again from a source you trust");

    /// <summary>A <c>docker save</c> archive lacks what every such archive has (manifest.json, config, layers).</summary>
    public static readonly ErrorCode InvalidDockerArchive = new("IM4010", FailureKind.CheckFailed,
        "give the output of `docker save IMAGE -o FILE` unchanged");

    /// <summary>An OCI image layout is malformed (oci-layout, index.json, manifest, missing blobs).</summary>
    public static readonly ErrorCode InvalidLayout = new("IM4011", FailureKind.CheckFailed,
        "export the image again with `infra push`; a layout that was edited or copied in part cannot be used");

    /// <summary>An archive or layout goes past a bound of <see cref="ArchiveLimits"/> (entries, images, layers, nesting, document size).</summary>
    public static readonly ErrorCode ArchiveLimit = new("IM4012", FailureKind.CheckFailed,
        "a real image stays far below these bounds: save it again with `docker save IMAGE` or `infra push`, and do not use an archive from a source you do not trust");

    /// <summary>A layer's tar (decompressed, for a gzip or zstd layer) does not hash to the config's diff_id, or does not decompress as its media type says.</summary>
    public static readonly ErrorCode LayerMismatch = new("IM4013", FailureKind.CheckFailed,
        "the image's layers and its config do not belong together: nothing was stored; export the image again with `infra push`, or fetch it from a source you trust");
}

/// <summary>Content did not hash to the digest that named it: it is corrupt, truncated or was swapped.</summary>
public sealed class DigestMismatchException(Digest expected, Digest actual, string? what = null)
    : OciException(
        OciErrorCodes.DigestMismatch,
        $"{what ?? "content"} does not match its digest (expected {expected}, found {actual}): it is corrupt, truncated or was " +
        "replaced, and this copy must not be used")
{
    public Digest Expected { get; } = expected;

    public Digest Actual { get; } = actual;
}

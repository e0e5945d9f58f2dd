namespace InfraMind.Oci;

/// <summary>
/// An error a user can hit while handling OCI content. <see cref="Code"/> is stable (IM4xxx) so that scripts and
/// documentation can refer to it; the message says what was expected, what was found and how to fix it.
/// </summary>
public class OciException : Exception
{
    public OciException(string code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
    }

    public OciException(string code, string message, Exception innerException)
        : base($"{code}: {message}", innerException)
    {
        Code = code;
    }

    public OciException()
        : this(OciErrorCodes.InvalidLayout, "invalid OCI content")
    {
    }

    public OciException(string message)
        : this(OciErrorCodes.InvalidLayout, message)
    {
    }

    public OciException(string message, Exception innerException)
        : this(OciErrorCodes.InvalidLayout, message, innerException)
    {
    }

    public string Code { get; }
}

/// <summary>Stable error codes of InfraMind.Oci (IM40xx).</summary>
public static class OciErrorCodes
{
    /// <summary>A digest string is not <c>sha256:</c> followed by 64 lower-case hex digits.</summary>
    public const string InvalidDigest = "IM4001";

    /// <summary>Content does not hash to the digest it was named by.</summary>
    public const string DigestMismatch = "IM4002";

    /// <summary>Content is longer or shorter than its descriptor says.</summary>
    public const string SizeMismatch = "IM4003";

    /// <summary>A <c>docker save</c> archive lacks what every such archive has (manifest.json, config, layers).</summary>
    public const string InvalidDockerArchive = "IM4010";

    /// <summary>An OCI image layout is malformed (oci-layout, index.json, manifest, missing blobs).</summary>
    public const string InvalidLayout = "IM4011";
}

/// <summary>Content did not hash to the digest that named it: it is corrupt, truncated or was swapped.</summary>
public sealed class DigestMismatchException : OciException
{
    public DigestMismatchException(Digest expected, Digest actual, string? what = null)
        : base(
            OciErrorCodes.DigestMismatch,
            $"{what ?? "content"} should have digest {expected} but has {actual}. The content is corrupt, truncated " +
            "or was replaced; fetch it again from a source you trust and do not use this copy.")
    {
        Expected = expected;
        Actual = actual;
    }

    public DigestMismatchException()
        : base(OciErrorCodes.DigestMismatch, "digest mismatch")
    {
    }

    public DigestMismatchException(string message)
        : base(OciErrorCodes.DigestMismatch, message)
    {
    }

    public DigestMismatchException(string message, Exception innerException)
        : base(OciErrorCodes.DigestMismatch, message, innerException)
    {
    }

    public Digest Expected { get; }

    public Digest Actual { get; }
}

namespace InfraMind.Registry;

/// <summary>Stable error codes of the registry (IM51xx). Never renumber.</summary>
public static class RegistryErrorCodes
{
    public const string NotOwner = "IM5101";
    public const string VersionConflict = "IM5102";
    public const string InvalidVersion = "IM5103";
    public const string NotFound = "IM5105";
    public const string AdmissionRejected = "IM5106";
    public const string InvalidRequest = "IM5107";
    public const string CheckpointMalformed = "IM5110";
    public const string CheckpointSignature = "IM5111";
    public const string CheckpointKeyUnknown = "IM5112";
    public const string CheckpointMismatch = "IM5113";
    public const string InclusionProofInvalid = "IM5120";
    public const string ConsistencyProofInvalid = "IM5121";
    public const string LeafMismatch = "IM5122";
    public const string LogCorrupt = "IM5123";
    public const string StatementDigestMismatch = "IM5124";
    public const string LogClosed = "IM5125";
    public const string LogInUse = "IM5126";
    public const string RegistryUnreachable = "IM5130";
    public const string RegistryHttpError = "IM5131";
}

/// <summary>How a caller (the HTTP API, the CLI) should treat a failure.</summary>
public enum RegistryErrorKind
{
    BadRequest,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    Corrupt,
    Unavailable,
}

public sealed class RegistryException : Exception
{
    public RegistryException(string code, RegistryErrorKind kind, string message, Exception? inner = null)
        : base($"{code}: {message}", inner)
    {
        Code = code;
        Kind = kind;
        Reason = message;
    }

    public RegistryException()
        : this("IM5100", RegistryErrorKind.BadRequest, "registry error")
    {
    }

    public RegistryException(string message)
        : this("IM5100", RegistryErrorKind.BadRequest, message)
    {
    }

    public RegistryException(string message, Exception inner)
        : this("IM5100", RegistryErrorKind.BadRequest, message, inner)
    {
    }

    public string Code { get; }

    public RegistryErrorKind Kind { get; }

    public string Reason { get; }
}

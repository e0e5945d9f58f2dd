namespace InfraMind.Registry;

/// <summary>Stable error codes of the registry (IM51xx), documented in docs/errors.md. Never renumber.</summary>
public static class RegistryErrorCodes
{
    public static readonly ErrorCode NotOwner = new("IM5101", FailureKind.CheckFailed,
        "a name belongs to the key that first published it: publish with that key (--key NAME), or under another name");

    public static readonly ErrorCode VersionConflict = new("IM5102", FailureKind.CheckFailed,
        "a published version never changes: raise `version` in model.yaml and publish again");

    public static readonly ErrorCode InvalidVersion = new("IM5103", FailureKind.Usage, "write a SemVer 2.0 version such as 1.0.0, or leave it out for the latest release");

    /// <summary>(429) Too many publishes from this client address or by this key in the last minute; the answer says when to retry.</summary>
    public static readonly ErrorCode RateLimited = new("IM5104", FailureKind.Unavailable, "wait the Retry-After seconds the registry named, then publish again");
    public static readonly ErrorCode NotFound = new("IM5105", FailureKind.CheckFailed, "`infra log` lists what the registry holds");
    public static readonly ErrorCode AdmissionRejected = new("IM5106", FailureKind.CheckFailed);
    public static readonly ErrorCode InvalidRequest = new("IM5107", FailureKind.CheckFailed,
        "change what the message names (a parameter, an index or a size within the range it gives) and send the request again");

    /// <summary>(413) The publish body is larger than 1 MiB (declared or sent, chunked bodies included).</summary>
    public static readonly ErrorCode EnvelopeTooLarge = new("IM5108", FailureKind.CheckFailed,
        "a publish envelope is a few KiB; one over 1 MiB is not one `infra publish` makes");

    /// <summary>(400) The envelope carries more signatures than a publish may.</summary>
    public static readonly ErrorCode TooManySignatures = new("IM5109", FailureKind.CheckFailed,
        "a publish is signed once, by its publisher's key: send the envelope `infra publish` makes");
    /// <summary>The fix for a checkpoint that does not parse or verify (IM5110, IM5111).</summary>
    private const string BadCheckpoint = "fetch it again; if it repeats, do not trust this registry's answer and tell its operator";

    /// <summary>The fix for an entry that does not match its checkpoint or proof (IM5113, IM5120).</summary>
    private const string BadProof = "fetch the entry again (`infra verify NAME`); if it repeats, do not trust this registry's answer";

    public static readonly ErrorCode CheckpointMalformed = new("IM5110", FailureKind.CheckFailed,
        BadCheckpoint);

    /// <summary>(503) The registry is fetching as many publishes' content as it does at once (<c>--max-fetches</c>).</summary>
    public static readonly ErrorCode AdmissionsBusy = new("IM5114", FailureKind.Unavailable, "publish again after the Retry-After seconds");

    /// <summary>(404) The registry serves nothing at the path; the detail lists what it serves.</summary>
    public static readonly ErrorCode NoSuchPath = new("IM5115", FailureKind.CheckFailed,
        "the registry's API is under /v1/ (GET /v1/entries lists the log); check the registry URL for an extra path");

    /// <summary>(405) The registry serves the path, but not with this method; the Allow header names the methods it takes.</summary>
    public static readonly ErrorCode MethodNotAllowed = new("IM5116", FailureKind.CheckFailed,
        "send the request with a method the Allow header names: a publish is a POST to /v1/entries, everything else a GET");

    public static readonly ErrorCode CheckpointSignature = new("IM5111", FailureKind.CheckFailed,
        BadCheckpoint);
    public static readonly ErrorCode CheckpointKeyUnknown = new("IM5112", FailureKind.CheckFailed,
        "check that the registry key you verify with (--registry-key) is this registry's");
    public static readonly ErrorCode CheckpointMismatch = new("IM5113", FailureKind.CheckFailed,
        BadProof);
    public static readonly ErrorCode InclusionProofInvalid = new("IM5120", FailureKind.CheckFailed,
        BadProof);
    public static readonly ErrorCode LeafMismatch = new("IM5122", FailureKind.CheckFailed,
        "restore the registry's log from a backup");

    /// <summary>The log file is damaged, or no longer matches what the registry signed.</summary>
    public static readonly ErrorCode LogCorrupt = new("IM5123", FailureKind.CheckFailed,
        "the log is append-only and signed, so a damaged file cannot be repaired in place: restore the registry's data " +
        "directory ($INFRAMIND_HOME/registry) from a backup, and do not trust what was read from this copy");

    public static readonly ErrorCode StatementDigestMismatch = new("IM5124", FailureKind.CheckFailed,
        "the statement was altered after it was logged: do not use it; ask the publisher to publish again");
    public static readonly ErrorCode LogClosed = new("IM5125", FailureKind.Unavailable,
        "the registry is shutting down: retry once it runs again");

    public static readonly ErrorCode LogInUse = new("IM5126", FailureKind.Unavailable,
        "a running `infra mesh up` or `infra registry serve` owns it: stop it, or start this one with another INFRAMIND_HOME; " +
        "publish, verify and log reach it with --registry URL");

    /// <summary>No registry answers at the URL (client side); the message says how to start one.</summary>
    public static readonly ErrorCode RegistryUnreachable = new("IM5130", FailureKind.Unavailable,
        "check --registry and that the registry runs (`infra registry serve`), then retry");

    /// <summary>The registry answered an error status without a problem document (client side).</summary>
    public static readonly ErrorCode RegistryHttpError = new("IM5131", FailureKind.Unavailable,
        "check that --registry names an InfraMind registry; its log says why it failed");

    /// <summary>The registry answered something that is not a registry answer: not JSON, missing fields (client side).</summary>
    public static readonly ErrorCode RegistryBadAnswer = new("IM5132", FailureKind.Unavailable,
        "check that --registry names an InfraMind registry (`infra registry serve`), not another service");

    /// <summary>Admission: the statement carries no manifest.</summary>
    public static readonly ErrorCode ManifestMissing = new("IM5140", FailureKind.CheckFailed, "publish with `infra publish`, which carries model.yaml in the statement");

    /// <summary>Admission: the manifest in the statement does not validate.</summary>
    public static readonly ErrorCode ManifestInvalid = new("IM5141", FailureKind.CheckFailed, "`infra validate` shows every finding of model.yaml");

    /// <summary>Admission: the manifest describes another model, version or digest than the statement.</summary>
    public static readonly ErrorCode ManifestMismatch = new("IM5142", FailureKind.CheckFailed,
        "publish with `infra publish`, which sends the manifest and the statement together");

    /// <summary>Admission: a content reference could not be fetched and verified.</summary>
    public static readonly ErrorCode ContentUnresolved = new("IM5143", FailureKind.CheckFailed,
        "push the image first, then name it with `infra publish --image REFERENCE` (oci://…@sha256:…, https://…#sha256=…, ipfs://CID)");

    /// <summary>Admission: a content reference holds another image than the one published.</summary>
    public static readonly ErrorCode ContentMismatch = new("IM5144", FailureKind.CheckFailed, "every --image must be a copy of the same image");

    /// <summary>Admission: a reference of a kind this registry does not fetch (one that resolves on its host, or one not pinned to content).</summary>
    public static readonly ErrorCode ReferenceNotAccepted = new("IM5145", FailureKind.CheckFailed,
        "publish remote, content-addressed references: oci://HOST/REPO@sha256:…, https://HOST/PATH#sha256=…, ipfs://CID (`infra push` gives them)");

    /// <summary>Admission: more distinct content references than the registry fetches for one publish.</summary>
    public static readonly ErrorCode TooManyReferences = new("IM5146", FailureKind.CheckFailed,
        "pass fewer --image copies to `infra publish`");

    /// <summary>Admission and `infra publish`: the image's own manifest-digest label names another manifest than the published one.</summary>
    public static readonly ErrorCode ImageBoundToOtherManifest = new("IM5147", FailureKind.CheckFailed,
        "build the image from this model.yaml with `infra build` (it labels the image with the manifest's digest), push it and publish that");

    /// <summary>The registry serves another key than the one pinned for it on first use.</summary>
    public static readonly ErrorCode RegistryKeyChanged = new("IM5150", FailureKind.CheckFailed,
        "if the registry's key was replaced on purpose, check the new fingerprint with its operator, then pass --registry-key FILE or remove the pin file the message names");

    /// <summary>A checkpoint of the registry is inconsistent with one seen before: the log was forked or rolled back (a split view).</summary>
    public static readonly ErrorCode SplitView = new("IM5151", FailureKind.CheckFailed,
        "the registry showed two histories that cannot both be true: stop trusting it and tell its operator; the message names both checkpoints and the file that keeps the one seen first");

    /// <summary>Another process of this home held a registry's checkpoint history (its lock file) for longer than the observer waits.</summary>
    public static readonly ErrorCode TrustHistoryBusy = new("IM5152", FailureKind.Unavailable,
        "another infra process of this home (a gateway, node or verify) holds the history only to replace one file, so one that keeps it is stopped or stuck: " +
        "let it finish or end it, then run the command again");

    /// <summary>(503) The file system of the registry's log has less free space than its floor (<c>--min-free-disk</c>): no publish is taken.</summary>
    public static readonly ErrorCode DiskLow = new("IM5153", FailureKind.Unavailable,
        "the registry's operator frees space on the disk of its data directory (or lowers --min-free-disk); until then publish elsewhere or later");

    private static readonly IReadOnlyDictionary<string, ErrorCode> Known = ErrorCatalog.Index(typeof(RegistryErrorCodes), typeof(Signing.SigningErrorCodes));

    /// <summary>
    /// The declared code a registry's problem document names (registry and signing codes); a code this build does not
    /// know (a newer registry) keeps its value and takes <paramref name="kind"/>, from the answer's status.
    /// </summary>
    public static ErrorCode FromWire(string value, FailureKind kind)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Known.TryGetValue(value, out var code) ? code : new ErrorCode(value, kind);
    }
}

/// <summary>How the registry's HTTP API answers a failure (its status), beside the code's own <see cref="FailureKind"/>.</summary>
public enum RegistryErrorKind
{
    BadRequest,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    Corrupt,
    Unavailable,
    TooLarge,
    TooManyRequests,
}

/// <summary>A registry failure: a typed code, the HTTP answer it gets (<see cref="Category"/>), a message and a hint.</summary>
public sealed class RegistryException(ErrorCode code, RegistryErrorKind category, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException)
{
    /// <summary>The status class the registry's HTTP API answers this failure with.</summary>
    public RegistryErrorKind Category { get; } = category;

    /// <summary>
    /// SQLite's own word that the log file is damaged (SQLITE_CORRUPT: "database disk image is malformed", SQLITE_NOTADB:
    /// "file is not a database") as <see cref="RegistryErrorCodes.LogCorrupt"/>; null for any other failure.
    /// </summary>
    internal static RegistryException? FromDamagedFile(Exception exception, string file) =>
        exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 11 or 26 } sqlite
            ? new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{file} is damaged: {sqlite.Message}", sqlite)
            : null;
}

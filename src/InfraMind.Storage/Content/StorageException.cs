namespace InfraMind.Storage;

/// <summary>Stable error codes of content storage (IM42xx), documented in docs/errors.md. Never renumber.</summary>
public static class StorageErrorCodes
{
    /// <summary>A content reference or push target is malformed.</summary>
    public static readonly ErrorCode InvalidReference = new("IM4201", FailureKind.Usage,
        "`infra pull --help` lists the reference forms, `infra push --help` the destinations");

    /// <summary>The reference is valid but cannot be used for this operation (push to a digest, plain http off loopback…).</summary>
    public static readonly ErrorCode UnsupportedReference = new("IM4202", FailureKind.Usage,
        "`infra pull --help` lists the reference forms, `infra push --help` the destinations");

    /// <summary>The peer (registry, HTTP server, IPFS node) could not be reached or stopped answering.</summary>
    public static readonly ErrorCode PeerUnavailable = new("IM4203", FailureKind.Unavailable,
        "check that the server at that address runs and is reachable, then retry");

    /// <summary>The peer answered with an error status.</summary>
    public static readonly ErrorCode PeerRejected = new("IM4204", FailureKind.Unavailable);

    /// <summary>The peer asked for credentials, or refused the ones given.</summary>
    public static readonly ErrorCode AuthenticationFailed = new("IM4205", FailureKind.Unavailable);

    /// <summary>The peer does not have the manifest, blob or file asked for.</summary>
    public static readonly ErrorCode NotFound = new("IM4206", FailureKind.CheckFailed,
        "check the reference (repository, tag, digest or path) and that the content was pushed there");

    /// <summary>The image is not in the local content store.</summary>
    public static readonly ErrorCode NotInStore = new("IM4207", FailureKind.CheckFailed,
        "push it there with `infra push DIR --to local`, or pull it with `infra pull REFERENCE`");

    /// <summary>No backend for this kind of reference is available in this build.</summary>
    public static readonly ErrorCode BackendUnavailable = new("IM4208", FailureKind.Unavailable,
        "`infra pull --help` lists the reference forms this build reads");

    /// <summary>The manifest is of a kind InfraMind cannot run (schema 1, an index without a linux/amd64 image…).</summary>
    public static readonly ErrorCode UnsupportedManifest = new("IM4209", FailureKind.CheckFailed);

    /// <summary>The local content store's directory cannot be created or written.</summary>
    public static readonly ErrorCode StoreNotWritable = new("IM4210", FailureKind.CheckFailed,
        "the store lives in $INFRAMIND_HOME/store: make it writable for this user, or point INFRAMIND_HOME elsewhere");

    /// <summary>The local content store's index.json is not a readable OCI index (empty, cut short, edited).</summary>
    public static readonly ErrorCode StoreIndexCorrupt = new("IM4211", FailureKind.CheckFailed,
        "`infra doctor --repair` rebuilds the index from the verified blobs (image names are lost; digests stay)");

    /// <summary>A fetch on a publisher's behalf would connect to a loopback, private, link-local or other non-public address.</summary>
    public static readonly ErrorCode DestinationRefused = new("IM4212", FailureKind.CheckFailed,
        "publish content from a public host; a registry operator may allow a network with `infra registry serve --fetch-allow CIDR`");

    /// <summary>A fetch on a publisher's behalf was redirected to another scheme, host or port.</summary>
    public static readonly ErrorCode RedirectRefused = new("IM4213", FailureKind.CheckFailed,
        "name the final location of the content in the reference; content fetched on a publisher's behalf is never fetched from where a redirect points");

    /// <summary>Content is larger than the byte cap of the fetch (per image), by its declaration or while it streamed.</summary>
    public static readonly ErrorCode TooLarge = new("IM4214", FailureKind.CheckFailed,
        "the operator sets the cap with `infra registry serve --max-image-size` or `infra node serve --max-image-size`");

    /// <summary>Credentials were withheld from a token service on another host or port, or over plain http, and it refused to answer without them.</summary>
    public static readonly ErrorCode CredentialsWithheld = new("IM4215", FailureKind.CheckFailed,
        "credentials go only to the registry they are for (INFRAMIND_REGISTRY_HOST, else the host named on the command line) and, off loopback, only over https; use a registry whose token service is on its own host and port");

    /// <summary>Docker's credential configuration could not be used: config.json unreadable, a credential helper missing, failing, slow or answering too much.</summary>
    public static readonly ErrorCode CredentialConfigFailed = new("IM4216", FailureKind.CheckFailed,
        "fix $DOCKER_CONFIG/config.json (default ~/.docker/config.json) or its credential helper, or give INFRAMIND_REGISTRY_USERNAME / INFRAMIND_REGISTRY_PASSWORD, which take precedence");

    /// <summary>A referrers index, a referrer's manifest or the artifact it carries is over its byte cap (<see cref="Registry.OciReferrers"/>).</summary>
    public static readonly ErrorCode ReferrerTooLarge = new("IM4240", FailureKind.CheckFailed,
        "the registry holds something other than what `infra publish` attaches there; remove the oversized referrer (or the sha256-<digest> tag) from the repository");

    /// <summary>An image has more referrers than InfraMind reads or writes in one index.</summary>
    public static readonly ErrorCode TooManyReferrers = new("IM4241", FailureKind.CheckFailed,
        "delete old referrers of the image (or prune its sha256-<digest> tag index) in the registry");

    /// <summary>The image has no referrer of the artifact type asked for (no signature attached).</summary>
    public static readonly ErrorCode NoReferrer = new("IM4242", FailureKind.CheckFailed,
        "attach one with `infra publish` naming this oci:// reference (publishing again is idempotent and attaches it)");

    /// <summary>A referrers index or a referrer's manifest is not what the OCI 1.1 spec says (media type, subject, artifact type, layers).</summary>
    public static readonly ErrorCode ReferrerMalformed = new("IM4243", FailureKind.CheckFailed,
        "the registry or someone with push rights altered it; publish again to attach a fresh referrer");
}

/// <summary>
/// An error a user can hit while storing or fetching content: a typed code (its kind separates "the peer is down or
/// refused", exit 4, from "the content or the reference is wrong"), a message that says where (reference, URL) and how
/// to fix it.
/// </summary>
public class StorageException(ErrorCode code, string message, Exception? innerException = null, string? hint = null)
    : InfraMindException(code, message, hint, innerException)
{
    /// <summary>The error codes of the peer's distribution error document (<c>MANIFEST_BLOB_UNKNOWN</c> …), when it sent one.</summary>
    public IReadOnlyList<string> PeerCodes { get; init; } = [];

    /// <summary>The HTTP status the peer answered, when the error is its answer.</summary>
    public int? PeerStatus { get; init; }
}

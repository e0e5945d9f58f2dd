using InfraMind.Signing;
using Semver;

namespace InfraMind.Registry.Models;

/// <summary>What a publish looks like once its signature verified; handed to <see cref="IPublishAdmission"/>.</summary>
public sealed record PublishCandidate(DsseEnvelope Envelope, PublishStatement Statement, SemVersion Version);

/// <summary>An admission decision; a rejection carries a stable code and a reason the publisher can act on.</summary>
public sealed record AdmissionResult(bool Accepted, ErrorCode? Code, string? Reason)
{
    public static AdmissionResult Accept { get; } = new(true, null, null);

    /// <summary>What the admission fetched to decide, kept only if the publish is logged; null when it fetched nothing.</summary>
    public IAdmittedContent? Content { get; init; }

    public static AdmissionResult Reject(ErrorCode code, string reason) => new(false, code, reason);
}

/// <summary>
/// Content an admission fetched into a throwaway area: <see cref="KeepAsync"/> once the publish is logged, and always
/// disposed (which removes what was not kept), so a refused publish leaves nothing on the registry's host.
/// </summary>
public interface IAdmittedContent : IAsyncDisposable
{
    Task KeepAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Extra checks before an entry is accepted (manifest validation, content resolution). Runs after the signature
/// verified and after ownership and immutability were decided (a publish that would be refused for those never gets
/// here, so it never makes the registry fetch anything); a rejection leaves no trace in the log or on the host.
/// </summary>
public interface IPublishAdmission
{
    Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken);
}

/// <summary>The image one content reference holds, as fetched: its manifest digest and its config's labels.</summary>
public sealed record FetchedImage(string ManifestDigest, IReadOnlyDictionary<string, string> Labels);

/// <summary>
/// How a registry fetches what a publish names, for <see cref="ContentAdmission"/>: provided by whoever can fetch
/// (the CLI, over InfraMind.Storage and its fetch policy).
/// </summary>
public interface IContentFetcher
{
    /// <summary>
    /// Whether this reference may be fetched at all, decided without any I/O (its kind, whether it is content-addressed,
    /// whether it would resolve on this host): a rejection, or null. Its answer must not depend on anything that exists
    /// on this host.
    /// </summary>
    AdmissionResult? Screen(PublishedReference reference);

    /// <summary>Starts a fetch session whose content lands in a throwaway area.</summary>
    IContentFetch Begin();
}

/// <summary>One admission's fetches; disposing removes what was not kept.</summary>
public interface IContentFetch : IAdmittedContent
{
    Task<FetchedImage> FetchAsync(PublishedReference reference, CancellationToken cancellationToken);
}

/// <summary>A logged publish.</summary>
public sealed record RegistryEntry(long Index, DsseEnvelope Envelope, PublishStatement Statement, ReadOnlyMemory<byte> LeafHash, DateTimeOffset IntegratedAt);

/// <summary><see cref="AlreadyPublished"/> is true when the same statement was published before (idempotent republish).</summary>
public sealed record PublishResult(RegistryEntry Entry, bool AlreadyPublished);

public sealed record ModelVersion(string Version, long Index, string ImageDigest, string ManifestDigest, bool IsPrerelease, DateTimeOffset PublishedAt);

/// <summary>All versions of a model, lowest precedence first; <see cref="Latest"/> is the highest release (non-prerelease) version.</summary>
public sealed record ModelVersions(string Name, string OwnerFingerprint, string EndpointId, string? Latest, IReadOnlyList<ModelVersion> Versions);

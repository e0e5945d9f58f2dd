using InfraMind.Signing;
using Semver;

namespace InfraMind.Registry.Models;

/// <summary>What a publish looks like once its signature verified; handed to <see cref="IPublishAdmission"/>.</summary>
public sealed record PublishCandidate(DsseEnvelope Envelope, PublishStatement Statement, SemVersion Version);

/// <summary>An admission decision; a rejection carries a stable code and a reason the publisher can act on.</summary>
public sealed record AdmissionResult(bool Accepted, ErrorCode? Code, string? Reason)
{
    public static AdmissionResult Accept { get; } = new(true, null, null);

    public static AdmissionResult Reject(ErrorCode code, string reason) => new(false, code, reason);
}

/// <summary>
/// Extra checks before an entry is accepted (manifest validation, content resolution). Runs after the signature
/// verified and before ownership and immutability are decided; a rejection leaves no trace in the log.
/// </summary>
public interface IPublishAdmission
{
    Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken);
}

/// <summary>A logged publish.</summary>
public sealed record RegistryEntry(long Index, DsseEnvelope Envelope, PublishStatement Statement, ReadOnlyMemory<byte> LeafHash, DateTimeOffset IntegratedAt);

/// <summary><see cref="AlreadyPublished"/> is true when the same statement was published before (idempotent republish).</summary>
public sealed record PublishResult(RegistryEntry Entry, bool AlreadyPublished);

public sealed record ModelVersion(string Version, long Index, string ImageDigest, string ManifestDigest, bool IsPrerelease, DateTimeOffset PublishedAt);

/// <summary>All versions of a model, lowest precedence first; <see cref="Latest"/> is the highest release (non-prerelease) version.</summary>
public sealed record ModelVersions(string Name, string OwnerFingerprint, string EndpointId, string? Latest, IReadOnlyList<ModelVersion> Versions);

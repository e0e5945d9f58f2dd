using InfraMind.Manifest;
using InfraMind.Signing;

namespace InfraMind.Registry.Models;

/// <summary>
/// A publish must carry the model it describes: the model.yaml bytes (whose sha256 is the manifest digest) and the
/// resolved manifest nodes serve it with, which must validate and name the same model and version.
/// </summary>
public sealed class ManifestAdmission : IPublishAdmission
{
    public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var s = candidate.Statement;
        if (s.Manifest is null || s.ManifestSource is null)
        {
            return Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestMissing,
                "the statement carries no manifest (predicate.manifest and predicate.manifestSource); publish with `infra publish`"));
        }

        var source = ManifestReader.ValidateContent(s.ManifestSource);
        var fileSchemas = source.Errors.All(e => e.Code == ManifestCodes.SchemaFileInvalid);
        if (!source.IsValid && !fileSchemas)
            return Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestInvalid, "model.yaml is invalid: " + string.Join("; ", source.Errors.Take(5))));

        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.FromJson(s.Manifest);
        }
        catch (FormatException e)
        {
            return Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestInvalid, e.Message));
        }

        if (manifest.Name != s.ModelName || manifest.Version.ToString() != s.Version || manifest.ManifestDigest != s.ManifestDigest)
        {
            return Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestMismatch,
                $"the manifest describes {manifest.Name} {manifest.Version} ({manifest.ManifestDigest}) but the statement publishes {s.ModelName} {s.Version} ({s.ManifestDigest})"));
        }

        if (source.Manifest is { } fromSource && (fromSource.Name != manifest.Name || fromSource.Version != manifest.Version || fromSource.Port != manifest.Port))
            return Task.FromResult(AdmissionResult.Reject(RegistryErrorCodes.ManifestMismatch, "the resolved manifest does not match model.yaml"));
        return Task.FromResult(AdmissionResult.Accept);
    }
}

/// <summary>Runs several admission checks in order; the first rejection wins.</summary>
public sealed class AllAdmissions(params IPublishAdmission[] checks) : IPublishAdmission
{
    public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        foreach (var check in checks)
        {
            var result = await check.AdmitAsync(candidate, cancellationToken).ConfigureAwait(false);
            if (!result.Accepted) return result;
        }

        return AdmissionResult.Accept;
    }
}

/// <summary>
/// Before accepting, each content reference must resolve to the stated image digest (fetched and verified by the
/// resolver). The resolver answers the image manifest digest it found, or throws with a reason.
/// </summary>
public sealed class ContentAdmission(Func<PublishedReference, CancellationToken, Task<string>> resolve) : IPublishAdmission
{
    public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        if (candidate.Statement.ContentReferences.Count == 0)
            return AdmissionResult.Reject(RegistryErrorCodes.ContentUnresolved, "the statement names no content reference: nodes would have nothing to pull");
        foreach (var reference in candidate.Statement.ContentReferences)
        {
            string found;
            try
            {
                found = await resolve(reference, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // any failure to fetch is a reason to refuse, reported with its message
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
                return AdmissionResult.Reject(RegistryErrorCodes.ContentUnresolved, $"{reference.Uri} could not be resolved: {e.Message}");
            }

            if (found != candidate.Statement.ImageDigest)
                return AdmissionResult.Reject(RegistryErrorCodes.ContentMismatch, $"{reference.Uri} holds image {found}, not the published {candidate.Statement.ImageDigest}");
        }

        return AdmissionResult.Accept;
    }
}

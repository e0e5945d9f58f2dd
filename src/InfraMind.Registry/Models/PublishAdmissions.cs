using System.Text.Json.Nodes;
using InfraMind.Manifest;
using InfraMind.Signing;

namespace InfraMind.Registry.Models;

/// <summary>
/// A publish must carry the model it describes: the model.yaml bytes (whose sha256 is the manifest digest) and the
/// resolved manifest nodes serve it with. The resolved manifest must be exactly the one model.yaml produces — every
/// field, not only name, version and port — with the schemas the publisher resolved from the package's schema files
/// (checked by the same rules). Runs no I/O.
/// </summary>
public sealed class ManifestAdmission : IPublishAdmission
{
    private static readonly string[] SchemaFields = ["input_schema", "output_schema"];

    public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return Task.FromResult(Admit(candidate.Statement));
    }

    private static AdmissionResult Admit(PublishStatement s)
    {
        // Read once: each read of a statement's manifest parses a tree of its own.
        if (s.Manifest is not { } published || s.ManifestSource is null)
        {
            return AdmissionResult.Reject(RegistryErrorCodes.ManifestMissing,
                "the statement carries no manifest (predicate.manifest and predicate.manifestSource); publish with `infra publish`");
        }

        var schemaFiles = SchemaFields.Where(f => published[f] is JsonObject).ToDictionary(f => f, f => (JsonObject)published[f]!, StringComparer.Ordinal);
        var source = ManifestReader.ValidateWithSchemas(s.ManifestSource, schemaFiles);
        if (!source.IsValid || source.Manifest is not { } produced)
        {
            return AdmissionResult.Reject(RegistryErrorCodes.ManifestInvalid, "model.yaml is invalid: " + string.Join("; ", source.Errors.Take(5)));
        }

        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.FromJson(published);
        }
        catch (FormatException e)
        {
            return AdmissionResult.Reject(RegistryErrorCodes.ManifestInvalid, e.Message);
        }

        if (manifest.Name != s.ModelName || manifest.Version.ToString() != s.Version || manifest.ManifestDigest != s.ManifestDigest)
        {
            return AdmissionResult.Reject(RegistryErrorCodes.ManifestMismatch,
                $"the manifest describes {manifest.Name} {manifest.Version} ({manifest.ManifestDigest}) but the statement publishes {s.ModelName} {s.Version} ({s.ManifestDigest})");
        }

        var expected = produced.ToJson();
        var differing = expected.Select(p => p.Key).Union(published.Select(p => p.Key), StringComparer.Ordinal)
            .Where(k => CanonicalJson.SerializeToString(expected[k]) != CanonicalJson.SerializeToString(published[k]))
            .ToList();
        return differing.Count == 0
            ? AdmissionResult.Accept
            : AdmissionResult.Reject(RegistryErrorCodes.ManifestMismatch,
                $"the published manifest is not the one its model.yaml produces: {string.Join(", ", differing)} differ{(differing.Count == 1 ? "s" : "")}; publish with `infra publish`, which sends both");
    }
}

/// <summary>
/// Runs several admission checks in order; the first rejection wins. What the checks fetched travels with the result,
/// to be kept once the publish is logged (and removed when a later check refuses).
/// </summary>
public sealed class AllAdmissions(params IPublishAdmission[] checks) : IPublishAdmission
{
    public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        var fetched = new List<IAdmittedContent>();
        try
        {
            foreach (var check in checks)
            {
                var result = await check.AdmitAsync(candidate, cancellationToken).ConfigureAwait(false);
                if (result.Content is { } content) fetched.Add(content);
                if (!result.Accepted)
                {
                    await DisposeAllAsync(fetched).ConfigureAwait(false);
                    return result with { Content = null };
                }
            }
        }
        catch
        {
            await DisposeAllAsync(fetched).ConfigureAwait(false);
            throw;
        }

        return fetched.Count switch
        {
            0 => AdmissionResult.Accept,
            1 => AdmissionResult.Accept with { Content = fetched[0] },
            _ => AdmissionResult.Accept with { Content = new Together(fetched) },
        };
    }

    private static async Task DisposeAllAsync(List<IAdmittedContent> fetched)
    {
        foreach (var content in fetched) await content.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Together(List<IAdmittedContent> parts) : IAdmittedContent
    {
        public async Task KeepAsync(CancellationToken cancellationToken)
        {
            foreach (var part in parts) await part.KeepAsync(cancellationToken).ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => new(DisposeAllAsync(parts));
    }
}

/// <summary>
/// Before accepting, every content reference must hold the stated image. Cheap checks first, for all references, before
/// anything is fetched: at least one and at most <paramref name="maxReferences"/> distinct references, each one the
/// fetcher may fetch at all (<see cref="IContentFetcher.Screen"/>). Then each distinct reference is fetched once, into
/// the fetcher's throwaway area, and must give the published image digest; an image whose own
/// <paramref name="manifestDigestLabel"/> label names another manifest than the published one is refused (it was built
/// from another model.yaml). A peer's failure is reported by its code and the fetcher's message, never with the peer's
/// body.
/// </summary>
public sealed class ContentAdmission(IContentFetcher fetcher, int maxReferences, string manifestDigestLabel) : IPublishAdmission
{
    public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var statement = candidate.Statement;
        var references = statement.ContentReferences.DistinctBy(r => r.Uri, StringComparer.Ordinal).ToList();
        if (references.Count == 0)
            return AdmissionResult.Reject(RegistryErrorCodes.ContentUnresolved, "the statement names no content reference: nodes would have nothing to pull");
        if (references.Count > maxReferences)
        {
            return AdmissionResult.Reject(RegistryErrorCodes.TooManyReferences,
                $"the statement names {references.Count} distinct content references; this registry fetches at most {maxReferences} per publish");
        }

        foreach (var reference in references)
        {
            if (fetcher.Screen(reference) is { Accepted: false } refused) return refused;
        }

        var fetch = fetcher.Begin();
        try
        {
            foreach (var reference in references)
            {
                FetchedImage found;
                try
                {
                    found = await fetch.FetchAsync(reference, cancellationToken).ConfigureAwait(false);
                }
                catch (InfraMindException e)
                {
                    await fetch.DisposeAsync().ConfigureAwait(false);
                    return AdmissionResult.Reject(RegistryErrorCodes.ContentUnresolved, $"{reference.Uri} could not be fetched and verified: {e.Code} {e.Message}");
                }

                var refusal = found.ManifestDigest != statement.ImageDigest
                    ? AdmissionResult.Reject(RegistryErrorCodes.ContentMismatch, $"{reference.Uri} holds image {found.ManifestDigest}, not the published {statement.ImageDigest}")
                    : found.Labels.TryGetValue(manifestDigestLabel, out var labelled) && labelled != statement.ManifestDigest
                        ? AdmissionResult.Reject(RegistryErrorCodes.ImageBoundToOtherManifest,
                            $"image {found.ManifestDigest} says it was built from manifest {labelled} ({manifestDigestLabel}), but the statement publishes manifest " +
                            $"{statement.ManifestDigest}; build the image from this model.yaml (`infra build`) and publish that")
                        : null;
                if (refusal is not null)
                {
                    await fetch.DisposeAsync().ConfigureAwait(false);
                    return refusal;
                }
            }
        }
        catch
        {
            await fetch.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return AdmissionResult.Accept with { Content = fetch };
    }
}

/// <summary>
/// At most <paramref name="limit"/> publishes in admission at once, from its first check until what it fetched is kept
/// or removed: each fetch may take up to the policy's image size in the host's staging area, so this bounds that space
/// (limit × the most bytes of one publish's images) and the registry's outbound fetches, however many publishers send.
/// Beyond the limit a publish is refused at once (503 IM5114, Retry-After); it waits in no queue.
/// </summary>
public sealed class BoundedAdmission(IPublishAdmission inner, int limit) : IPublishAdmission
{
    /// <summary>What a refused publisher is told to wait: fetches take seconds.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private int _inFlight;

    public int Limit => limit;

    public async Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _inFlight) > limit)
        {
            Release();
            throw new RegistryException(RegistryErrorCodes.AdmissionsBusy, RegistryErrorKind.Unavailable,
                $"the registry is checking {limit} publishes' content already, as many as it does at once; retry after {RetryAfter.TotalSeconds:0} s.");
        }

        AdmissionResult result;
        try
        {
            result = await inner.AdmitAsync(candidate, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Release();
            throw;
        }

        if (result.Content is null)
        {
            Release();
            return result;
        }

        // The slot lasts as long as what the fetch left in staging: until the registry kept it or let it go.
        return result with { Content = new Releasing(result.Content, Release) };
    }

    private void Release() => Interlocked.Decrement(ref _inFlight);

    private sealed class Releasing(IAdmittedContent inner, Action release) : IAdmittedContent
    {
        private int _released;

        public Task KeepAsync(CancellationToken cancellationToken) => inner.KeepAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            try
            {
                await inner.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Exchange(ref _released, 1) == 0) release();
            }
        }
    }
}

using InfraMind.Containers;
using InfraMind.Serving;
using InfraMind.Oci;
using InfraMind.Registry;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Storage;

namespace InfraMind.Node.Images;

/// <summary>
/// A node's trust chain over any registry backend (<see cref="IVerifiedModelSource"/>: an on-chain registry, or the
/// log): the version behind an assignment must verify now (for a chain: record, statement by digest, signature, the
/// record's signer, not yanked), with the image digest the gateway sent; then the manifest and image are checked and
/// loaded as <see cref="SignedImage"/> does for every source. Anything else is refused.
/// </summary>
public sealed class VerifiedModelImageSource(IVerifiedModelSource source, ContentResolver content, ContainerEngine engine) : IModelImageSource
{
    public async Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        VerifiedModelVersion verified;
        try
        {
            verified = await source.GetVerifiedAsync(model.Name, model.Version, new ExpectedPublish(model.Name, model.Version, ImageDigest: model.ImageDigest), cancellationToken).ConfigureAwait(false);
        }
        catch (InfraMindException e)
        {
            throw new ModelImageException($"{model.Key} does not verify against its registry: {e.Code} {e.Message}", e);
        }

        return await SignedImage.LoadAsync(model, verified.Statement, verified.Origin, content, engine, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask ForgetAsync(ModelAssignment model, CancellationToken cancellationToken) => SignedImage.ForgetAsync(model, content, cancellationToken);
}

/// <summary>What every image source does once a statement verified: the assigned manifest must be the signed one, and the image comes from a signed reference, verified by digest before it is loaded.</summary>
internal static class SignedImage
{
    public static async Task<string> LoadAsync(ModelAssignment model, PublishStatement statement, string origin, ContentResolver content, ContainerEngine engine, CancellationToken cancellationToken)
    {
        if (statement.Manifest is not { } signed || CanonicalJson.SerializeToString(signed) != CanonicalJson.SerializeToString(model.Manifest))
            throw new ModelImageException($"the manifest assigned for {model.Key} is not the one its publisher signed ({origin})");

        var problems = new List<string>();
        foreach (var published in statement.ContentReferences)
        {
            try
            {
                var archive = await content.ResolveAsync(ContentReference.Parse(published.Uri), null, cancellationToken).ConfigureAwait(false);
                if (archive.ManifestDigest.Value != statement.ImageDigest)
                {
                    problems.Add($"{published.Uri} holds {archive.ManifestDigest.Value}, not the signed {statement.ImageDigest}");
                    continue;
                }

                var imageId = archive.ConfigDigest.Value;
                if (!await engine.ImageExistsAsync(imageId, cancellationToken).ConfigureAwait(false))
                {
                    // Nameless: the node runs by id, and names an image only as ImageRetention does.
                    // Streamed into the engine as it is written: a stranger's image is never copied to a temp file.
                    await archive.WithoutNames().ReadTarAsync(engine.LoadImageAsync, cancellationToken).ConfigureAwait(false);
                }

                return imageId;
            }
            catch (Exception e) when (e is StorageException or OciException or ContainerEngineException or IOException or HttpRequestException)
            {
                // With its stable code where it has one (IM4214: over --max-image-size), so the report says what to look up.
                problems.Add(e is InfraMindException coded ? $"{published.Uri}: {coded.Code.Value} {e.Message}" : $"{published.Uri}: {e.Message}");
            }
        }

        throw new ModelImageException($"no content reference of {model.Key} gave the signed image {statement.ImageDigest}: " +
                                      (problems.Count == 0 ? "the statement names none" : string.Join("; ", problems)));
    }

    /// <summary>
    /// Drops the store's copy of a version's image once the node let the image go, when that copy is one: every
    /// reference of the version is remote (ipfs://, oci://, http(s)://). A local:// or file:// reference makes the
    /// store (or a file) the source itself, and a named store entry is its operator's (<see cref="ContentResolver.ForgetAsync"/>).
    /// </summary>
    public static async ValueTask ForgetAsync(ModelAssignment model, ContentResolver content, CancellationToken cancellationToken)
    {
        var remote = model.ContentReferences.Count > 0 &&
                     model.ContentReferences.All(r => ContentReference.TryParse(r, out var parsed, out _) && !parsed.IsHostLocal);
        if (remote && Digest.TryParse(model.ImageDigest, out var digest))
            await content.ForgetAsync(digest, cancellationToken).ConfigureAwait(false);
    }
}

using InfraMind.Containers;
using InfraMind.Serving;
using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Storage;

namespace InfraMind.Node.Images;

/// <summary>
/// The node's trust chain: the registry entry behind an assignment must verify (publisher signature, statement,
/// registry-signed checkpoint, inclusion proof) against the registry key the node pinned; the manifest and image
/// digest the gateway sent must be the signed ones; the image is fetched from a signed content reference and
/// verified by digest (or CID) before it is loaded. Anything else is refused.
/// </summary>
public sealed class VerifiedImageSource(IRegistryService registry, PublicKey registryKey, ContentResolver content, ContainerEngine engine) : IModelImageSource
{
    public async Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.RegistryIndex is not { } index)
            throw new ModelImageException($"{model.Key} has no registry entry: a node runs only published, verifiable models");

        EntryBundle bundle;
        try
        {
            bundle = await registry.GetEntryAsync(index, cancellationToken).ConfigureAwait(false);
        }
        catch (RegistryException e)
        {
            throw new ModelImageException($"registry entry {index} of {model.Key} could not be fetched: {e.Code} {e.Message}", e);
        }

        var report = EntryVerifier.Verify(bundle, registryKey, new ExpectedPublish(model.Name, model.Version, ImageDigest: model.ImageDigest));
        if (!report.AllPassed || report.Statement is not { } statement)
        {
            var failed = report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Code} {c.Reason}");
            throw new ModelImageException($"registry entry {index} of {model.Key} does not verify — {string.Join("; ", failed)}");
        }

        return await SignedImage.LoadAsync(model, statement, $"entry {index}", content, engine, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask ForgetAsync(ModelAssignment model, CancellationToken cancellationToken) => SignedImage.ForgetAsync(model, content, cancellationToken);
}

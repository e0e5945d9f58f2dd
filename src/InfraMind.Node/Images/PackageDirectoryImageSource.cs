using System.Collections.Concurrent;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Serving;

namespace InfraMind.Node.Images;

/// <summary>
/// Builds each model from a local package directory (Dockerfile + model.yaml) with the node's engine: for tests and
/// for a local mesh, where no registry or storage is involved. The image is reused while the context is unchanged.
/// </summary>
public sealed class PackageDirectoryImageSource(ContainerEngine engine, IReadOnlyDictionary<string, string> directoriesByModelKey) : IModelImageSource
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);

    public async Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!directoriesByModelKey.TryGetValue(model.Key, out var directory))
            throw new ModelImageException($"{MeshErrorCodes.ImageUnavailable}: no package directory for {model.Key} on this node; add it to the node's package map.");
        var context = ImageIdentity.ContextDigest(directory);
        // The context digest in the tag: two packages of one model version (e.g. a tampered one) never share a tag.
        var tag = $"{model.Name}:{model.Version.Replace('+', '_')}-{context["sha256:".Length..][..12]}";
        var labels = new Dictionary<string, string>
        {
            [ImageIdentity.ContextDigestLabel] = context,
            [ImageIdentity.ModelLabel] = $"{model.Name}@{model.Version}",
        };
        var gate = _locks.GetOrAdd(tag, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var existing = await engine.FindImagesAsync(labels, cancellationToken);
            if (existing.Any(i => i.Tags.Contains(tag))) return tag;
            try
            {
                await engine.BuildImageAsync(directory, tag, labels, null, cancellationToken);
            }
            catch (ContainerEngineException e) when (e is not EngineUnavailableException)
            {
                throw new ModelImageException($"{MeshErrorCodes.ImageUnavailable}: building {directory} failed: {e.Message}", e);
            }

            return tag;
        }
        finally
        {
            gate.Release();
        }
    }
}

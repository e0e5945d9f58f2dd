using InfraMind.Serving;

namespace InfraMind.Node.Images;

/// <summary>
/// Makes the image of a published model present in the node's engine, verified against what was published (image
/// digest, content references, registry entry), and returns the reference to run. The storage and trust layers
/// implement it; a node runs nothing this did not return.
/// </summary>
public interface IModelImageSource
{
    /// <exception cref="ModelImageException">when the image cannot be fetched or does not verify.</exception>
    Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken);

    /// <summary>
    /// The node no longer runs <paramref name="stopped"/> (their containers are gone); called in the background after
    /// each reconcile that stopped versions, one call after another, and after the first reconcile with none. A source
    /// that keeps images (<see cref="ImageRetention"/>) may let theirs go.
    /// </summary>
    ValueTask ReleaseAsync(IReadOnlyCollection<ModelAssignment> stopped, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// The node let go of the image it ran <paramref name="model"/> from (<see cref="ImageRetention"/>: the engine no
    /// longer has it): a source that keeps a copy of what it fetched (the content store) may drop that copy too.
    /// </summary>
    ValueTask ForgetAsync(ModelAssignment model, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>The image of a model could not be made present or did not verify (IM6011; the node reports verdict image-unavailable).</summary>
public sealed class ModelImageException(string message, Exception? inner = null)
    : InfraMindException(MeshErrorCodes.ImageUnavailable, message, null, inner);

using InfraMind.Manifest;
using InfraMind.Serving;
using Semver;

namespace InfraMind.Gateway.Catalog;

/// <summary>
/// A model version as published (signed and logged): what the gateway serves and hands to nodes. The registry
/// implements the catalog.
/// </summary>
/// <param name="Manifest">
/// The resolved manifest, validated and typed by the catalog (through <see cref="ManifestCache"/>: once per content),
/// with the JSON its publisher signed.
/// </param>
public sealed record PublishedModel(
    string Name,
    SemVersion Version,
    PublishedManifest Manifest,
    string ImageDigest,
    IReadOnlyList<string> ContentReferences,
    long? RegistryIndex);

/// <summary>The published models the gateway must serve.</summary>
public interface IModelCatalog
{
    /// <summary>Every published model version now (the gateway also polls this).</summary>
    Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken);

    /// <summary>Raised when the set changed, so the gateway need not wait for its next poll. May never be raised.</summary>
    event EventHandler? Changed;
}

/// <summary>A catalog held in memory, of versions published without a registry: for tests, benchmarks and embedding.</summary>
public sealed class InMemoryModelCatalog : IModelCatalog
{
    private readonly object _gate = new();
    private List<PublishedModel> _models = [];

    public event EventHandler? Changed;

    public Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return Task.FromResult<IReadOnlyList<PublishedModel>>(_models);
    }

    public void Publish(PublishedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (_gate)
        {
            _models = [.. _models.Where(m => !(m.Name == model.Name && m.Version == model.Version)), model];
        }

        Changed?.Invoke(this, EventArgs.Empty);
    }

    /// <summary>Publishes a validated manifest with a local image reference (no storage involved).</summary>
    public PublishedModel Publish(ModelManifest manifest, string imageDigest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var model = new PublishedModel(manifest.Name, manifest.Version, ManifestCache.Shared.Get(manifest), imageDigest, [], null);
        Publish(model);
        return model;
    }

    public void Withdraw(string name, SemVersion version)
    {
        lock (_gate) _models = [.. _models.Where(m => !(m.Name == name && m.Version == version))];
        Changed?.Invoke(this, EventArgs.Empty);
    }
}

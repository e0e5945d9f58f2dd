namespace InfraMind.Gateway.Catalog;

/// <summary>
/// Loads the catalog into the mesh, at start and on every refresh: the catalog's versions, newest first per name. Their
/// manifests come validated and typed: nothing is parsed here. A catalog that hands back the very list it handed last
/// time has not changed (<see cref="IModelCatalog.GetModelsAsync"/>), and the mesh is left as it is: no sort, no index,
/// nothing under the mesh's lock, however many versions the registry holds.
/// </summary>
internal sealed class CatalogLoader(IModelCatalog catalog, MeshState mesh)
{
    private IReadOnlyList<PublishedModel>? _loaded;

    /// <summary>How many times the mesh was given a new set of versions.</summary>
    public int Loads { get; private set; }

    /// <summary>Reads the catalog; true when the mesh was given a new set of versions. Not called concurrently.</summary>
    public async Task<bool> LoadAsync(CancellationToken cancellationToken)
    {
        var published = await catalog.GetModelsAsync(cancellationToken).ConfigureAwait(false);
        if (ReferenceEquals(published, _loaded)) return false;
        mesh.SetModels([.. published.OrderBy(p => p.Name, StringComparer.Ordinal).ThenByDescending(p => p.Version, Semver.SemVersion.PrecedenceComparer)
            .Select(p => new ServedModel(p))]);
        _loaded = published;
        Loads++;
        return true;
    }
}

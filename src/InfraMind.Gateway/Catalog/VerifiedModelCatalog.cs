using InfraMind.Registry;
using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway.Catalog;

/// <summary>
/// The catalog of any registry backend behind <see cref="IVerifiedModelSource"/> (the log, or the chain's follower):
/// every servable version (statement verified by the source; not yanked) whose manifest is that version's becomes a
/// served model. A version the source no longer lists (yanked, or its block replaced) leaves the catalog with it, so
/// the gateway stops serving it.
/// Each version is made a served model once, when the source first lists it, and kept while the source lists it: a
/// refresh re-reads the source's list, not every manifest (however many versions, whatever the size of
/// <see cref="ManifestCache"/>). A refresh that finds the versions unchanged answers the very list it answered last
/// time, which tells the gateway that there is nothing to do (<see cref="CatalogLoader"/>).
/// </summary>
public sealed class VerifiedModelCatalog : IModelCatalog
{
    private readonly IVerifiedModelSource _source;
    private readonly ILogger? _log;
    private readonly ManifestCache _manifests;
    private readonly object _gate = new();
    private Dictionary<Listing, PublishedModel?> _made = [];
    private IReadOnlyList<VerifiedModelVersion>? _read;
    private Listing[] _listed = [];
    private IReadOnlyList<PublishedModel> _models = [];

    public VerifiedModelCatalog(IVerifiedModelSource source, ILogger? log = null)
        : this(source, log, ManifestCache.Shared)
    {
    }

    internal VerifiedModelCatalog(IVerifiedModelSource source, ILogger? log, ManifestCache manifests)
    {
        _source = source;
        _log = log;
        _manifests = manifests;
    }

    public event EventHandler? Changed;

    /// <summary>
    /// A version as its source lists it. The origin names the record that holds its statement (a log entry, a
    /// transaction in a block), which the source verified and which cannot hold another statement: the same listing is
    /// the same statement, so what was made of it once stands.
    /// </summary>
    private readonly record struct Listing(string Name, string Version, string Origin)
    {
        public static Listing Of(VerifiedModelVersion v) => new(v.Name, v.Version, v.Origin);
    }

    public async Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken)
    {
        var versions = await _source.GetServableAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (ReferenceEquals(versions, _read)) return _models;
            var listed = new Listing[versions.Count];
            var made = new Dictionary<Listing, PublishedModel?>(versions.Count);
            var models = new List<PublishedModel>(versions.Count);
            for (var i = 0; i < versions.Count; i++)
            {
                var v = versions[i];
                var key = listed[i] = Listing.Of(v);
                if (!_made.TryGetValue(key, out var model))
                {
                    model = PublishedModels.From(v.Statement, v.LogIndex, v.Origin, _manifests, out var problem);
                    // Logged once: a version that is not served stays listed (it is what the source holds) and is not made again.
                    if (model is null) _log?.LogWarning("{Name} {Version} ({Origin}) is not served: {Problem}", v.Name, v.Version, v.Origin, problem);
                }

                made[key] = model;
                if (model is not null) models.Add(model);
            }

            _made = made;
            _read = versions;
            if (!Lists(versions, _listed))
            {
                _listed = listed;
                _models = models;
            }

            return _models;
        }
    }

    /// <summary>
    /// Brings the source up to date every <paramref name="interval"/> (for a chain: one sync of its follower) and
    /// raises <see cref="Changed"/> as soon as the servable versions differ from those last served, so a publish (or a
    /// yank) takes effect at once. A source that does not answer is logged and asked again next time.
    /// </summary>
    public async Task WatchAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var now = await _source.GetServableAsync(cancellationToken).ConfigureAwait(false);
                    if (Differs(now)) Changed?.Invoke(this, EventArgs.Empty);
                }
                catch (InfraMindException e)
                {
                    _log?.LogWarning("registry poll failed: {Code} {Reason}", e.Code, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Whether <paramref name="versions"/> are not those last served: the same list is not; else compared listing by listing.</summary>
    private bool Differs(IReadOnlyList<VerifiedModelVersion> versions)
    {
        lock (_gate)
            return !ReferenceEquals(versions, _read) && !Lists(versions, _listed);
    }

    /// <summary>Whether <paramref name="versions"/> are, in order, exactly <paramref name="listed"/>: the one comparison of a source's listing with what was served.</summary>
    private static bool Lists(IReadOnlyList<VerifiedModelVersion> versions, Listing[] listed)
    {
        if (versions.Count != listed.Length) return false;
        for (var i = 0; i < listed.Length; i++)
        {
            if (Listing.Of(versions[i]) != listed[i]) return false;
        }

        return true;
    }
}

/// <summary>How a verified statement becomes a served model version: the one rule for every catalog.</summary>
internal static class PublishedModels
{
    /// <summary>
    /// The version <paramref name="statement"/> publishes, its manifest validated; null (with why) when the statement
    /// carries no manifest of that same name, version and digest: what a node would refuse is not served either.
    /// </summary>
    public static PublishedModel? From(PublishStatement statement, long? registryIndex, string origin, ManifestCache manifests, out string? problem)
    {
        if (statement.Manifest is not { } json)
        {
            problem = "the statement carries no manifest";
            return null;
        }

        if (!SemVersion.TryParse(statement.Version, SemVersionStyles.Strict, out var version))
        {
            problem = $"version '{statement.Version}' is not SemVer 2.0";
            return null;
        }

        PublishedManifest manifest;
        try
        {
            manifest = manifests.Get(json);
        }
        catch (FormatException e)
        {
            problem = $"{origin}: the published manifest is invalid: {e.Message}";
            return null;
        }

        var m = manifest.Manifest;
        if (m.Name != statement.ModelName || m.Version != version || m.ManifestDigest != statement.ManifestDigest)
        {
            problem = "the manifest is not the one of the version the statement publishes";
            return null;
        }

        problem = null;
        return new PublishedModel(statement.ModelName, version, manifest, statement.ImageDigest, [.. statement.ContentReferences.Select(r => r.Uri)], registryIndex);
    }
}

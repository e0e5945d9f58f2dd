using InfraMind.Registry;
using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway.Catalog;

/// <summary>
/// The catalog of any registry backend behind <see cref="IVerifiedModelSource"/> (the chain's follower, or the log):
/// every servable version (statement verified by the source; not yanked) whose manifest is that version's becomes a
/// served model. A version the source no longer lists (yanked, or its block replaced) leaves the catalog with it, so
/// the gateway stops serving it.
/// </summary>
public sealed class VerifiedModelCatalog : IModelCatalog
{
    private readonly IVerifiedModelSource _source;
    private readonly ILogger? _log;
    private readonly ManifestCache _manifests;
    private readonly HashSet<string> _refused = new(StringComparer.Ordinal);
    private string? _served;

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

    public async Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken)
    {
        var versions = await _source.GetServableAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _served, Fingerprint(versions));
        var models = new List<PublishedModel>(versions.Count);
        foreach (var v in versions)
        {
            if (PublishedModels.From(v.Statement, v.LogIndex, v.Origin, _manifests, out var problem) is { } model)
            {
                models.Add(model);
            }
            else
            {
                lock (_refused)
                {
                    if (_refused.Add($"{v.Name}@{v.Version} {v.Origin}")) _log?.LogWarning("{Name} {Version} ({Origin}) is not served: {Problem}", v.Name, v.Version, v.Origin, problem);
                }
            }
        }

        return models;
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
                    var now = Fingerprint(await _source.GetServableAsync(cancellationToken).ConfigureAwait(false));
                    if (now != Volatile.Read(ref _served)) Changed?.Invoke(this, EventArgs.Empty);
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

    private static string Fingerprint(IReadOnlyList<VerifiedModelVersion> versions) =>
        string.Join('\n', versions.Select(v => $"{v.Name}@{v.Version} {v.Origin}"));
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

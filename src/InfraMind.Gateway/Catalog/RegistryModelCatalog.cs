using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway.Catalog;

/// <summary>
/// The catalog of a registry: every log entry that verifies (signature, checkpoint, inclusion, against the pinned
/// registry key) and carries a valid manifest of the model and version it publishes becomes a served model version.
/// Reads the log incrementally: each entry is verified and its manifest parsed once, when it is first read.
/// </summary>
public sealed class RegistryModelCatalog : IModelCatalog, IDisposable
{
    private readonly IRegistryService _registry;
    private readonly PublicKey _registryKey;
    private readonly ILogger? _log;
    private readonly ManifestCache _manifests;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<PublishedModel> _models = [];
    private long _next;

    public RegistryModelCatalog(IRegistryService registry, PublicKey registryKey, ILogger? log = null)
        : this(registry, registryKey, log, ManifestCache.Shared)
    {
    }

    /// <param name="manifests">Where manifests are parsed, once per content: the process's, shared with its nodes.</param>
    internal RegistryModelCatalog(IRegistryService registry, PublicKey registryKey, ILogger? log, ManifestCache manifests)
    {
        _registry = registry;
        _registryKey = registryKey;
        _log = log;
        _manifests = manifests;
    }

    public event EventHandler? Changed;

    public void Dispose() => _gate.Dispose();

    public async Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CatchUpAsync(cancellationToken).ConfigureAwait(false);
            return [.. _models];
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Polls the log size and raises <see cref="Changed"/> as soon as it grew, so a publish is served at once.</summary>
    public async Task WatchAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var (size, _) = await _registry.ListEntriesAsync(Volatile.Read(ref _next), 1, cancellationToken).ConfigureAwait(false);
                    if (size > Volatile.Read(ref _next)) Changed?.Invoke(this, EventArgs.Empty);
                }
                catch (RegistryException e)
                {
                    _log?.LogWarning("registry poll failed: {Code} {Reason}", e.Code, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var (_, entries) = await _registry.ListEntriesAsync(_next, 100, cancellationToken).ConfigureAwait(false);
            if (entries.Count == 0) return;
            foreach (var entry in entries)
            {
                var bundle = await _registry.GetEntryAsync(entry.Index, cancellationToken).ConfigureAwait(false);
                if (Served(entry.Index, bundle) is { } model)
                {
                    _models.RemoveAll(m => m.Name == model.Name && m.Version == model.Version);
                    _models.Add(model);
                }
                else
                {
                    _log?.LogWarning("registry entry {Index} ({Name} {Version}) is not served: it does not verify or carries no valid manifest",
                        entry.Index, entry.Name, entry.Version);
                }

                _next = entry.Index + 1;
            }
        }
    }

    /// <summary>The version an entry publishes, its manifest validated; null when it does not verify or its manifest is not that version's.</summary>
    private PublishedModel? Served(long index, EntryBundle bundle)
    {
        var report = EntryVerifier.Verify(bundle, _registryKey);
        if (!report.AllPassed || report.Statement is not { } statement) return null;
        var model = PublishedModels.From(statement, index, $"registry entry {index}", _manifests, out var problem);
        if (model is null) _log?.LogWarning("registry entry {Index}: {Problem}", index, problem);
        return model;
    }
}

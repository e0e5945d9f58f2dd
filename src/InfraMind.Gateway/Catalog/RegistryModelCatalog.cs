using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;
using Semver;

namespace InfraMind.Gateway.Catalog;

/// <summary>
/// The catalog of a registry: every log entry that verifies (signature, checkpoint, inclusion, against the pinned
/// registry key) and carries its manifest becomes a served model version. Reads the log incrementally.
/// </summary>
public sealed class RegistryModelCatalog(IRegistryService registry, PublicKey registryKey, ILogger? log = null) : IModelCatalog, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<PublishedModel> _models = [];
    private long _next;

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
                    var (size, _) = await registry.ListEntriesAsync(Volatile.Read(ref _next), 1, cancellationToken).ConfigureAwait(false);
                    if (size > Volatile.Read(ref _next)) Changed?.Invoke(this, EventArgs.Empty);
                }
                catch (RegistryException e)
                {
                    log?.LogWarning("registry poll failed: {Code} {Reason}", e.Code, e.Message);
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
            var (_, entries) = await registry.ListEntriesAsync(_next, 100, cancellationToken).ConfigureAwait(false);
            if (entries.Count == 0) return;
            foreach (var entry in entries)
            {
                var bundle = await registry.GetEntryAsync(entry.Index, cancellationToken).ConfigureAwait(false);
                var report = EntryVerifier.Verify(bundle, registryKey);
                if (!report.AllPassed || report.Statement is not { Manifest: { } manifest } statement ||
                    !SemVersion.TryParse(statement.Version, SemVersionStyles.Strict, out var version))
                {
                    log?.LogWarning("registry entry {Index} ({Name} {Version}) is not served: it does not verify or carries no manifest",
                        entry.Index, entry.Name, entry.Version);
                }
                else
                {
                    _models.RemoveAll(m => m.Name == statement.ModelName && m.Version == version);
                    _models.Add(new PublishedModel(statement.ModelName, version, manifest, statement.ImageDigest,
                        [.. statement.ContentReferences.Select(r => r.Uri)], entry.Index));
                }

                _next = entry.Index + 1;
            }
        }
    }
}

using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Http;

/// <summary>
/// What publishers, verifiers and the mesh need of a registry, whether it is opened in this process (the embedded
/// default, <see cref="LocalRegistryService"/>) or reached over HTTP (<see cref="RegistryClient"/>).
/// </summary>
public interface IRegistryService
{
    Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken);

    Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken);

    Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken);

    Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken);

    Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The embedded registry (SQLite under the InfraMind home) behind <see cref="IRegistryService"/>. A log file found
/// damaged while it is read answers <see cref="RegistryErrorCodes.LogCorrupt"/>, as a damaged file found on open does.
/// </summary>
public sealed class LocalRegistryService(ModelRegistry registry) : IRegistryService
{
    public ModelRegistry Registry { get; } = registry;

    public Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => Reading(async () =>
    {
        var result = await Registry.PublishAsync(envelope, cancellationToken).ConfigureAwait(false);
        return new PublishResponse(await GetEntryAsync(result.Entry.Index, cancellationToken).ConfigureAwait(false), result.AlreadyPublished);
    });

    public Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) =>
        Reading(() => Registry.GetModelVersionAsync(name, version, cancellationToken));

    public Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) => Reading(async () =>
        await Registry.GetEntryBundleAsync(index, cancellationToken).ConfigureAwait(false)
        ?? throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, $"log entry {index} does not exist."));

    public Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken) => Reading(async () =>
    {
        var entries = await Registry.ListEntriesAsync(start, limit, cancellationToken).ConfigureAwait(false);
        return (await Registry.GetSizeAsync(cancellationToken).ConfigureAwait(false), (IReadOnlyList<LogEntrySummary>)entries.Select(LogEntrySummary.From).ToList());
    });

    private static async Task<T> Reading<T>(Func<Task<T>> read)
    {
        try
        {
            return await read().ConfigureAwait(false);
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (RegistryException.FromDamagedFile(e, "the registry's log") is { } damaged)
        {
            throw damaged;
        }
    }

    public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => Task.FromResult(Registry.PublicKey);
}

using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Gateway.Catalog;
using InfraMind.Node.Images;
using InfraMind.Registry;
using InfraMind.Registry.Chain;
using InfraMind.Registry.Http;
using InfraMind.Signing;
using InfraMind.Storage;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// What `infra mesh up`, `gateway serve` and `node serve` serve from, whichever backend: the gateway's catalog and its
/// watch loop, the image source nodes verify through, and what it is for messages. Either the log (a registry service
/// and the key pinned for it) or an eth:// registry, followed by a <see cref="ChainIndexer"/> whose progress persists
/// under $INFRAMIND_HOME/chain, so a restart resumes.
/// </summary>
internal sealed class ServedRegistry : IAsyncDisposable
{
    private static readonly TimeSpan PublicChainPoll = TimeSpan.FromSeconds(2);
    private readonly Func<TimeSpan, CancellationToken, Task> _watch;
    private readonly Func<ContentResolver, ContainerEngine, IModelImageSource> _images;
    private readonly FetchPolicy _fetches;
    private readonly Func<ValueTask> _dispose;

    private ServedRegistry(IModelCatalog catalog, Func<TimeSpan, CancellationToken, Task> watch, Func<ContentResolver, ContainerEngine, IModelImageSource> images,
        string location, string trust, PublicKey? registryKey, FetchPolicy fetches, Func<ValueTask> dispose)
    {
        _fetches = fetches;
        Catalog = catalog;
        _watch = watch;
        _images = images;
        Location = location;
        Trust = trust;
        RegistryKey = registryKey;
        _dispose = dispose;
    }

    public IModelCatalog Catalog { get; }

    /// <summary>The registry's URL or data directory, for messages and --json.</summary>
    public string Location { get; }

    /// <summary>What verification is anchored in, for messages: the pinned registry key, or the chain and its confirmation depth.</summary>
    public string Trust { get; }

    /// <summary>The pinned key of a log registry; null on a chain (records are checked against the contract).</summary>
    public PublicKey? RegistryKey { get; }

    /// <summary>`--statement-store` and (where a command follows the chain) `--confirmations` of the serving commands, for eth:// registries.</summary>
    public sealed record ChainOptions(Option<string?> StatementStore, Option<int?>? Confirmations)
    {
        /// <summary>For a command that follows the chain (a gateway): both options.</summary>
        public static ChainOptions Following() => new(ChainAccess.StatementStoreOption(), ChainAccess.ConfirmationsOption());

        /// <summary>For a node: it verifies each assignment against the chain and follows nothing.</summary>
        public static ChainOptions Verifying() => new(ChainAccess.StatementStoreOption(), null);

        /// <summary>Adds the options to <paramref name="command"/>, after its own.</summary>
        public void AddTo(Command command)
        {
            command.Options.Add(StatementStore);
            if (Confirmations is not null) command.Options.Add(Confirmations);
        }

        public int? ConfirmationsOf(ParseResult parse) => Confirmations is null ? null : parse.GetValue(Confirmations);
    }

    /// <summary>Keeps the catalog current until cancelled: polls the log, or syncs the chain's follower, every <paramref name="interval"/>.</summary>
    public Task WatchAsync(TimeSpan interval, CancellationToken cancellationToken) => _watch(interval, cancellationToken);

    /// <summary>
    /// The image source a node of this registry verifies every assignment through; it fetches what statements name
    /// on their publishers' behalf, under the fetch policy this registry was opened with.
    /// </summary>
    public IModelImageSource Images(CliContext context, ContainerEngine engine) => _images(ContentAccess.ForPublishers(context, _fetches), engine);

    public ValueTask DisposeAsync() => _dispose();

    /// <summary>
    /// The registry `--registry` names (or the default log), as a serving command with <paramref name="role"/> (gateway,
    /// node-ID) serves it. The registry of this home (a running `infra mesh up`) admits what this machine's user
    /// publishes, so its content may be host-local; any other registry's publishers are strangers, whose content is
    /// fetched under <paramref name="strangers"/>.
    /// </summary>
    public static async Task<ServedRegistry> OpenAsync(CliContext context, ParseResult parse, Option<string?> registryUrl, Option<string?> registryKey, ChainOptions chain,
        string role, FetchPolicy strangers, CancellationToken cancellationToken)
    {
        var url = parse.GetValue(registryUrl);
        if (ChainAccess.IsChain(url))
        {
            if (parse.GetValue(registryKey) is not null)
                throw new InfraMindException(CliErrorCodes.UsageError, "--registry-key is for log registries: an eth:// registry's records are checked against the contract", "leave --registry-key out");
            return await ChainAsync(context, url!, parse.GetValue(chain.StatementStore), chain.ConfirmationsOf(parse), chain.Confirmations is null ? null : role, strangers, cancellationToken);
        }

        if (parse.GetValue(chain.StatementStore) is not null || chain.ConfirmationsOf(parse) is not null)
            throw new InfraMindException(CliErrorCodes.UsageError, "--statement-store and --confirmations apply to eth:// registries only", "pass --registry eth://HOST:PORT/0xCONTRACT, or leave them out");
        var handle = await RegistryAccess.OpenAsync(context, url, null, cancellationToken);
        try
        {
            var (key, trusted) = await RegistryAccess.TrustAsync(context, handle, parse.GetValue(registryKey), cancellationToken);
            return Log(trusted, key, handle.Location, handle.OfThisHome ? ContentAccess.EmbeddedPolicy(context) : strangers, handle);
        }
        catch
        {
            await handle.DisposeAsync();
            throw;
        }
    }

    /// <summary>A log registry: entries verified against <paramref name="key"/> (signature, checkpoint, inclusion).</summary>
    public static ServedRegistry Log(IRegistryService service, PublicKey key, string location, FetchPolicy fetches, IAsyncDisposable? owned = null)
    {
        var source = new LogModelSource(service, key);
        var catalog = new VerifiedModelCatalog(source);
        return new ServedRegistry(catalog, catalog.WatchAsync, (content, engine) => new VerifiedImageSource(service, key, content, engine), location,
            $"registry key {key.Fingerprint}", key, fetches, async () =>
            {
                source.Dispose();
                if (owned is not null) await owned.DisposeAsync();
            });
    }

    /// <summary>
    /// An eth:// registry: its follower (state in its own directory per <paramref name="role"/>; none for a node, null
    /// role) gives the catalog the confirmed, verified, not yanked versions; nodes verify each assignment against the chain itself.
    /// </summary>
    public static async Task<ServedRegistry> ChainAsync(CliContext context, string url, string? statementStore, int? confirmations, string? role, FetchPolicy fetches,
        CancellationToken cancellationToken)
    {
        var registry = await ChainAccess.ConnectAsync(context, url, statementStore, cancellationToken);
        try
        {
            var indexer = role is null ? null : ChainIndexer.Open(registry, ChainAccess.IndexDirectory(context.Home, registry, role), new ChainIndexerOptions { Confirmations = confirmations });
            var source = new ChainModelSource(registry, indexer);
            var catalog = new VerifiedModelCatalog(source);
            // Each poll is a few JSON-RPC calls: a dev chain answers them at the serving commands' pace; a public node
            // (a block every ~12 s, rate limits per client) is asked every 2 s at most.
            var dev = ChainIndexerOptions.IsDevChain(registry.ChainId);
            return new ServedRegistry(catalog, (interval, ct) => catalog.WatchAsync(dev ? interval : TimeSpan.FromTicks(Math.Max(interval.Ticks, PublicChainPoll.Ticks)), ct),
                (content, engine) => new VerifiedModelImageSource(source, content, engine), registry.Address.ToString(),
                indexer is null ? $"chain {registry.ChainId}" : $"chain {registry.ChainId}, {indexer.Confirmations} confirmation(s), following from block {indexer.IndexedBlock + 1}", null, fetches, () =>
                {
                    indexer?.Dispose();
                    registry.Dispose();
                    return ValueTask.CompletedTask;
                });
        }
        catch
        {
            registry.Dispose();
            throw;
        }
    }
}

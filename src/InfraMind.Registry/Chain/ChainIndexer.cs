using InfraMind.Signing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Registry.Chain;

/// <summary>How the follower reads the chain.</summary>
public sealed record ChainIndexerOptions
{
    /// <summary>The first block to read; default: the block the registry was deployed in.</summary>
    public long? StartBlock { get; init; }

    /// <summary>Blocks a publish must be buried under before it is served; default 0 on dev chains (ids 1337, 31337), 12 elsewhere.</summary>
    public int? Confirmations { get; init; }

    /// <summary>Blocks per eth_getLogs request (public nodes cap the range).</summary>
    public int BlocksPerQuery { get; init; } = 2000;

    /// <summary>
    /// eth_getLogs ranges read per sync at most (default 50: 100,000 blocks): a sync ends, and what it read is served,
    /// in bounded time however far the head is (a long catch-up, or a node that claims a head far ahead); the next sync
    /// goes on from there.
    /// </summary>
    public int RangesPerSync { get; init; } = 50;

    /// <summary>Statements fetched and verified per sync at most (new ones first, then retries of unreachable ones).</summary>
    public int VerificationsPerSync { get; init; } = 64;

    public static bool IsDevChain(long chainId) => chainId is 1337 or 31337;
}

/// <summary>A version the follower indexed: its chain record and whether its statement verified. Only <see cref="Servable"/> ones run.</summary>
public sealed record ChainIndexedVersion(ChainVersionRecord Record, bool Verified, string? ProblemCode, string? Problem, PublishStatement? Statement, string? YankReason)
{
    public bool Servable => Verified && !Record.Yanked && Statement is not null;
}

/// <summary>What one sync did.</summary>
public sealed record ChainSyncResult(long Head, long IndexedBlock, int Added, int Removed, int Verified, int Unverified, bool Reorganised);

/// <summary>
/// Follows a registry's events for the mesh: from a start block, behind a confirmation depth, with its progress and
/// the indexed versions kept in <c>chain-index.sqlite</c> under a directory (a restart resumes where it stopped). A
/// reorganisation (the last indexed block's hash changed) rolls back to the newest block whose hash still matches:
/// an entry whose block was replaced disappears and comes back only if re-included. Every published statement is
/// fetched, digest-checked and verified (<see cref="ChainVerifier"/>); one that cannot be fetched stays unverified
/// (retried on later syncs) and is never servable.
/// </summary>
public sealed class ChainIndexer : IDisposable
{
    private readonly ChainModelRegistry _registry;
    private readonly ChainIndexStore _store;
    private readonly ChainIndexerOptions _options;
    private readonly ILogger? _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IReadOnlyList<ChainIndexedVersion> _versions = [];
    private Dictionary<Authenticated, PublishStatement> _authentic = [];
    private long _verifications;

    private ChainIndexer(ChainModelRegistry registry, ChainIndexStore store, ChainIndexerOptions options, ILogger? log)
    {
        _registry = registry;
        _store = store;
        _options = options;
        _log = log;
        Confirmations = options.Confirmations ?? (ChainIndexerOptions.IsDevChain(registry.ChainId) ? 0 : 12);
        StartBlock = options.StartBlock ?? registry.DeployedAt;
        Reload();
    }

    public int Confirmations { get; }

    public long StartBlock { get; }

    /// <summary>The last block indexed (confirmed), or <see cref="StartBlock"/> - 1 before the first.</summary>
    public long IndexedBlock => _store.Progress()?.Number ?? StartBlock - 1;

    /// <summary>Raised after a sync that changed the versions (added, removed, verified, yanked).</summary>
    public event EventHandler? Changed;

    /// <summary>How many statements this follower verified (signature and record): fetched ones, and those read back from its state at start.</summary>
    internal long Verifications => Interlocked.Read(ref _verifications);

    /// <summary>
    /// A statement verified against its chain record in this process: the record (every field, the statement's digest
    /// among them), its signer and its transaction. The same bytes read back from the state (their digest checked
    /// against the record) verify the same way, so they are not verified again on every reload.
    /// </summary>
    private readonly record struct Authenticated(ChainPublishRecord Record, string Publisher, string Transaction)
    {
        public static Authenticated Of(ChainVersionRecord record) => new(record.Record, record.Publisher, record.TransactionHash);
    }

    /// <summary>Every indexed version, in chain order, verified or not.</summary>
    public IReadOnlyList<ChainIndexedVersion> Versions => Volatile.Read(ref _versions);

    /// <summary>The versions to serve: verified and not yanked.</summary>
    public IReadOnlyList<ChainIndexedVersion> Servable => [.. Versions.Where(v => v.Servable)];

    /// <summary>Each name's current owner address (first publisher, then transfers).</summary>
    public IReadOnlyDictionary<string, string> Owners => _store.Owners();

    /// <summary>Opens (or creates) the follower's state under <paramref name="directory"/>; it must belong to this registry (<see cref="ChainErrorCodes.IndexStateInvalid"/>).</summary>
    public static ChainIndexer Open(ChainModelRegistry registry, string directory, ChainIndexerOptions? options = null, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return new ChainIndexer(registry, ChainIndexStore.Open(directory, registry.ChainId, registry.Address.Contract), options ?? new ChainIndexerOptions(), log);
    }

    public void Dispose()
    {
        _store.Dispose();
        _gate.Dispose();
    }

    /// <summary>Syncs every <paramref name="interval"/> until cancelled; a node that does not answer is logged and tried again.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                await SyncAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChainException ex) when (ex.Kind == FailureKind.Unavailable)
            {
                _log?.LogWarning("chain follower: {Code} {Message}", ex.Code, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>One round: detect a reorganisation, read confirmed events up to head - confirmations, verify new statements.</summary>
    public async Task<ChainSyncResult> SyncAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var rpc = _registry.Rpc;
            var head = await rpc.BlockNumberAsync(cancellationToken).ConfigureAwait(false);
            var (removed, reorganised) = await RollBackForkAsync(head, cancellationToken).ConfigureAwait(false);
            var target = head - Confirmations;
            var added = 0;
            var others = 0;
            var ranges = 0;
            for (var from = IndexedBlock + 1; from <= target && ranges < Math.Max(1, _options.RangesPerSync); ranges++)
            {
                var to = Math.Min(target, from + Math.Max(1, _options.BlocksPerQuery) - 1);
                var before = await rpc.BlockAsync(to, cancellationToken).ConfigureAwait(false);
                var events = await _registry.GetEventsAsync(from, to, cancellationToken).ConfigureAwait(false);
                var blocks = events.Select(e => (e.BlockNumber, e.BlockHash)).Distinct().ToList();
                // The range is consistent only if nothing moved while it was read: the end block and every block an
                // event came from still have the hashes seen. Otherwise stop here; the next sync sees the new fork.
                var after = await rpc.BlockAsync(to, cancellationToken).ConfigureAwait(false);
                if (before is null || after is null || before.Value.Hash != after.Value.Hash || !await StillCanonicalAsync(blocks, cancellationToken).ConfigureAwait(false))
                {
                    break;
                }

                _store.Commit(to, after.Value.Hash, blocks, events);
                added += events.Count(e => e is ChainEvent.Published);
                others += events.Count(e => e is not ChainEvent.Published);
                from = to + 1;
            }

            var (verified, unverified) = await VerifyPendingAsync(cancellationToken).ConfigureAwait(false);
            // A yank or transfer alone changes what is servable too: reload for every event, not only publishes.
            if (added + others + removed + verified + unverified > 0 || reorganised)
            {
                Reload();
                Changed?.Invoke(this, EventArgs.Empty);
            }

            return new ChainSyncResult(head, IndexedBlock, added, removed, verified, unverified, reorganised);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(int Removed, bool Reorganised)> RollBackForkAsync(long head, CancellationToken cancellationToken)
    {
        if (_store.Progress() is not { } progress)
        {
            return (0, false);
        }

        var current = progress.Number <= head ? await _registry.Rpc.BlockAsync(progress.Number, cancellationToken).ConfigureAwait(false) : null;
        if (current?.Hash == progress.Hash)
        {
            return (0, false);
        }

        // The chain changed at or below our progress: the newest stored block whose hash still matches is the fork point
        // (every block above it descends from a replaced one, since each block commits to its parent's hash).
        long ancestor = StartBlock - 1;
        string? ancestorHash = null;
        foreach (var (number, hash) in _store.KnownBlocks(Math.Min(progress.Number, head)))
        {
            if ((await _registry.Rpc.BlockAsync(number, cancellationToken).ConfigureAwait(false))?.Hash == hash)
            {
                (ancestor, ancestorHash) = (number, hash);
                break;
            }
        }

        var removed = _store.RollBack(ancestor, ancestorHash);
        _log?.LogWarning("chain follower: block {Block} was replaced; rolled back to block {Ancestor}, {Removed} versions removed until re-included", progress.Number, ancestor, removed);
        return (removed, true);
    }

    private async Task<bool> StillCanonicalAsync(IEnumerable<(long Number, string Hash)> blocks, CancellationToken cancellationToken)
    {
        foreach (var (number, hash) in blocks)
        {
            if ((await _registry.Rpc.BlockAsync(number, cancellationToken).ConfigureAwait(false))?.Hash != hash)
            {
                return false;
            }
        }

        return true;
    }

    private async Task<(int Verified, int Unverified)> VerifyPendingAsync(CancellationToken cancellationToken)
    {
        var verified = 0;
        var unverified = 0;
        var retryable = ChainErrorCodes.StatementUnavailable.Value;
        var pending = _store.Publishes($"p.status = '{ChainIndexStore.Pending}' OR (p.status = '{ChainIndexStore.Unverified}' AND p.problem_code = '{retryable}')", _options.VerificationsPerSync);
        foreach (var (publish, _) in pending)
        {
            var record = publish.Record;
            try
            {
                var bytes = await _registry.Statements.FetchAsync(record.Record.StatementUri, record.Record.StatementDigest, cancellationToken).ConfigureAwait(false);
                var result = ChainVerifier.Verify(record, bytes, null);
                Interlocked.Increment(ref _verifications);
                var failed = result.Checks.FirstOrDefault(c => !c.Passed && c.Name != ChainVerifier.YankedCheck);
                if (failed is null)
                {
                    _store.SetVerification(record.Name, record.Version, ChainIndexStore.Verified, null, null, bytes);
                    if (result.Statement is { } statement) _authentic[Authenticated.Of(record)] = statement;
                    verified++;
                }
                else
                {
                    _store.SetVerification(record.Name, record.Version, ChainIndexStore.Unverified, failed.Code?.Value, $"{failed.Name}: {failed.Reason}", null);
                    unverified++;
                }
            }
            catch (ChainException ex) when (ex.Code != ChainErrorCodes.RpcUnavailable)
            {
                var wasRetry = publish.Status == ChainIndexStore.Unverified && publish.ProblemCode == ex.Code.Value;
                _store.SetVerification(record.Name, record.Version, ChainIndexStore.Unverified, ex.Code.Value, ex.Message, null);
                unverified += wasRetry ? 0 : 1;
                _log?.LogWarning("chain follower: {Name}@{Version} is not served: {Code} {Message}", record.Name, record.Version, ex.Code, ex.Message);
            }
        }

        return (verified, unverified);
    }

    private void Reload()
    {
        var list = new List<ChainIndexedVersion>();
        var authentic = new Dictionary<Authenticated, PublishStatement>();
        foreach (var (publish, yank) in _store.Publishes())
        {
            PublishStatement? statement = null;
            if (publish.Status == ChainIndexStore.Verified && publish.Statement is { } bytes && ChainPublishRecord.DigestOf(bytes) == publish.Record.Record.StatementDigest)
            {
                // Verified before it was stored; verified again when first read back (at start): nothing on disk is
                // trusted unchecked. Bytes of this digest this process verified already, for this very record, are not
                // verified again: a sync that adds one version costs one verification, not one per version on the chain.
                var key = Authenticated.Of(publish.Record);
                if (_authentic.TryGetValue(key, out var known))
                {
                    statement = known;
                }
                else
                {
                    var check = ChainVerifier.Verify(publish.Record, bytes, null);
                    Interlocked.Increment(ref _verifications);
                    if (check.Authentic)
                    {
                        statement = check.Statement;
                    }
                }

                if (statement is not null) authentic[key] = statement;
            }

            list.Add(new ChainIndexedVersion(publish.Record, statement is not null, publish.ProblemCode, publish.Problem, statement, yank));
        }

        _authentic = authentic;
        Volatile.Write(ref _versions, list);
    }
}

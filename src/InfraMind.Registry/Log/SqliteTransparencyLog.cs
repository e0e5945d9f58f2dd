using System.Globalization;
using System.Threading.Channels;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Merkle;
using InfraMind.Signing;
using Microsoft.Data.Sqlite;

namespace InfraMind.Registry.Log;

/// <summary>
/// RFC 6962 log in SQLite (WAL, synchronous=FULL). One writer loop drains a channel and commits every waiting append
/// in one transaction (group commit): leaves and the perfect-subtree node rows they complete. The in-memory tree is
/// rebuilt from committed leaf rows on open, so a crash at any point leaves exactly the committed prefix.
/// </summary>
internal sealed class SqliteTransparencyLog : ITransparencyLedger
{
    private readonly string _path;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SigningKey _key;
    private readonly string _origin;
    private readonly TimeProvider _time;
    private readonly SqliteLogOptions _options;
    private readonly MerkleTree _tree;
    private readonly Lock _treeLock = new();
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _checkpointGate = new(1, 1);
    private readonly SqliteCommand _insertLeaf;
    private readonly SqliteCommand _insertNode;
    private readonly FileStream _ownerLock;
    private long _committed;
    private long _transactions;
    private SignedCheckpoint? _latest;
    private Task _writerLoop = Task.CompletedTask;
    private int _disposed;

    private SqliteTransparencyLog(string path, string connectionString, SqliteConnection writer, FileStream ownerLock, SigningKey key, string origin, TimeProvider time, SqliteLogOptions options, MerkleTree tree, SignedCheckpoint? latest)
    {
        _path = path;
        _ownerLock = ownerLock;
        _connectionString = connectionString;
        _writer = writer;
        _key = key;
        _origin = origin;
        _time = time;
        _options = options;
        _tree = tree;
        _committed = tree.Size;
        _latest = latest;

        _insertLeaf = writer.CreateCommand();
        _insertLeaf.CommandText = "INSERT INTO log_leaves(idx, leaf_hash, data, integrated_at) VALUES ($idx, $hash, $data, $at)";
        _insertLeaf.Parameters.Add("$idx", SqliteType.Integer);
        _insertLeaf.Parameters.Add("$hash", SqliteType.Blob);
        _insertLeaf.Parameters.Add("$data", SqliteType.Blob);
        _insertLeaf.Parameters.Add("$at", SqliteType.Integer);
        _insertNode = writer.CreateCommand();
        _insertNode.CommandText = "INSERT INTO log_nodes(level, idx, hash) VALUES ($level, $idx, $hash)";
        _insertNode.Parameters.Add("$level", SqliteType.Integer);
        _insertNode.Parameters.Add("$idx", SqliteType.Integer);
        _insertNode.Parameters.Add("$hash", SqliteType.Blob);
    }

    public string Origin => _origin;

    public string DatabasePath => _path;

    /// <summary>Committed append transactions so far: fewer than appends means group commit is working.</summary>
    internal long Transactions => Interlocked.Read(ref _transactions);

    internal static async Task<SqliteTransparencyLog> OpenAsync(string path, SigningKey key, TimeProvider time, SqliteLogOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(time);
        if (options.MaxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatch must be at least 1");
        }

        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var cs = new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();

        // The in-memory tree assumes one writer process; .NET takes an exclusive flock for FileShare.None, which the
        // kernel drops when the process dies, so a crash never leaves a stale lock behind.
        FileStream ownerLock;
        try
        {
            ownerLock = new FileStream(full + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new RegistryException(RegistryErrorCodes.LogInUse, RegistryErrorKind.Unavailable, $"{full} is in use by another registry process; stop it first or use another data directory.", ex);
        }

        var writer = new SqliteConnection(cs);
        try
        {
            await writer.OpenAsync(cancellationToken).ConfigureAwait(false);
            SqliteLogFile.Execute(writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
            SqliteLogFile.Execute(writer, SqliteLogFile.Schema);

            var origin = Checkpoint.OriginFor(key.PublicKey);
            var stored = SqliteLogFile.Scalar(writer, "SELECT value FROM log_meta WHERE key = 'origin'");
            if (stored is null)
            {
                SqliteLogFile.Execute(writer, "INSERT INTO log_meta(key, value) VALUES ('origin', $v)", ("$v", origin));
            }
            else if (stored != origin)
            {
                throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{full} belongs to '{stored}' but the registry key is {key.PublicKey.Fingerprint}; restore the registry key that created this log or use another data directory.");
            }

            var tree = SqliteLogFile.LoadTree(writer, full, cancellationToken);
            var latest = SqliteLogFile.LoadLatestCheckpoint(writer, full, key.PublicKey, tree);
            var log = new SqliteTransparencyLog(full, cs, writer, ownerLock, key, origin, time, options, tree, latest);
            // A dedicated thread: on a busy thread pool the writer must not queue behind the publishers it serves.
            log._writerLoop = Task.Factory.StartNew(log.WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return log;
        }
        catch
        {
            await writer.DisposeAsync().ConfigureAwait(false);
            await ownerLock.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<LedgerEntry> AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        AppendAsync(data, null, cancellationToken);

    /// <summary>
    /// Appends and runs <paramref name="rows"/> inside the same transaction, with the entry's index, so rows derived
    /// from an entry (the registry's name index) commit atomically with it. It must not fail for valid input: a
    /// failure fails every append of the batch.
    /// </summary>
    internal Task<LedgerEntry> AppendAsync(ReadOnlyMemory<byte> data, Action<SqliteConnection, SqliteTransaction, long>? rows, CancellationToken cancellationToken)
    {
        if (data.IsEmpty)
        {
            throw new ArgumentException("an entry cannot be empty", nameof(data));
        }

        var pending = new PendingAppend(data.ToArray(), rows, new TaskCompletionSource<LedgerEntry>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw Closed();
        }

        return pending.Completion.Task.WaitAsync(cancellationToken);
    }

    private void WriteLoop()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>(Math.Min(_options.MaxBatch, 4096));
        while (true)
        {
            if (!reader.TryPeek(out _))
            {
                // Blocking is deliberate: this thread exists only to wait for and commit appends.
                var more = reader.WaitToReadAsync();
                if (!(more.IsCompleted ? more.Result : more.AsTask().GetAwaiter().GetResult()))
                {
                    return;
                }
            }

            batch.Clear();
            while (batch.Count < _options.MaxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                CommitBatch(batch);
            }
        }
    }

    private void CommitBatch(List<PendingAppend> batch)
    {
        var leafHashes = new byte[batch.Count][];
        for (var i = 0; i < batch.Count; i++)
        {
            leafHashes[i] = MerkleHash.Leaf(batch[i].Data);
        }

        var nodes = new List<(int Level, long Index, byte[] Hash)>();
        long baseSize;
        lock (_treeLock)
        {
            baseSize = _tree.Size;
            foreach (var h in leafHashes)
            {
                _tree.Append(h, nodes);
            }
        }

        var integratedAt = _time.GetUtcNow();
        try
        {
            using var tx = _writer.BeginTransaction();
            _insertLeaf.Transaction = tx;
            _insertNode.Transaction = tx;
            for (var i = 0; i < batch.Count; i++)
            {
                _insertLeaf.Parameters[0].Value = baseSize + i;
                _insertLeaf.Parameters[1].Value = leafHashes[i];
                _insertLeaf.Parameters[2].Value = batch[i].Data;
                _insertLeaf.Parameters[3].Value = integratedAt.ToUnixTimeMilliseconds();
                _insertLeaf.ExecuteNonQuery();
                batch[i].Rows?.Invoke(_writer, tx, baseSize + i);
            }

            foreach (var (level, index, hash) in nodes)
            {
                _insertNode.Parameters[0].Value = level;
                _insertNode.Parameters[1].Value = index;
                _insertNode.Parameters[2].Value = hash;
                _insertNode.ExecuteNonQuery();
            }

            tx.Commit();
        }
        catch (Exception ex)
        {
            // Whatever failed, the waiting publishers must hear about it; a dead writer loop would hang them all.
            lock (_treeLock)
            {
                _tree.Truncate(baseSize);
            }

            var error = new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Unavailable, $"{_path}: append was not committed: {ex.Message}", ex);
            foreach (var p in batch)
            {
                p.Completion.TrySetException(error);
            }

            return;
        }

        lock (_treeLock)
        {
            _committed = baseSize + batch.Count;
        }

        Interlocked.Increment(ref _transactions);

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(new LedgerEntry(baseSize + i, batch[i].Data, leafHashes[i], integratedAt));
        }
    }

    public async Task<LedgerEntry?> GetEntryAsync(long index, CancellationToken cancellationToken)
    {
        var list = await GetEntriesAsync(index, 1, cancellationToken).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    public async Task<IReadOnlyList<LedgerEntry>> GetEntriesAsync(long start, int limit, CancellationToken cancellationToken)
    {
        var committed = Volatile.Read(ref _committed);
        if (start < 0 || limit <= 0 || start >= committed)
        {
            return [];
        }

        var end = Math.Min(committed, start + limit);
        var result = new List<LedgerEntry>((int)(end - start));
        using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT idx, leaf_hash, data, integrated_at FROM log_leaves WHERE idx >= $start AND idx < $end ORDER BY idx";
        cmd.Parameters.AddWithValue("$start", start);
        cmd.Parameters.AddWithValue("$end", end);
        using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var idx = reader.GetInt64(0);
            var storedHash = (byte[])reader.GetValue(1);
            var data = (byte[])reader.GetValue(2);
            byte[] treeHash;
            lock (_treeLock)
            {
                treeHash = _tree.LeafHash(idx).ToArray();
            }

            // Re-hash on every read: a leaf edited in the file must never be served as if it were logged.
            var actual = MerkleHash.Leaf(data);
            if (!actual.AsSpan().SequenceEqual(storedHash) || !actual.AsSpan().SequenceEqual(treeHash))
            {
                throw new RegistryException(RegistryErrorCodes.LeafMismatch, RegistryErrorKind.Corrupt, string.Create(CultureInfo.InvariantCulture, $"{_path}: entry {idx} was altered: its data no longer hashes to the leaf hash committed in the tree"));
            }

            result.Add(new LedgerEntry(idx, data, actual, DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }

        if (result.Count != end - start)
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{_path}: committed entries {start}..{end - 1} are missing from the file.");
        }

        return result;
    }

    public Task<long> GetSizeAsync(CancellationToken cancellationToken) => Task.FromResult(Volatile.Read(ref _committed));

    public Task<ReadOnlyMemory<byte>> GetRootAsync(long size, CancellationToken cancellationToken)
    {
        lock (_treeLock)
        {
            CheckSize(size);
            return Task.FromResult<ReadOnlyMemory<byte>>(_tree.Root(size));
        }
    }

    public Task<InclusionProof> GetInclusionProofAsync(long index, long treeSize, CancellationToken cancellationToken)
    {
        lock (_treeLock)
        {
            CheckSize(treeSize);
            if (index < 0 || index >= treeSize)
            {
                throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, $"entry {index} is not in a tree of size {treeSize}.");
            }

            return Task.FromResult(_tree.InclusionProof(index, treeSize));
        }
    }

    public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken)
    {
        lock (_treeLock)
        {
            CheckSize(toSize);
            if (fromSize < 0 || fromSize > toSize)
            {
                throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, $"consistency needs 0 ≤ from ≤ to; got from={fromSize}, to={toSize}.");
            }

            return Task.FromResult(_tree.ConsistencyProof(fromSize, toSize));
        }
    }

    public async Task<SignedCheckpoint> GetCheckpointAsync(CancellationToken cancellationToken)
    {
        await _checkpointGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long size;
            byte[] root;
            lock (_treeLock)
            {
                size = _committed;
                root = _tree.Root(size);
            }

            if (_latest is { } latest && latest.Checkpoint.Size == size)
            {
                return latest;
            }

            var signed = CheckpointNote.Sign(new Checkpoint(_origin, size, root), _key);
            using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
            SqliteLogFile.Execute(connection, "INSERT OR REPLACE INTO log_checkpoints(size, note) VALUES ($s, $n)", ("$s", size), ("$n", signed.Note));
            _latest = signed;
            return signed;
        }
        finally
        {
            _checkpointGate.Release();
        }
    }

    /// <summary>Full check of the file against itself: every leaf's data, every stored node row, the latest checkpoint.</summary>
    internal async Task<IReadOnlyList<string>> VerifyIntegrityAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var size = Volatile.Read(ref _committed);
        using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT idx, data FROM log_leaves WHERE idx < $n ORDER BY idx";
            cmd.Parameters.AddWithValue("$n", size);
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var idx = reader.GetInt64(0);
                var hash = MerkleHash.Leaf((byte[])reader.GetValue(1));
                lock (_treeLock)
                {
                    if (!_tree.LeafHash(idx).SequenceEqual(hash))
                    {
                        problems.Add($"{RegistryErrorCodes.LeafMismatch}: entry {idx} data does not hash to its committed leaf hash");
                    }
                }
            }
        }

        using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT level, idx, hash FROM log_nodes";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var level = reader.GetInt32(0);
                var idx = reader.GetInt64(1);
                if ((idx + 1) << level > size)
                {
                    continue;
                }

                lock (_treeLock)
                {
                    if (!_tree.NodeAt(level, idx).SequenceEqual((byte[])reader.GetValue(2)))
                    {
                        problems.Add($"{RegistryErrorCodes.LogCorrupt}: node ({level}, {idx}) differs from the hash of its leaves");
                    }
                }
            }
        }

        return problems;
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw Closed();
        }

        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private void CheckSize(long size)
    {
        if (size < 0 || size > _committed)
        {
            throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, $"tree size {size} is not available: the log has {_committed} entries.");
        }
    }

    private RegistryException Closed() => new(RegistryErrorCodes.LogClosed, RegistryErrorKind.Unavailable, $"the log {_path} is closed.");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        await _writerLoop.ConfigureAwait(false);
        _insertLeaf.Dispose();
        _insertNode.Dispose();
        SqliteConnection.ClearPool(_writer);
        await _writer.DisposeAsync().ConfigureAwait(false);
        await _ownerLock.DisposeAsync().ConfigureAwait(false);
        _checkpointGate.Dispose();
    }

    private sealed record PendingAppend(byte[] Data, Action<SqliteConnection, SqliteTransaction, long>? Rows, TaskCompletionSource<LedgerEntry> Completion);
}

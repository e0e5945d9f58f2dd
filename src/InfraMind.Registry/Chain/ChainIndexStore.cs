using System.Globalization;
using Microsoft.Data.Sqlite;

namespace InfraMind.Registry.Chain;

/// <summary>One indexed registry event's effect, as stored; every row carries its block so a reorganisation removes it.</summary>
internal sealed record IndexedPublish(ChainVersionRecord Record, string Status, string? ProblemCode, string? Problem, byte[]? Statement, int Attempts);

/// <summary>
/// The follower's state in <c>chain-index.sqlite</c>: which registry it follows, how far (block number and hash), the
/// hashes of blocks that hold indexed events (to find where a reorganisation forked), and the events' effects: publishes
/// (with the verified statement), yanks, transfers. WAL, synchronous=FULL: progress and rows commit together.
/// </summary>
internal sealed class ChainIndexStore : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS blocks(number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS publishes(name TEXT NOT NULL, version TEXT NOT NULL, block INTEGER NOT NULL, block_hash TEXT NOT NULL, tx TEXT NOT NULL,
            log_index INTEGER NOT NULL, publisher TEXT NOT NULL, manifest TEXT NOT NULL, image TEXT NOT NULL, endpoint TEXT NOT NULL, statement_digest TEXT NOT NULL,
            statement_uri TEXT NOT NULL, deadline INTEGER NOT NULL, timestamp INTEGER NOT NULL, status TEXT NOT NULL, problem_code TEXT, problem TEXT,
            statement BLOB, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(name, version));
        CREATE INDEX IF NOT EXISTS publishes_block ON publishes(block);
        CREATE TABLE IF NOT EXISTS yanks(name TEXT NOT NULL, version TEXT NOT NULL, block INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY(name, version));
        CREATE TABLE IF NOT EXISTS transfers(block INTEGER NOT NULL, log_index INTEGER NOT NULL, name TEXT NOT NULL, from_owner TEXT NOT NULL, to_owner TEXT NOT NULL, PRIMARY KEY(block, log_index));
        """;

    public const string Pending = "pending";
    public const string Verified = "verified";
    public const string Unverified = "unverified";

    private readonly SqliteConnection _db;

    private ChainIndexStore(SqliteConnection db) => _db = db;

    public static ChainIndexStore Open(string directory, long chainId, string contract)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "chain-index.sqlite");
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        try
        {
            db.Open();
            Execute(db, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " + Schema);
            var store = new ChainIndexStore(db);
            var registry = string.Create(CultureInfo.InvariantCulture, $"{chainId}/{contract.ToLowerInvariant()}");
            var known = store.Meta("registry");
            if (known is null)
            {
                store.SetMeta("registry", registry);
            }
            else if (known != registry)
            {
                throw new ChainException(ChainErrorCodes.IndexStateInvalid, $"{path} indexes registry {known} (chain/contract), not {registry}.");
            }

            return store;
        }
        catch (SqliteException ex)
        {
            db.Dispose();
            throw new ChainException(ChainErrorCodes.IndexStateInvalid, $"{path} cannot be opened as the chain index: {ex.Message}", null, ex);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    public void Dispose() => _db.Dispose();

    public string? Meta(string key)
    {
        using var cmd = Command("SELECT value FROM meta WHERE key = $k", ("$k", key));
        return cmd.ExecuteScalar() as string;
    }

    private void SetMeta(string key, string value, SqliteTransaction? tx = null)
    {
        using var cmd = Command("INSERT OR REPLACE INTO meta(key, value) VALUES ($k, $v)", ("$k", key), ("$v", value));
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    /// <summary>The last indexed block (number and hash), or null before the first sync.</summary>
    public (long Number, string Hash)? Progress()
    {
        var value = Meta("progress");
        if (value is null)
        {
            return null;
        }

        var parts = value.Split(' ');
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), parts[1]);
    }

    /// <summary>Stored block hashes at or below <paramref name="atOrBelow"/>, newest first (where a fork is searched).</summary>
    public IReadOnlyList<(long Number, string Hash)> KnownBlocks(long atOrBelow)
    {
        using var cmd = Command("SELECT number, hash FROM blocks WHERE number <= $n ORDER BY number DESC", ("$n", atOrBelow));
        using var r = cmd.ExecuteReader();
        var list = new List<(long, string)>();
        while (r.Read())
        {
            list.Add((r.GetInt64(0), r.GetString(1)));
        }

        return list;
    }

    /// <summary>Removes everything from blocks after <paramref name="ancestor"/> and moves progress back to it; returns the publishes removed.</summary>
    public int RollBack(long ancestor, string? ancestorHash)
    {
        using var tx = _db.BeginTransaction();
        var removed = 0;
        foreach (var table in new[] { "publishes", "yanks", "transfers", "blocks" })
        {
            using var cmd = Command($"DELETE FROM {table} WHERE {(table == "blocks" ? "number" : "block")} > $b", ("$b", ancestor));
            cmd.Transaction = tx;
            var n = cmd.ExecuteNonQuery();
            removed += table == "publishes" ? n : 0;
        }

        if (ancestorHash is null)
        {
            using var cmd = Command("DELETE FROM meta WHERE key = 'progress'");
            cmd.Transaction = tx;
            cmd.ExecuteNonQuery();
        }
        else
        {
            SetMeta("progress", string.Create(CultureInfo.InvariantCulture, $"{ancestor} {ancestorHash}"), tx);
        }

        tx.Commit();
        return removed;
    }

    /// <summary>Commits one range's events and the new progress together.</summary>
    public void Commit(long toBlock, string toHash, IEnumerable<(long Number, string Hash)> eventBlocks, IEnumerable<ChainEvent> events)
    {
        using var tx = _db.BeginTransaction();
        foreach (var (number, hash) in eventBlocks.Append((toBlock, toHash)))
        {
            Run(tx, "INSERT OR REPLACE INTO blocks(number, hash) VALUES ($n, $h)", ("$n", number), ("$h", hash));
        }

        foreach (var e in events)
        {
            switch (e)
            {
                case ChainEvent.Published p:
                    var r = p.Record;
                    Run(tx, """
                        INSERT OR IGNORE INTO publishes(name, version, block, block_hash, tx, log_index, publisher, manifest, image, endpoint, statement_digest, statement_uri, deadline, timestamp, status)
                        VALUES ($n, $v, $b, $bh, $tx, $li, $p, $m, $i, $e, $sd, $su, $d, $t, $s)
                        """,
                        ("$n", r.Name), ("$v", r.Version), ("$b", r.BlockNumber), ("$bh", r.BlockHash), ("$tx", r.TransactionHash), ("$li", r.LogIndex), ("$p", r.Publisher),
                        ("$m", r.Record.ManifestDigest), ("$i", r.Record.ImageDigest), ("$e", r.Record.EndpointId), ("$sd", r.Record.StatementDigest), ("$su", r.Record.StatementUri),
                        ("$d", (long)Math.Min(r.Record.Deadline, long.MaxValue)), ("$t", r.Timestamp.ToUnixTimeSeconds()), ("$s", Pending));
                    break;
                case ChainEvent.Yanked y:
                    Run(tx, "INSERT OR IGNORE INTO yanks(name, version, block, reason) VALUES ($n, $v, $b, $r)", ("$n", y.Name), ("$v", y.Version), ("$b", y.BlockNumber), ("$r", y.Reason));
                    break;
                case ChainEvent.Transferred t:
                    Run(tx, "INSERT OR IGNORE INTO transfers(block, log_index, name, from_owner, to_owner) VALUES ($b, $l, $n, $f, $t)",
                        ("$b", t.BlockNumber), ("$l", t.LogIndex), ("$n", t.Name), ("$f", t.From), ("$t", t.To));
                    break;
            }
        }

        SetMeta("progress", string.Create(CultureInfo.InvariantCulture, $"{toBlock} {toHash}"), tx);
        tx.Commit();
    }

    public void SetVerification(string name, string version, string status, string? code, string? problem, byte[]? statement)
    {
        using var cmd = Command("UPDATE publishes SET status = $s, problem_code = $c, problem = $p, statement = $st, attempts = attempts + 1 WHERE name = $n AND version = $v",
            ("$s", status), ("$c", code), ("$p", problem), ("$st", statement), ("$n", name), ("$v", version));
        cmd.ExecuteNonQuery();
    }

    /// <summary>Every indexed publish with its yank (if any), in chain order.</summary>
    public IReadOnlyList<(IndexedPublish Publish, string? YankReason)> Publishes(string? where = null, int? limit = null)
    {
        var sql = "SELECT p.name, p.version, p.block, p.block_hash, p.tx, p.log_index, p.publisher, p.manifest, p.image, p.endpoint, p.statement_digest, p.statement_uri, p.deadline, " +
                  "p.timestamp, p.status, p.problem_code, p.problem, p.statement, p.attempts, y.reason FROM publishes p LEFT JOIN yanks y ON y.name = p.name AND y.version = p.version" +
                  (where is null ? "" : " WHERE " + where) + " ORDER BY " + (where is null ? "p.block, p.log_index" : "p.attempts, p.block") +
                  (limit is { } l ? string.Create(CultureInfo.InvariantCulture, $" LIMIT {l}") : "");
        using var cmd = Command(sql);
        using var r = cmd.ExecuteReader();
        var list = new List<(IndexedPublish, string?)>();
        while (r.Read())
        {
            var yank = r.IsDBNull(19) ? null : r.GetString(19);
            var record = new ChainVersionRecord(
                new ChainPublishRecord(r.GetString(0), r.GetString(1), r.GetString(7), r.GetString(8), r.GetString(9), r.GetString(10), r.GetString(11), (ulong)r.GetInt64(12)),
                r.GetString(6), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetInt64(5), DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(13)), yank is not null);
            list.Add((new IndexedPublish(record, r.GetString(14), r.IsDBNull(15) ? null : r.GetString(15), r.IsDBNull(16) ? null : r.GetString(16),
                r.IsDBNull(17) ? null : (byte[])r[17], r.GetInt32(18)), yank));
        }

        return list;
    }

    /// <summary>Each name's current owner: its first publisher, then the last transfer's recipient.</summary>
    public IReadOnlyDictionary<string, string> Owners()
    {
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var sql in new[]
        {
            "SELECT name, publisher FROM publishes p WHERE NOT EXISTS (SELECT 1 FROM publishes q WHERE q.name = p.name AND (q.block < p.block OR (q.block = p.block AND q.log_index < p.log_index)))",
            "SELECT name, to_owner FROM transfers ORDER BY block, log_index",
        })
        {
            using var cmd = Command(sql);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                owners[r.GetString(0)] = r.GetString(1);
            }
        }

        return owners;
    }

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return cmd;
    }

    private void Run(SqliteTransaction tx, string sql, params (string Name, object? Value)[] parameters)
    {
        using var cmd = Command(sql, parameters);
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    private static void Execute(SqliteConnection db, SqliteTransaction? tx, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }
}

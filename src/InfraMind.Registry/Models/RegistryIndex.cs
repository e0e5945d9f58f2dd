using System.Globalization;
using InfraMind.Signing;
using Microsoft.Data.Sqlite;
using Semver;

namespace InfraMind.Registry.Models;

/// <summary>
/// Name/version index. With the SQLite log it lives in the log's file and its rows commit in the same transaction
/// as the leaf they describe. It is derived data all the same: log entries beyond the index (tables dropped, or a
/// ledger that cannot share a transaction) are replayed on open.
/// Every read takes the ledger's size (<c>below</c>) and answers only for entries under it: with the SQLite log a row
/// commits with its leaf, a moment before the log counts that leaf (what readers may read and checkpoints cover), so a
/// row at or beyond the size is a publish still completing, not yet an entry anyone can read.
/// </summary>
internal sealed class RegistryIndex : IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS models(name TEXT PRIMARY KEY, owner_fingerprint TEXT NOT NULL, owner_key TEXT NOT NULL, endpoint_id TEXT NOT NULL, first_index INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS versions(name TEXT NOT NULL, version TEXT NOT NULL, precedence_key TEXT NOT NULL, log_index INTEGER NOT NULL UNIQUE,
            statement_sha256 TEXT NOT NULL, image_digest TEXT NOT NULL, manifest_digest TEXT NOT NULL, prerelease INTEGER NOT NULL, published_at TEXT NOT NULL,
            PRIMARY KEY(name, version), UNIQUE(name, precedence_key));
        """;

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();

    private RegistryIndex(SqliteConnection connection) => _connection = connection;

    public static RegistryIndex Open(string path)
    {
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        var connection = new SqliteConnection(cs);
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " + Schema;
        cmd.ExecuteNonQuery();
        return new RegistryIndex(connection);
    }

    public long MaxIndex()
    {
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT COALESCE(MAX(log_index), -1) FROM versions";
            return (long)cmd.ExecuteScalar()!;
        }
    }

    public (string Fingerprint, string EndpointId)? Owner(string name, long below)
    {
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT owner_fingerprint, endpoint_id FROM models WHERE name = $n AND first_index < $b";
            cmd.Parameters.AddWithValue("$n", name);
            cmd.Parameters.AddWithValue("$b", below);
            using var r = cmd.ExecuteReader();
            return r.Read() ? (r.GetString(0), r.GetString(1)) : null;
        }
    }

    /// <summary>The version of <paramref name="name"/> with the same SemVer precedence (build metadata ignored), if any.</summary>
    public (ModelVersion Version, string StatementSha256)? SamePrecedence(string name, SemVersion version, long below)
    {
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT version, log_index, image_digest, manifest_digest, prerelease, published_at, statement_sha256 FROM versions WHERE name = $n AND precedence_key = $k AND log_index < $b";
            cmd.Parameters.AddWithValue("$n", name);
            cmd.Parameters.AddWithValue("$b", below);
            cmd.Parameters.AddWithValue("$k", PrecedenceKey(version));
            using var r = cmd.ExecuteReader();
            return r.Read() ? (Read(r), r.GetString(6)) : null;
        }
    }

    private static string PrecedenceKey(SemVersion version) => version.WithoutMetadata().ToString();

    private static ModelVersion Read(SqliteDataReader r) =>
        new(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetInt64(4) != 0, DateTimeOffset.Parse(r.GetString(5), CultureInfo.InvariantCulture));

    public IReadOnlyList<(ModelVersion Version, string StatementSha256)> Versions(string name, long below)
    {
        var list = new List<(ModelVersion, string)>();
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT version, log_index, image_digest, manifest_digest, prerelease, published_at, statement_sha256 FROM versions WHERE name = $n AND log_index < $b";
            cmd.Parameters.AddWithValue("$n", name);
            cmd.Parameters.AddWithValue("$b", below);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                list.Add((Read(r), r.GetString(6)));
            }
        }

        return list
            .Select(v => (Parsed: SemVersion.Parse(v.Item1.Version, SemVersionStyles.Strict), Entry: v))
            .OrderBy(v => v.Parsed, SemVersion.PrecedenceComparer)
            .Select(v => v.Entry)
            .ToList();
    }

    /// <summary>Records one logged publish; the model row is created by its first version (the owner).</summary>
    public void Record(long index, PublishStatement statement, string statementSha256, SemVersion version)
    {
        lock (_lock)
        {
            using var tx = _connection.BeginTransaction();
            Record(_connection, tx, index, statement, statementSha256, version);
            tx.Commit();
        }
    }

    /// <summary>Writes the rows through another connection's transaction (the log writer's).</summary>
    public static void Record(SqliteConnection connection, SqliteTransaction tx, long index, PublishStatement statement, string statementSha256, SemVersion version)
    {
        {
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "INSERT OR IGNORE INTO models(name, owner_fingerprint, owner_key, endpoint_id, first_index) VALUES ($n, $f, $k, $e, $i)";
                cmd.Parameters.AddWithValue("$n", statement.ModelName);
                cmd.Parameters.AddWithValue("$f", statement.Publisher.Fingerprint);
                cmd.Parameters.AddWithValue("$k", statement.Publisher.SubjectPublicKeyInfoBase64);
                cmd.Parameters.AddWithValue("$e", statement.EndpointId);
                cmd.Parameters.AddWithValue("$i", index);
                cmd.ExecuteNonQuery();
            }

            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = """
                    INSERT OR IGNORE INTO versions(name, version, precedence_key, log_index, statement_sha256, image_digest, manifest_digest, prerelease, published_at)
                    VALUES ($n, $v, $k, $i, $s, $img, $man, $pre, $at)
                    """;
                cmd.Parameters.AddWithValue("$n", statement.ModelName);
                cmd.Parameters.AddWithValue("$v", version.ToString());
                cmd.Parameters.AddWithValue("$k", PrecedenceKey(version));
                cmd.Parameters.AddWithValue("$i", index);
                cmd.Parameters.AddWithValue("$s", statementSha256);
                cmd.Parameters.AddWithValue("$img", statement.ImageDigest);
                cmd.Parameters.AddWithValue("$man", statement.ManifestDigest);
                cmd.Parameters.AddWithValue("$pre", version.IsPrerelease ? 1 : 0);
                cmd.Parameters.AddWithValue("$at", statement.PublishedAt.ToString("O", CultureInfo.InvariantCulture));
                cmd.ExecuteNonQuery();
            }
        }
    }

    /// <summary>This connection's <c>PRAGMA synchronous</c> and <c>journal_mode</c> as SQLite reports them (a test holds them to FULL and WAL).</summary>
    internal (long Synchronous, string JournalMode) Durability()
    {
        lock (_lock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "PRAGMA synchronous";
            var synchronous = (long)cmd.ExecuteScalar()!;
            cmd.CommandText = "PRAGMA journal_mode";
            return (synchronous, (string)cmd.ExecuteScalar()!);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _connection.Dispose();
        }
    }
}

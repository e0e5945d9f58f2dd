using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Merkle;
using InfraMind.Signing;
using Microsoft.Data.Sqlite;

namespace InfraMind.Registry.Log;

/// <summary>
/// The log's SQLite file: its tables, and what opening reads back from them, trusting nothing: the leaves rebuilt into
/// the tree (no gap, every hash 32 bytes) and the latest checkpoint, which must verify and match the rebuilt tree.
/// </summary>
internal static class SqliteLogFile
{
    public const string Schema = """
        CREATE TABLE IF NOT EXISTS log_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS log_leaves(idx INTEGER PRIMARY KEY, leaf_hash BLOB NOT NULL, data BLOB NOT NULL, integrated_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS log_nodes(level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY(level, idx)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS log_checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
        """;

    public static MerkleTree LoadTree(SqliteConnection connection, string path, CancellationToken cancellationToken)
    {
        var tree = new MerkleTree();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT idx, leaf_hash FROM log_leaves ORDER BY idx";
        using var reader = cmd.ExecuteReader();
        var hash = new byte[MerkleHash.Size];
        while (reader.Read())
        {
            var idx = reader.GetInt64(0);
            if (idx != tree.Size)
            {
                throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{path}: leaf {tree.Size} is missing (next stored leaf is {idx}); the log file was edited. Restore it from a backup.");
            }

            if (reader.GetBytes(1, 0, hash, 0, hash.Length) != MerkleHash.Size)
            {
                throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{path}: leaf {idx} has a leaf hash that is not 32 bytes.");
            }

            tree.Append(hash, null);
            if ((idx & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return tree;
    }

    public static SignedCheckpoint? LoadLatestCheckpoint(SqliteConnection connection, string path, PublicKey key, MerkleTree tree)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1";
        using var reader = cmd.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var note = reader.GetString(1);
        var verification = CheckpointNote.Verify(note, key);
        if (!verification.IsValid)
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{path}: stored checkpoint at size {reader.GetInt64(0)} does not verify ({verification.ErrorCode}: {verification.Reason})");
        }

        var cp = verification.Checkpoint!;
        if (cp.Size > tree.Size)
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{path}: a checkpoint was signed at size {cp.Size} but only {tree.Size} leaves are stored; committed leaves were removed.");
        }

        if (!tree.Root(cp.Size).AsSpan().SequenceEqual(cp.RootHash.Span))
        {
            throw new RegistryException(RegistryErrorCodes.LogCorrupt, RegistryErrorKind.Corrupt, $"{path}: the stored leaves no longer hash to the root signed at size {cp.Size}; leaves were altered after they were committed.");
        }

        return new SignedCheckpoint(cp, note);
    }

    public static void Execute(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        cmd.ExecuteNonQuery();
    }

    public static string? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar() as string;
    }
}

using System.Globalization;
using System.Text;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Log;
using InfraMind.Registry.Merkle;
using InfraMind.Signing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Registry.Tests.Log;

public sealed class SqliteTransparencyLogTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    private static Task<SqliteTransparencyLog> Open(string path, SigningKey key, int maxBatch = 1024) =>
        SqliteTransparencyLog.OpenAsync(path, key, Time, new SqliteLogOptions { MaxBatch = maxBatch }, CancellationToken.None);

    private static async Task AppendEntriesAsync(SqliteTransparencyLog log, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await log.AppendAsync(Data(i), CancellationToken.None);
        }
    }

    private static byte[] Data(int i) => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"entry-{i}"));

    [Fact]
    public async Task Appends_survive_reopen_with_the_same_root()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        byte[] root;
        await using (var log = await Open(dir.Combine("log.sqlite"), key))
        {
            for (var i = 0; i < 37; i++)
            {
                var e = await log.AppendAsync(Data(i), CancellationToken.None);
                Assert.Equal(i, e.Index);
                Assert.Equal(MerkleHash.Leaf(Data(i)), e.LeafHash.ToArray());
            }

            root = (await log.GetRootAsync(37, CancellationToken.None)).ToArray();
            var cp = await log.GetCheckpointAsync(CancellationToken.None);
            Assert.Equal(37, cp.Checkpoint.Size);
            Assert.True(CheckpointNote.Verify(cp.Note, key.PublicKey).IsValid);
        }

        await using (var log = await Open(dir.Combine("log.sqlite"), key))
        {
            Assert.Equal(37, await log.GetSizeAsync(CancellationToken.None));
            Assert.Equal(root, (await log.GetRootAsync(37, CancellationToken.None)).ToArray());
            var entry = await log.GetEntryAsync(5, CancellationToken.None);
            Assert.Equal(Data(5), entry!.Data.ToArray());
            Assert.Equal(Time.GetUtcNow(), entry.IntegratedAt);
            Assert.Null(await log.GetEntryAsync(37, CancellationToken.None));
            Assert.Empty(await log.VerifyIntegrityAsync(CancellationToken.None));

            var proof = await log.GetInclusionProofAsync(5, 37, CancellationToken.None);
            Assert.Null(MerkleProofs.VerifyInclusion(5, 37, entry.LeafHash.Span, proof.Hashes, root));
        }
    }

    [Fact]
    public async Task Concurrent_appends_are_group_committed_without_gaps()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        await using var log = await Open(dir.Combine("log.sqlite"), key);
        var tasks = Enumerable.Range(0, 32).Select(p => Task.Run(async () =>
        {
            var indices = new List<long>();
            for (var i = 0; i < 50; i++)
            {
                indices.Add((await log.AppendAsync(Data((p * 1000) + i), CancellationToken.None)).Index);
            }

            return indices;
        })).ToArray();
        var all = (await Task.WhenAll(tasks)).SelectMany(x => x).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 1600).Select(i => (long)i), all);
        // How many transactions that took depends on how the publishers were scheduled (not asserted here): that
        // waiting appends are committed together is proven without the scheduler in the test below.
        Assert.Empty(await log.VerifyIntegrityAsync(CancellationToken.None));

        // Stored node rows agree with the in-memory tree built from leaves.
        using var connection = new SqliteConnection($"Data Source={dir.Combine("log.sqlite")}");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM log_nodes";
        // n leaves complete n - popcount(n) perfect interior nodes.
        Assert.Equal(1600L - System.Numerics.BitOperations.PopCount(1600), (long)cmd.ExecuteScalar()!);
    }

    [Theory]
    [InlineData(1024, 2)]
    [InlineData(10, 11)]
    public async Task Appends_that_wait_while_a_commit_runs_are_committed_together_up_to_the_batch_limit(int maxBatch, long transactions)
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        await using var log = await Open(dir.Combine("log.sqlite"), key, maxBatch);
        using var inCommit = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        // The first append holds the writer inside its transaction until all the others are queued: no scheduler
        // decides how they are grouped.
        var first = log.AppendAsync(Data(0), (_, _, _) =>
        {
            inCommit.Release();
            release.Wait();
        }, CancellationToken.None);
        Assert.True(await inCommit.WaitAsync(TimeSpan.FromMinutes(1)), "the writer never began the first commit");
        var waiting = Enumerable.Range(1, 100).Select(i => log.AppendAsync(Data(i), CancellationToken.None)).ToArray();
        release.Release();
        await first;
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), (await Task.WhenAll(waiting)).Select(e => e.Index));
        Assert.Equal(transactions, log.Transactions);
    }

    [Fact]
    public async Task The_writer_and_the_index_commit_with_synchronous_full_in_wal_mode()
    {
        // A SIGKILL test cannot tell FULL from NORMAL or OFF (the OS still writes what the process handed it); a
        // power cut can. So the settings themselves are held, as SQLite reports them on the real connections.
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        var path = dir.Combine("log.sqlite");
        await using var log = await Open(path, key);
        long synchronous = -1;
        string? journal = null;
        // Read inside a real commit, on the writer's own connection and thread.
        await log.AppendAsync(Data(0), (connection, tx, _) =>
        {
            using var cmd = connection.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "PRAGMA synchronous";
            synchronous = (long)cmd.ExecuteScalar()!;
            cmd.CommandText = "PRAGMA journal_mode";
            journal = (string)cmd.ExecuteScalar()!;
        }, CancellationToken.None);
        Assert.Equal(2, synchronous); // 2 = FULL (0 OFF, 1 NORMAL, 3 EXTRA)
        Assert.Equal("wal", journal);

        // The registry's name index opens the same file with its own connection, which writes on catch-up.
        using (var index = InfraMind.Registry.Models.RegistryIndex.Open(path))
        {
            Assert.Equal((2L, "wal"), index.Durability());
        }

        // WAL is the file's mode, so any other connection sees it too, and the log is there.
        using var other = new SqliteConnection($"Data Source={path};Pooling=False");
        other.Open();
        using var mode = other.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", (string)mode.ExecuteScalar()!);
        Assert.True(File.Exists(path + "-wal"));
    }

    [Fact]
    public async Task One_transaction_per_append_when_batching_is_off()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        await using var log = await Open(dir.Combine("log.sqlite"), key, maxBatch: 1);
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => log.AppendAsync(Data(i), CancellationToken.None)));
        Assert.Equal(40, log.Transactions);
    }

    [Fact]
    public async Task A_second_writer_is_refused_until_the_first_closes()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        var first = await Open(dir.Combine("log.sqlite"), key);
        var ex = await Assert.ThrowsAsync<RegistryException>(() => Open(dir.Combine("log.sqlite"), key));
        Assert.Equal(RegistryErrorCodes.LogInUse, ex.Code);
        await first.DisposeAsync();
        await using var second = await Open(dir.Combine("log.sqlite"), key);
    }

    [Fact]
    public async Task Appending_to_a_closed_log_is_a_clear_error()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        var log = await Open(dir.Combine("log.sqlite"), key);
        await log.DisposeAsync();
        var ex = await Assert.ThrowsAsync<RegistryException>(() => log.AppendAsync(Data(0), CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.LogClosed, ex.Code);
    }

    [Fact]
    public async Task Leaf_edited_in_the_file_is_refused_on_read()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        var path = dir.Combine("log.sqlite");
        await using (var log = await Open(path, key))
        {
            await AppendEntriesAsync(log, 8);
        }

        Exec(path, "UPDATE log_leaves SET data = $d WHERE idx = 3", ("$d", Data(99)));
        await using (var log = await Open(path, key))
        {
            var ex = await Assert.ThrowsAsync<RegistryException>(() => log.GetEntryAsync(3, CancellationToken.None));
            Assert.Equal(RegistryErrorCodes.LeafMismatch, ex.Code);
            Assert.Contains("entry 3 was altered", ex.Message, StringComparison.Ordinal);
            Assert.NotNull(await log.GetEntryAsync(2, CancellationToken.None));
            Assert.Contains(await log.VerifyIntegrityAsync(CancellationToken.None), p => p.Contains("entry 3", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Leaf_and_hash_rewritten_after_a_checkpoint_fails_open()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        var path = dir.Combine("log.sqlite");
        await using (var log = await Open(path, key))
        {
            await AppendEntriesAsync(log, 8);

            await log.GetCheckpointAsync(CancellationToken.None);
        }

        Exec(path, "UPDATE log_leaves SET data = $d, leaf_hash = $h WHERE idx = 3", ("$d", Data(99)), ("$h", MerkleHash.Leaf(Data(99))));
        var ex = await Assert.ThrowsAsync<RegistryException>(() => Open(path, key));
        Assert.Equal(RegistryErrorCodes.LogCorrupt, ex.Code);
        Assert.Contains("no longer hash to the root signed at size 8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_log_refuses_another_registry_key()
    {
        using var dir = new TempDirectory("im-reg");
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        await using (var log = await Open(dir.Combine("log.sqlite"), key))
        {
            await log.AppendAsync(Data(0), CancellationToken.None);
        }

        var ex = await Assert.ThrowsAsync<RegistryException>(() => Open(dir.Combine("log.sqlite"), other));
        Assert.Equal(RegistryErrorCodes.LogCorrupt, ex.Code);
    }

    [Fact]
    public async Task Killed_writer_leaves_a_consistent_log_with_every_acknowledged_append()
    {
        using var dir = new TempDirectory("im-reg");
        var path = dir.Combine("log.sqlite");
        var keys = dir.Combine("keys");
        SignedCheckpoint before;
        using (var key = new KeyStore(keys).LoadOrGenerate("registry"))
        {
            await using var log = await Open(path, key);
            await AppendEntriesAsync(log, 10);

            before = await log.GetCheckpointAsync(CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();
        var acked = await CrashHost.RunAndKillAsync(3000, "log", path, keys);
        var maxAcked = acked.Max(a => long.Parse(a[0], CultureInfo.InvariantCulture));

        using var reopenedKey = new KeyStore(keys).Load("registry");
        await using var reopened = await Open(path, reopenedKey);
        var size = await reopened.GetSizeAsync(CancellationToken.None);
        Assert.True(size > maxAcked, $"acknowledged entry {maxAcked} is missing: log has {size} entries");
        Assert.Empty(await reopened.VerifyIntegrityAsync(CancellationToken.None));

        var after = await reopened.GetCheckpointAsync(CancellationToken.None);
        Assert.True(CheckpointNote.Verify(after.Note, reopenedKey.PublicKey).IsValid);
        var proof = await reopened.GetConsistencyProofAsync(before.Checkpoint.Size, after.Checkpoint.Size, CancellationToken.None);
        Assert.Null(MerkleProofs.VerifyConsistency(before.Checkpoint.Size, after.Checkpoint.Size, before.Checkpoint.RootHash.Span, after.Checkpoint.RootHash.Span, proof.Hashes));

        var next = await reopened.AppendAsync(Data(-1), CancellationToken.None);
        Assert.Equal(size, next.Index);
    }

    private static void Exec(string path, string sql, params (string Name, object Value)[] parameters)
    {
        SqliteConnection.ClearAllPools();
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        Assert.Equal(1, cmd.ExecuteNonQuery());
    }
}

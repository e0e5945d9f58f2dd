using InfraMind.Signing;

namespace InfraMind.Registry.Log;

/// <summary>Tuning of the SQLite log.</summary>
public sealed record SqliteLogOptions
{
    /// <summary>Most appends committed in one transaction. 1 gives one transaction (one fsync) per append.</summary>
    public int MaxBatch { get; init; } = 1024;
}

/// <summary>Opens the embedded transparency log.</summary>
public static class TransparencyLog
{
    /// <summary>Opens (creating if needed) a log in the SQLite file <paramref name="path"/>; checkpoints are signed with <paramref name="checkpointKey"/>.</summary>
    public static async Task<ITransparencyLedger> OpenSqliteAsync(string path, SigningKey checkpointKey, TimeProvider time, SqliteLogOptions? options, CancellationToken cancellationToken) =>
        await SqliteTransparencyLog.OpenAsync(path, checkpointKey, time, options ?? new SqliteLogOptions(), cancellationToken).ConfigureAwait(false);
}

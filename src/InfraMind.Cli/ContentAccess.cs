using System.Diagnostics;
using InfraMind.Oci;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli;

/// <summary>The local content store and backends as `infra push`, `pull` and `publish` use them, and their progress display.</summary>
internal static class ContentAccess
{
    public const string UserVariable = "INFRAMIND_REGISTRY_USERNAME";
    public const string PasswordVariable = "INFRAMIND_REGISTRY_PASSWORD";
    public const string IpfsApiVariable = "INFRAMIND_IPFS_API";

    public static ContentResolver CreateResolver(CliContext context, string? mountFrom = null)
    {
        var user = context.Get(UserVariable);
        var password = context.Get(PasswordVariable);
        var options = new PeerOptions
        {
            Credentials = string.IsNullOrEmpty(user) ? null : new RegistryCredentials(user, password ?? string.Empty),
            MountFrom = mountFrom,
        };
        if (context.Get(IpfsApiVariable) is { Length: > 0 } api)
        {
            options = options with
            {
                IpfsApi = Uri.TryCreate(api.Contains("://", StringComparison.Ordinal) ? api : "http://" + api, UriKind.Absolute, out var uri)
                    ? uri
                    : throw new InfraMindException(StorageErrorCodes.InvalidReference, $"{IpfsApiVariable}={api} is not an address",
                        $"set {IpfsApiVariable} to host:port or http://host:port of the IPFS node's RPC API"),
            };
        }

        return new ContentResolver(new LocalContentStore(context.Home.Store), options);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with a progress sink: a live Spectre progress display on a terminal, otherwise
    /// one plain line per finished blob or file on stderr (bytes, time, rate), so logs and --json stdout stay clean.
    /// </summary>
    public static async Task<T> WithProgressAsync<T>(CliContext context, Func<IProgress<TransferProgress>, Task<T>> action)
    {
        if (context.Interactive)
        {
            T result = default!;
            await context.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async ctx => result = await action(new LiveProgress(ctx)));
            return result;
        }

        return await action(new PlainProgress(context.Error));
    }

    public static string Bytes(double bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (1 << 30):0.00} GiB",
        >= 1 << 20 => $"{bytes / (1 << 20):0.0} MiB",
        >= 1 << 10 => $"{bytes / (1 << 10):0.0} KiB",
        _ => $"{bytes:0} B",
    };

    public static string Short(string what) =>
        what.StartsWith(Digest.Sha256Prefix, StringComparison.Ordinal) ? what[..(Digest.Sha256Prefix.Length + 12)] : what;

    private sealed class PlainProgress(TextWriter error) : IProgress<TransferProgress>
    {
        private readonly Dictionary<string, long> _started = new(StringComparer.Ordinal);

        public void Report(TransferProgress value)
        {
            lock (_started)
            {
                if (!_started.TryGetValue(value.What, out long start))
                {
                    _started[value.What] = start = Stopwatch.GetTimestamp();
                }

                if (!value.Done)
                {
                    return;
                }

                if (value.Skipped)
                {
                    error.WriteLine($"  {Short(value.What)}: already there ({Bytes(value.Total ?? value.Bytes)})");
                    return;
                }

                var elapsed = Stopwatch.GetElapsedTime(start);
                double rate = value.Bytes / Math.Max(elapsed.TotalSeconds, 0.001);
                error.WriteLine($"  {Short(value.What)}: {Bytes(value.Bytes)} in {elapsed.TotalSeconds:0.00} s ({Bytes(rate)}/s)");
            }
        }
    }

    private sealed class LiveProgress(ProgressContext context) : IProgress<TransferProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);

        public void Report(TransferProgress value)
        {
            lock (_tasks)
            {
                if (!_tasks.TryGetValue(value.What, out var task))
                {
                    _tasks[value.What] = task = context.AddTask(Markup.Escape(Short(value.What)), maxValue: Math.Max(1, value.Total ?? value.Bytes));
                    task.IsIndeterminate = value.Total is null;
                }

                if (value.Total is null && value.Bytes > task.MaxValue) task.MaxValue = value.Bytes;
                task.Value = value.Bytes;
                if (value.Done)
                {
                    if (value.Skipped) task.Description = Markup.Escape(Short(value.What)) + " [dim](already there)[/]";
                    task.IsIndeterminate = false;
                    task.MaxValue = Math.Max(1, value.Bytes);
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            }
        }
    }
}

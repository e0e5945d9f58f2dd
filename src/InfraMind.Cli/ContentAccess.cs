using System.Diagnostics;
using System.Net;
using InfraMind.Oci;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli;

/// <summary>
/// The local content store and backends as `infra push`, `pull`, `publish`, the registry and nodes use them, and their
/// progress display. Two kinds of fetch: the user's own (<see cref="CreateResolver(CliContext, IEnumerable{ContentReference}, string?)"/>:
/// any source the user named), and fetches on a publisher's behalf (<see cref="ForPublishers"/>: the registry's
/// admission, nodes), under <see cref="FetchPolicy.OnBehalfOfPublishers"/>.
/// </summary>
internal static class ContentAccess
{
    public const string UserVariable = "INFRAMIND_REGISTRY_USERNAME";
    public const string PasswordVariable = "INFRAMIND_REGISTRY_PASSWORD";

    /// <summary>host or host:port (comma-separated) the credentials are for; unset: the registries named on the command line.</summary>
    public const string RegistryHostVariable = "INFRAMIND_REGISTRY_HOST";

    /// <summary>Networks (CIDR or address, comma-separated) fetches on a publisher's behalf may reach although not public.</summary>
    public const string FetchAllowVariable = "INFRAMIND_FETCH_ALLOW";
    public const string IpfsApiVariable = "INFRAMIND_IPFS_API";

    /// <summary>
    /// The user's own fetches and pushes: any source, no byte cap. Registry credentials go to the registries of
    /// <paramref name="named"/> (the references on the command line), or to those $INFRAMIND_REGISTRY_HOST names.
    /// </summary>
    public static ContentResolver CreateResolver(CliContext context, IEnumerable<ContentReference> named, string? mountFrom = null) =>
        new(new LocalContentStore(context.Home.Store), Options(context, FetchPolicy.Unrestricted, named) with { MountFrom = mountFrom });

    /// <summary>
    /// Fetches on a publisher's behalf (a registry deciding on a publish, a node pulling what a statement names) into
    /// <paramref name="store"/> (default: the home's store): <paramref name="policy"/> holds, and credentials go only to
    /// the registries $INFRAMIND_REGISTRY_HOST names.
    /// </summary>
    public static ContentResolver ForPublishers(CliContext context, FetchPolicy policy, LocalContentStore? store = null) =>
        new(store ?? new LocalContentStore(context.Home.Store), Options(context, policy, [], forPublishers: true));

    /// <summary>
    /// The policy of fetches on a publisher's behalf: public destinations plus <paramref name="allowed"/> and
    /// $INFRAMIND_FETCH_ALLOW; host-local references only with <paramref name="hostLocal"/>.
    /// </summary>
    public static FetchPolicy PublisherPolicy(CliContext context, IEnumerable<IPNetwork> allowed, bool hostLocal, long maxImageBytes = FetchPolicy.DefaultMaxImageBytes) =>
        FetchPolicy.OnBehalfOfPublishers(allowed.Concat(ParseNetworks(context.Get(FetchAllowVariable) ?? "", FetchAllowVariable)), hostLocal, maxImageBytes);

    /// <summary>`--max-image-size SIZE`: the most bytes of one image fetched on a publisher's behalf by <paramref name="who"/> (IM4214 beyond).</summary>
    public static System.CommandLine.Option<string> MaxImageSizeOption(string who) => new("--max-image-size")
    {
        Description = $"The most bytes of one image {who} fetches on a publisher's behalf (IM4214 beyond, checked against what the source declares before a byte is read, and as it streams)",
        DefaultValueFactory = _ => "16Gi",
        HelpName = "SIZE",
    };

    /// <summary>The bytes of <see cref="MaxImageSizeOption"/>, or a usage error naming it.</summary>
    public static long MaxImageBytes(System.CommandLine.ParseResult parse, System.CommandLine.Option<string> option) =>
        OptionRules.Bytes(parse, option, "write a size such as 16Gi or 500Mi");

    /// <summary>The policy of the single-machine embedded mesh (`infra mesh up`, the in-process registry): loopback and host-local references allowed.</summary>
    public static FetchPolicy EmbeddedPolicy(CliContext context) =>
        PublisherPolicy(context, [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")], hostLocal: true);

    /// <summary>Networks given as CIDRs or single addresses (127.0.0.1 = 127.0.0.1/32), comma-separated; IM0002 naming <paramref name="where"/> otherwise.</summary>
    public static IReadOnlyList<IPNetwork> ParseNetworks(string text, string where)
    {
        var networks = new List<IPNetwork>();
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(item, out var network))
                networks.Add(network);
            else if (IPAddress.TryParse(item, out var address))
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else
                throw new InfraMindException(CliErrorCodes.UsageError, $"{where}: '{item}' is not a network", "write a CIDR such as 10.1.0.0/16 or an address such as 127.0.0.1");
        }

        return networks;
    }

    /// <summary>
    /// Credentials: $INFRAMIND_REGISTRY_USERNAME/PASSWORD for the registries $INFRAMIND_REGISTRY_HOST names (else those
    /// named on the command line) take precedence; any other registry gets what docker's configuration holds for it
    /// (config.json, credential helpers). On a publisher's behalf (<paramref name="forPublishers"/>) docker's
    /// configuration serves only the registries $INFRAMIND_REGISTRY_HOST names: a publisher never borrows the
    /// operator's logins for a registry the operator did not name.
    /// </summary>
    private static PeerOptions Options(CliContext context, FetchPolicy policy, IEnumerable<ContentReference> named, bool forPublishers = false)
    {
        var user = context.Get(UserVariable);
        var password = context.Get(PasswordVariable);
        var scoped = context.Get(RegistryHostVariable) is { Length: > 0 } hosts
            ? hosts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
            : null;
        var registries = scoped ?? named.OfType<OciReference>().Select(r => RegistryCredentials.Authority(r.BaseUri)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var options = new PeerOptions
        {
            Credentials = string.IsNullOrEmpty(user) || registries.Count == 0 ? null : new RegistryCredentials(user, password ?? string.Empty, registries),
            CredentialSource = DockerCredentialStore.FromEnvironment(context.Get, forPublishers ? scoped ?? [] : null),
            Policy = policy,
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

        return options;
    }

    /// <summary>
    /// Runs <paramref name="action"/> with a progress sink: a live Spectre progress display on a terminal, otherwise
    /// (and always with <paramref name="asJson"/>: stdout is the JSON document's, terminal or not) one plain line per
    /// finished blob or file on stderr (bytes, time, rate), so logs and --json stdout stay clean.
    /// </summary>
    public static async Task<T> WithProgressAsync<T>(CliContext context, bool asJson, Func<IProgress<TransferProgress>, Task<T>> action)
    {
        if (context.Interactive && !asJson)
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
                    _tasks[value.What] = task = context.AddTask(ConsoleText.Escape(Short(value.What)), maxValue: Math.Max(1, value.Total ?? value.Bytes));
                    task.IsIndeterminate = value.Total is null;
                }

                if (value.Total is null && value.Bytes > task.MaxValue) task.MaxValue = value.Bytes;
                task.Value = value.Bytes;
                if (value.Done)
                {
                    if (value.Skipped) task.Description = ConsoleText.Escape(Short(value.What)) + " [dim](already there)[/]";
                    task.IsIndeterminate = false;
                    task.MaxValue = Math.Max(1, value.Bytes);
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            }
        }
    }
}

using System.CommandLine;
using System.Globalization;
using InfraMind.Cli.Commands;
using InfraMind.Registry.Chain;
using InfraMind.Signing;
using Semver;

namespace InfraMind.Cli;

/// <summary>
/// The on-chain registry as commands reach it, the counterpart of <see cref="RegistryAccess"/>: `--registry
/// eth://HOST:PORT/0xCONTRACT[?chainId=N]` selects it, `--statement-store` says where the signed statements live (the
/// chain keeps only their sha256 and URI), `--payer` who pays the gas, `--confirmations` how deep the mesh's follower
/// waits. The owner of those options and of where the follower keeps its progress under $INFRAMIND_HOME.
/// </summary>
internal static class ChainAccess
{
    /// <summary>eth_getLogs ranges are capped by public nodes; the follower reads in the same steps.</summary>
    private const int BlocksPerQuery = 2000;

    /// <summary>Statements are fetched over HTTP only from the store named (never from a host a record names); bounded by the store itself.</summary>
    private static readonly HttpClient StatementHttp = new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(10) })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public static bool IsChain(string? registry) => ChainRegistryAddress.IsChainUrl(registry);

    public static string StatementsDirectory(InfraHome home) => Path.Combine(home.Root, "statements");

    /// <summary>`--statement-store DIR|URL`, for every command that publishes to or reads from an eth:// registry.</summary>
    public static Option<string?> StatementStoreOption() => new("--statement-store")
    {
        Description = "eth:// registries: where signed statements are stored and fetched from (the chain keeps their sha256 and URI): a directory, " +
                      "or an http(s):// base URL that takes PUT and serves GET (needed when verifiers run on other machines). " +
                      "Default: $INFRAMIND_HOME/statements, which is also always read",
        HelpName = "DIR|URL",
    };

    /// <summary>`--payer KEY|0xADDRESS`: who pays the gas of a transaction.</summary>
    public static Option<string?> PayerOption(string defaultText, bool required = false) => new("--payer")
    {
        Description = "Who pays the gas: the name of a secp256k1 key (`infra keys import` a funded account's key), or 0x followed by 40 hex digits: " +
                      $"an account the chain node holds unlocked (dev chains only; the node signs). {defaultText}",
        HelpName = "KEY|0xADDRESS",
        Required = required,
    };

    /// <summary>`--confirmations N`: blocks a publish must be buried under before the mesh serves it.</summary>
    public static Option<int?> ConfirmationsOption()
    {
        var option = new Option<int?>("--confirmations")
        {
            Description = "eth:// registries: blocks a publish (or yank) must be buried under before the mesh acts on it (default: 0 on dev chains, ids 1337 and 31337; 12 elsewhere)",
            HelpName = "N",
        };
        option.Require(v => v is null or (>= 0 and <= 10_000), "--confirmations must be between 0 and 10000");
        return option;
    }

    /// <summary>`--registry eth://…` of the `infra chain` verbs: the chain registry is the point of the command, so it is required.</summary>
    public static Option<string> RequiredRegistryOption(string name = "--registry") => new(name)
    {
        Description = "The chain registry: eth://HOST:PORT/0xCONTRACT[?chainId=N] (the URL `infra chain deploy` printed; eths:// for TLS)",
        HelpName = "URL",
        Required = true,
    };

    /// <summary>Connects to the registry at <paramref name="url"/> (chain id, contract and its EIP-712 domain checked) with the statement store chosen.</summary>
    public static Task<ChainModelRegistry> ConnectAsync(CliContext context, string url, string? statementStore, CancellationToken cancellationToken)
    {
        var home = new DirectoryStatementStore(StatementsDirectory(context.Home));
        var store = StatementStore(statementStore) ?? home;
        return ChainModelRegistry.ConnectAsync(url, new ChainRegistryOptions
        {
            StatementStore = store,
            // The home's statements stay readable whatever store is named: a publish made here verifies here.
            StatementSources = ReferenceEquals(store, home) ? [] : [home],
        }, cancellationToken);
    }

    /// <summary>
    /// The payer <paramref name="payer"/> names: an address is an unlocked account of the node (dev chains), anything
    /// else a key name; null means <paramref name="fallback"/> (the key that signs the record pays too).
    /// </summary>
    public static ChainPayer Payer(CliContext context, string? payer, string? passphraseVariable, SigningKey? fallback)
    {
        if (payer is null)
        {
            return ChainPayer.FromKey(fallback ?? throw new InfraMindException(CliErrorCodes.UsageError, "no payer given", "pass --payer KEY or --payer 0xADDRESS"));
        }

        if (payer.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            // Key names may start with 0x too, but an address is what a user means by 0x…: it is never read as a key name.
            return ChainRegistryAddress.IsAddress(payer)
                ? ChainPayer.Unlocked(payer)
                : throw new InfraMindException(CliErrorCodes.UsageError, $"--payer '{payer}' is not an account address (0x followed by 40 hex digits)",
                    "name a secp256k1 key (`infra keys list`), or give the address of an account the node holds unlocked");
        }

        using var key = KeysCommand.Load(context, payer, passphraseVariable);
        return ChainPayer.FromKey(key);
    }

    /// <summary>The signing key of a chain record: secp256k1, or <see cref="ChainErrorCodes.KeyNotSecp256k1"/> before anything else happens.</summary>
    public static SigningKey RecordKey(CliContext context, string name, string? passphraseVariable)
    {
        var key = KeysCommand.Load(context, name, passphraseVariable);
        if (key.Type == KeyType.Secp256k1) return key;
        key.Dispose();
        throw new ChainException(ChainErrorCodes.KeyNotSecp256k1,
            $"key '{name}' is {KeyType.P256.ToName()}; an eth:// registry records the publisher's secp256k1 key (the contract recovers it with ecrecover)",
            $"make one with `infra keys generate --name NAME --type secp256k1` (or `infra keys import`) and pass --key NAME");
    }

    /// <summary>Where the follower of <paramref name="registry"/> keeps its progress for one role (gateway, a node, a mesh): each its own, so none reads another's half-written state.</summary>
    public static string IndexDirectory(InfraHome home, ChainModelRegistry registry, string role)
    {
        // A role carries a node id from the command line: anything but a plain name is hashed, never joined into a path.
        var safe = role.Length is > 0 and <= 80 && role.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') ? role
            : "role-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(role)))[..16];
        return Path.Combine(home.Root, "chain", string.Create(CultureInfo.InvariantCulture, $"{registry.ChainId}-{registry.Address.Contract}"), safe);
    }

    /// <summary>
    /// The registry's events from its deployment block up to the head, in chain order, read in ranges of
    /// <see cref="BlocksPerQuery"/> blocks; stops once <paramref name="onEvent"/> returns false, so what is held stays
    /// bounded by what the caller keeps. A read of <see cref="ProgressFromRanges"/> ranges or more (a registry deployed
    /// long ago, a busy chain, or a node that claims a head far ahead) says how far it got on stderr: at each tenth of
    /// the way and at least every <see cref="ProgressEvery"/>, so stdout (and --json) stays clean. Ctrl-C stops it.
    /// </summary>
    public static async Task<long> ReadEventsAsync(CliContext context, ChainModelRegistry registry, Func<ChainEvent, bool> onEvent, CancellationToken cancellationToken)
    {
        var head = await registry.GetBlockNumberAsync(cancellationToken);
        var progress = new ReadProgress(context.Error, registry.DeployedAt, head);
        for (var from = registry.DeployedAt; from <= head; from += BlocksPerQuery)
        {
            var to = Math.Min(head, from + BlocksPerQuery - 1);
            foreach (var e in await registry.GetEventsAsync(from, to, cancellationToken))
            {
                if (!onEvent(e)) return head;
            }

            progress.Read(to);
        }

        return head;
    }

    /// <summary>Ranges a read of the chain's events must span before it reports its progress (20,000 blocks).</summary>
    internal const int ProgressFromRanges = 10;

    /// <summary>The longest a long read of the chain's events stays silent.</summary>
    internal static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    /// <summary>Progress lines of one read: "  registry events: block N of HEAD (P%)".</summary>
    private sealed class ReadProgress(TextWriter error, long first, long head)
    {
        private readonly bool _reports = head - first + 1 >= (long)ProgressFromRanges * BlocksPerQuery;
        private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
        private long _said = System.Diagnostics.Stopwatch.GetTimestamp();
        private int _tenths;

        public void Read(long to)
        {
            if (!_reports) return;
            var tenths = (int)Math.Min(10, (to - first + 1) * 10 / (head - first + 1));
            if (tenths == _tenths && System.Diagnostics.Stopwatch.GetElapsedTime(_said) < ProgressEvery) return;
            _tenths = tenths;
            _said = System.Diagnostics.Stopwatch.GetTimestamp();
            var percent = (to - first + 1) * 100.0 / (head - first + 1);
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  registry events: block {to:N0} of {head:N0} ({percent:0.#}%, {System.Diagnostics.Stopwatch.GetElapsedTime(_started).TotalSeconds:0.0} s)"));
        }
    }

    /// <summary>The version `NAME` without @VERSION means on a chain: the highest release not yanked (else the highest version published).</summary>
    public static async Task<string> LatestVersionAsync(CliContext context, ChainModelRegistry registry, string name, CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, bool>(StringComparer.Ordinal);
        await ReadEventsAsync(context, registry, e =>
        {
            switch (e)
            {
                case ChainEvent.Published p when p.Record.Name == name:
                    versions[p.Record.Version] = false;
                    break;
                case ChainEvent.Yanked y when y.Name == name:
                    versions[y.Version] = true;
                    break;
            }

            return true;
        }, cancellationToken);
        var parsed = versions.Select(v => (Text: v.Key, Yanked: v.Value, Version: SemVersion.TryParse(v.Key, SemVersionStyles.Strict, out var s) ? s : null))
            .Where(v => v.Version is not null)
            .OrderByDescending(v => v.Version!, SemVersion.PrecedenceComparer)
            .ToList();
        var pick = parsed.FirstOrDefault(v => !v.Yanked && !v.Version!.IsPrerelease).Text ?? parsed.FirstOrDefault().Text;
        return pick ?? throw new ChainException(ChainErrorCodes.UnknownVersion, $"'{name}' is not published in registry {registry.Address}",
            "`infra log --registry eth://…` lists what the registry holds");
    }

    /// <summary>A statement store from `--statement-store`; null for the default. ipfs:// or oci:// locations are not offered (the registry library holds no storage client).</summary>
    private static IStatementStore? StatementStore(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        if (value.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return Uri.TryCreate(value, UriKind.Absolute, out var uri) && string.IsNullOrEmpty(uri.UserInfo) && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment)
                ? new HttpStatementStore(StatementHttp, uri)
                : throw Invalid(value, "not a base URL (http(s)://HOST[:PORT]/PATH/, no user info, query or fragment)");
        }

        if (value.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
        {
            return Uri.TryCreate(value, UriKind.Absolute, out var file) && file.IsFile ? new DirectoryStatementStore(file.LocalPath) : throw Invalid(value, "not a file:// URL of a directory");
        }

        if (value.Contains("://", StringComparison.Ordinal))
            throw Invalid(value, "statements are kept in a directory or behind an http(s):// base; other locations (ipfs://, oci://) are not supported");
        if (File.Exists(value)) throw Invalid(value, "a file, not a directory");
        return new DirectoryStatementStore(value);
    }

    private static InfraMindException Invalid(string value, string why) =>
        new(CliErrorCodes.UsageError, $"--statement-store '{value}': {why}", "give a directory, or an http(s):// base URL that takes PUT and serves GET");
}

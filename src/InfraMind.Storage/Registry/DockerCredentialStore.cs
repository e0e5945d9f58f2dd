using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace InfraMind.Storage;

/// <summary>Where registry credentials come from, one registry (host, or host:port) at a time.</summary>
public interface IRegistryCredentialSource
{
    /// <summary>The credentials for <paramref name="registry"/> (the <see cref="RegistryCredentials.Authority"/> form), or null when none are configured.</summary>
    Task<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken);
}

/// <summary>
/// Registry credentials as docker keeps them: <c>$DOCKER_CONFIG/config.json</c> (default <c>~/.docker/config.json</c>),
/// per registry: <c>credHelpers[registry]</c>, else <c>credsStore</c> (both run <c>docker-credential-NAME get</c>,
/// found on PATH), else <c>auths[registry]</c> (<c>auth</c> = base64 of user:password, or <c>username</c> /
/// <c>password</c>); the order docker's own client follows. Keys of <c>auths</c> and <c>credHelpers</c> match as docker
/// matches them: scheme and path ignored, host[:port] compared without case. Read only when a registry asks for
/// credentials (a helper runs at most once per registry and store); a helper is bounded in time and in what it may
/// print. The docker configuration format is read by hand: no maintained .NET library reads it (Docker.DotNet does not).
/// </summary>
public sealed class DockerCredentialStore : IRegistryCredentialSource
{
    /// <summary>The largest config.json read; docker's own are a few KiB.</summary>
    public const int MaxConfigBytes = 1 << 20;

    /// <summary>
    /// The longest config.json may take to open. A named pipe (a FIFO) that nobody writes to blocks open(2) without end,
    /// and the file system gives it no size or type .NET shows; past this it is refused, not waited for.
    /// </summary>
    public static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The most a credential helper may print on stdout or stderr (its answer is a small JSON object).</summary>
    public const int MaxHelperOutputBytes = 64 << 10;

    private const string HelperPrefix = "docker-credential-";
    private readonly string? _searchPath;
    private readonly HashSet<string>? _onlyFor;
    private readonly Lazy<Task<Config>> _config; // read once per store: a long-running server sees logins made before it started
    private readonly ConcurrentDictionary<string, Lazy<Task<RegistryCredentials?>>> _answers = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="configDirectory">The directory holding config.json (docker's DOCKER_CONFIG).</param>
    /// <param name="searchPath">Where helper programs are looked for (PATH syntax).</param>
    /// <param name="onlyFor">When set, the registries credentials may be given for; others get none.</param>
    public DockerCredentialStore(string configDirectory, string? searchPath, IEnumerable<string>? onlyFor = null)
    {
        ArgumentNullException.ThrowIfNull(configDirectory);
        ConfigPath = Path.Combine(configDirectory, "config.json");
        _searchPath = searchPath;
        _onlyFor = onlyFor is null ? null : new HashSet<string>(onlyFor, StringComparer.OrdinalIgnoreCase);
        _config = new Lazy<Task<Config>>(LoadAsync);
    }

    public string ConfigPath { get; }

    /// <summary>How long a credential helper may run before it is killed.</summary>
    public TimeSpan HelperTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The store docker itself would use: $DOCKER_CONFIG, else $HOME/.docker; helpers on $PATH.</summary>
    public static DockerCredentialStore FromEnvironment(Func<string, string?> environment, IEnumerable<string>? onlyFor = null)
    {
        ArgumentNullException.ThrowIfNull(environment);
        string directory = environment("DOCKER_CONFIG") is { Length: > 0 } d
            ? d
            : Path.Combine(environment("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        return new DockerCredentialStore(directory, environment("PATH"), onlyFor);
    }

    public async Task<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(registry);
        if (_onlyFor is not null && !_onlyFor.Contains(registry))
        {
            return null;
        }

        var answer = _answers.GetOrAdd(registry, r => new Lazy<Task<RegistryCredentials?>>(() => LookUpAsync(r, cancellationToken)));
        try
        {
            return await answer.Value.ConfigureAwait(false);
        }
        catch
        {
            // A failure (a helper that timed out, a cancelled pull) is not remembered: the next caller asks again.
            _answers.TryRemove(new KeyValuePair<string, Lazy<Task<RegistryCredentials?>>>(registry, answer));
            throw;
        }
    }

    private async Task<RegistryCredentials?> LookUpAsync(string registry, CancellationToken cancellationToken)
    {
        var config = await _config.Value.ConfigureAwait(false);
        string? helper = Match(config.Helpers, registry) ?? config.Store;
        if (helper is not null)
        {
            return await new CredentialHelper(helper, _searchPath, HelperTimeout).GetAsync(registry, cancellationToken).ConfigureAwait(false);
        }

        if (Match(config.Auths, registry) is not { } entry)
        {
            return null;
        }

        string where = $"{ConfigPath} (auths \"{entry.Key}\")";
        if (entry.Auth is { Length: > 0 } encoded)
        {
            string pair;
            try
            {
                pair = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
            }
            catch (FormatException e)
            {
                throw Failed($"{where}: \"auth\" is not base64.", e);
            }

            int colon = pair.IndexOf(':', StringComparison.Ordinal);
            return colon < 0
                ? throw Failed($"{where}: \"auth\" does not decode to user:password.")
                : new RegistryCredentials(pair[..colon], pair[(colon + 1)..], [registry]) { Source = ConfigPath };
        }

        if (entry.UserName is { Length: > 0 } user)
        {
            return new RegistryCredentials(user, entry.Password ?? string.Empty, [registry]) { Source = ConfigPath };
        }

        return entry.IdentityToken is { Length: > 0 }
            ? throw Failed($"{where} holds an identity token (an OAuth refresh token); InfraMind sends only a user name and password or access token. Log in with a password or token instead.")
            : null;
    }

    /// <summary>The value whose key names <paramref name="registry"/> as docker's ConvertToHostname compares them.</summary>
    private static T? Match<T>(IReadOnlyDictionary<string, T> entries, string registry) where T : class =>
        entries.TryGetValue(registry, out var exact) ? exact
        : entries.FirstOrDefault(e => string.Equals(HostOf(e.Key), registry, StringComparison.OrdinalIgnoreCase)).Value;

    private static string HostOf(string key)
    {
        string rest = key.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? key[8..]
            : key.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? key[7..]
            : key;
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? rest : rest[..slash];
    }

    private async Task<Config> LoadAsync()
    {
        var file = new FileInfo(ConfigPath);
        if (!file.Exists)
        {
            return Config.Empty;
        }

        if (file.Length > MaxConfigBytes)
        {
            throw Failed($"{ConfigPath} is {file.Length} bytes, more than the {MaxConfigBytes} a docker configuration may have here; it was not read.");
        }

        try
        {
            // Counted as it is read (BoundedBody): the length checked above is what the file system says, and a
            // config.json linked to a device (/dev/zero, /dev/urandom) says 0 and never ends (read whole, it grew to
            // 2 GiB before failing).
            byte[] bytes;
            await using (var stream = await OpenBoundedAsync().ConfigureAwait(false))
            {
                bytes = await BoundedBody.ReadAsync(stream, null, MaxConfigBytes, CancellationToken.None).ConfigureAwait(false)
                    ?? throw Failed($"{ConfigPath} holds more than the {MaxConfigBytes} bytes a docker configuration may have here (it is a link to a device, or it grew while read); it was not read. Point DOCKER_CONFIG at a directory whose config.json is docker's own.");
            }

            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Failed($"{ConfigPath} is not a JSON object.");
            }

            var auths = new Dictionary<string, AuthEntry>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("auths", out var a) && a.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in a.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Object))
                {
                    auths[p.Name] = new AuthEntry(p.Name, Text(p.Value, "auth"), Text(p.Value, "username"), Text(p.Value, "password"), Text(p.Value, "identitytoken"));
                }
            }

            var helpers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (root.TryGetProperty("credHelpers", out var h) && h.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in h.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String && p.Value.GetString() is { Length: > 0 }))
                {
                    helpers[p.Name] = p.Value.GetString()!;
                }
            }

            return new Config(auths, helpers, Text(root, "credsStore") is { Length: > 0 } store ? store : null);
        }
        catch (JsonException e)
        {
            throw Failed($"{ConfigPath} is not valid JSON ({e.Message}).", e);
        }
        catch (IOException e)
        {
            throw Failed($"{ConfigPath} could not be read ({e.Message}).", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw Failed($"{ConfigPath} could not be read ({e.Message}).", e);
        }
    }

    /// <summary>config.json opened within <see cref="OpenTimeout"/>, else refused (the open that hangs is left to finish on its own thread).</summary>
    private async Task<FileStream> OpenBoundedAsync()
    {
        var opening = Task.Run(() => File.OpenRead(ConfigPath));
        try
        {
            return await opening.WaitAsync(OpenTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Closed if it ever opens (a writer came); nobody reads it then.
            _ = opening.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw Failed($"{ConfigPath} did not open within {OpenTimeout.TotalSeconds:0} s (a named pipe nobody writes to?); it was not read. " +
                "Point DOCKER_CONFIG at a directory whose config.json is docker's own.");
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static StorageException Failed(string message, Exception? inner = null) =>
        new(StorageErrorCodes.CredentialConfigFailed, message, inner);

    private sealed record AuthEntry(string Key, string? Auth, string? UserName, string? Password, string? IdentityToken);

    private sealed record Config(IReadOnlyDictionary<string, AuthEntry> Auths, IReadOnlyDictionary<string, string> Helpers, string? Store)
    {
        public static readonly Config Empty = new(new Dictionary<string, AuthEntry>(), new Dictionary<string, string>(), null);
    }
}

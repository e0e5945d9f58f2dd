using System.CommandLine;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Registry.Trust;
using InfraMind.Serving.Tls;
using InfraMind.Signing;

namespace InfraMind.Cli;

/// <summary>An open registry: the embedded one in this process, or a server over HTTP. Dispose to close it.</summary>
internal sealed class RegistryHandle(IRegistryService service, string location, IAsyncDisposable? owned, bool ofThisHome, bool embedded) : IAsyncDisposable
{
    public IRegistryService Service { get; } = service;

    /// <summary>Where the registry is, for messages: a URL or the data directory.</summary>
    public string Location { get; } = location;

    /// <summary>The registry of this home: opened in this process, or the one a running `infra mesh up` / `registry serve` announced here.</summary>
    public bool OfThisHome { get; } = ofThisHome;

    /// <summary>Opened in this process (its key is its own; nothing to pin).</summary>
    public bool Embedded { get; } = embedded;

    public ValueTask DisposeAsync() => owned?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// Finds the registry a command talks to: `--registry URL` when given; else the local registry a running
/// `infra mesh up` / `infra registry serve` announced in the home directory (it owns the log file); else the
/// embedded registry opened in this process. The owner of the `--registry` and `--registry-key` options and of
/// loading the registry key a command trusts.
/// </summary>
internal static class RegistryAccess
{
    /// <summary>The most a registry answer may hold in memory: a log page of 1000 entries is well under 1 MiB.</summary>
    internal const long MaxAnswerBytes = 16 << 20;

    /// <summary>`--registry URL`, as every command that talks to a registry declares it.</summary>
    public static Option<string?> UrlOption() => new("--registry")
    {
        Description = "Registry URL, e.g. http://127.0.0.1:7400, or where a command takes one an on-chain registry eth://HOST:PORT/0xCONTRACT[?chainId=N] " +
                      "(default: the registry a running `infra mesh up` or `infra registry serve` announced, else the local registry in $INFRAMIND_HOME/registry)",
        HelpName = "URL",
    };

    /// <summary>`--registry-key FILE`: the registry public key a command trusts instead of the one the registry serves.</summary>
    public static Option<string?> KeyOption() => new("--registry-key")
    {
        Description = "The registry's public key (PEM) to trust (default: the local registry's key for --offline; else the key the registry served on first use, pinned in $INFRAMIND_HOME/trust/registries)",
        HelpName = "FILE",
    };

    /// <summary>
    /// A registry URL, with the pin of a self-signed registry's TLS key after it (<c>https://HOST:PORT/#sha256:HEX</c>,
    /// what `infra registry serve --json` prints); a usage error otherwise.
    /// </summary>
    internal static (Uri Url, string? Pin) Parse(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var given) || given.Scheme is not ("http" or "https"))
            throw new InfraMindException(CliErrorCodes.UsageError, $"'{url}' is not a registry URL", "use e.g. --registry http://127.0.0.1:7400 or --registry https://10.0.0.2:7400/#sha256:HEX");
        if (!TlsPins.TrySplit(given, out var uri, out var pin, out var error))
            throw new InfraMindException(CliErrorCodes.UsageError, $"--registry {error}", "copy the registry URL `infra registry serve --json` prints");
        return (uri.AbsolutePath.EndsWith('/') ? uri : new UriBuilder(uri) { Path = uri.AbsolutePath + "/" }.Uri, pin);
    }

    private static HttpMessageHandler PinnedHandler(string? pin) =>
        TlsPins.Handler(new SocketsHttpHandler { UseProxy = false }, pin, "the registry",
            "pass the registry URL with the fingerprint its `registry serve --json` prints (#sha256:HEX); if it changed, someone else may answer at that address");

    public static string AnnouncementFile(InfraHome home) => Path.Combine(home.Root, "run", "registry.url");

    /// <param name="admission">The checks of the embedded registry, when this command may publish to it.</param>
    public static async Task<RegistryHandle> OpenAsync(CliContext context, string? url, IPublishAdmission? admission, CancellationToken cancellationToken)
    {
        bool announced = url is null;
        url ??= await RunningLocalRegistryAsync(context.Home, cancellationToken);
        if (url is not null)
        {
            var (uri, pin) = Parse(url);
            var http = new HttpClient(PinnedHandler(pin))
            {
                BaseAddress = uri, Timeout = TimeSpan.FromSeconds(60), MaxResponseContentBufferSize = MaxAnswerBytes,
            };
            return new RegistryHandle(new RegistryClient(http), uri.ToString(), new HttpOwner(http), ofThisHome: announced, embedded: false);
        }

        var registry = await ModelRegistry.OpenAsync(InfraHome.Ensure(context.Home.Registry), TimeProvider.System, admission, null, cancellationToken);
        return new RegistryHandle(new LocalRegistryService(registry), context.Home.Registry, registry, ofThisHome: true, embedded: true);
    }

    /// <summary>
    /// The registry key a command trusts, and the registry seen through it: the PEM file <paramref name="keyFile"/> when
    /// given (it wins over any pin); the registry's own key when it runs in this process, or when it is this home's
    /// registry serving the key on disk here; else the key the registry serves, pinned on first use in
    /// $INFRAMIND_HOME/trust/registries (another key later is IM5150 naming both). Over HTTP, every checkpoint the
    /// registry answers must then extend the last one this home saw of it (IM5151 otherwise).
    /// </summary>
    public static async Task<(PublicKey Key, IRegistryService Service)> TrustAsync(CliContext context, RegistryHandle handle, string? keyFile, CancellationToken cancellationToken)
    {
        if (handle.Embedded)
            return (keyFile is null ? await handle.Service.GetKeyAsync(cancellationToken) : KeyFile(keyFile), handle.Service);
        var trust = new RegistryTrust(context.Home.RegistryTrust);
        PublicKey key;
        if (keyFile is not null)
        {
            key = KeyFile(keyFile);
        }
        else
        {
            var served = await handle.Service.GetKeyAsync(cancellationToken);
            var local = Path.Combine(context.Home.Registry, "keys", "registry.pub");
            key = handle.OfThisHome && File.Exists(local) && PublicKey.FromPem(await File.ReadAllTextAsync(local, cancellationToken)).Equals(served)
                ? served
                : trust.Pin(handle.Location, served);
        }

        return (key, trust.Watch(handle.Service, handle.Location, key));
    }

    /// <summary>A registry public key from the PEM file `--registry-key` names.</summary>
    public static PublicKey KeyFile(string file) => ReadKey(file, "pass the registry's public key PEM with --registry-key");

    /// <summary>A publisher's public key PEM (the file `infra keys list --json` names as publicKey).</summary>
    public static PublicKey PublisherKeyFile(string file) =>
        PublicKey.FromPemFile(CliErrorCodes.RequireFile(file, "publisher key", "ask the publisher for their public key PEM (the file `infra keys list --json` names as publicKey)"));

    /// <summary>The local registry's own public key, for verifying with no registry running (`infra verify --offline`).</summary>
    public static PublicKey LocalKey(CliContext context) =>
        ReadKey(Path.Combine(context.Home.Registry, "keys", "registry.pub"), "pass --registry-key FILE (the public key PEM of the registry that wrote the bundle)");

    private static PublicKey ReadKey(string file, string hint) =>
        PublicKey.FromPemFile(CliErrorCodes.RequireFile(file, "registry key", hint));

    /// <summary>Writes the URL of a registry this process serves, so other commands on this machine find it.</summary>
    public static string Announce(InfraHome home, Uri address)
    {
        var file = AnnouncementFile(home);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, address.ToString());
        return file;
    }

    /// <summary>How long the probe of an announced registry waits for its answer (<see cref="RunningLocalRegistryAsync"/>).</summary>
    internal static readonly TimeSpan AnnouncedProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The URL of the registry another process of this home announced, while it runs; null when none is announced or
    /// its process is gone (nothing listens there, or something else answers): then the embedded registry is free.
    /// One that takes the connection but is slow to answer (a process just started, on a busy machine) still runs and
    /// still holds the embedded registry's log: it is used, and the command's own requests wait for it as long as they
    /// wait for any registry; taking it for gone would open the embedded registry, whose log that process holds (IM5126).
    /// </summary>
    private static async Task<string?> RunningLocalRegistryAsync(InfraHome home, CancellationToken cancellationToken)
    {
        var file = AnnouncementFile(home);
        if (!File.Exists(file)) return null;
        var url = (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        if (!Uri.TryCreate(url, UriKind.Absolute, out var given) || !TlsPins.TrySplit(given, out var announced, out var pin, out _)) return null;

        using var http = new HttpClient(PinnedHandler(pin)) { Timeout = AnnouncedProbeTimeout };
        try
        {
            using var response = await http.GetAsync(new Uri(announced, "v1/checkpoint"), cancellationToken);
            return response.IsSuccessStatusCode ? url : null;
        }
        catch (HttpRequestException)
        {
            return null; // announced by a process that is gone: the embedded registry is free again
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return url; // connected, not answered yet: the announcing process is there, only slow
        }
    }

    private sealed class HttpOwner(HttpClient http) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            http.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

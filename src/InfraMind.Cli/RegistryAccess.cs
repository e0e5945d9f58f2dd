using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;

namespace InfraMind.Cli;

/// <summary>An open registry: the embedded one in this process, or a server over HTTP. Dispose to close it.</summary>
internal sealed class RegistryHandle(IRegistryService service, string location, IAsyncDisposable? owned) : IAsyncDisposable
{
    public IRegistryService Service { get; } = service;

    /// <summary>Where the registry is, for messages: a URL or the data directory.</summary>
    public string Location { get; } = location;

    public ValueTask DisposeAsync() => owned?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// Finds the registry a command talks to: `--registry URL` when given; else the local registry a running
/// `infra mesh up` / `infra registry serve` announced in the home directory (it owns the log file); else the
/// embedded registry opened in this process.
/// </summary>
internal static class RegistryAccess
{
    public static string AnnouncementFile(InfraHome home) => Path.Combine(home.Root, "run", "registry.url");

    public static async Task<RegistryHandle> OpenAsync(CliContext context, string? url, IPublishAdmission? admission, CancellationToken cancellationToken)
    {
        url ??= await RunningLocalRegistryAsync(context.Home, cancellationToken);
        if (url is not null)
        {
            if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                throw new CliException("IM0002", $"'{url}' is not a registry URL", "use e.g. --registry http://127.0.0.1:7400", ExitCodes.Usage);
            var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(60) };
            return new RegistryHandle(new RegistryClient(http), uri.ToString(), new HttpOwner(http));
        }

        try
        {
            var registry = await ModelRegistry.OpenAsync(InfraHome.Ensure(context.Home.Registry), TimeProvider.System, admission, null, cancellationToken);
            return new RegistryHandle(new LocalRegistryService(registry), context.Home.Registry, registry);
        }
        catch (RegistryException e) when (e.Code == RegistryErrorCodes.LogInUse)
        {
            throw new CliException(e.Code, $"the local registry in {context.Home.Registry} is in use by another process",
                "a running `infra mesh up` or `infra registry serve` owns it: pass its URL with --registry", ExitCodes.Unavailable);
        }
    }

    /// <summary>Writes the URL of a registry this process serves, so other commands on this machine find it.</summary>
    public static string Announce(InfraHome home, Uri address)
    {
        var file = AnnouncementFile(home);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, address.ToString());
        return file;
    }

    private static async Task<string?> RunningLocalRegistryAsync(InfraHome home, CancellationToken cancellationToken)
    {
        var file = AnnouncementFile(home);
        if (!File.Exists(file)) return null;
        var url = (await File.ReadAllTextAsync(file, cancellationToken)).Trim();
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync(new Uri(new Uri(url), "v1/checkpoint"), cancellationToken);
            return response.IsSuccessStatusCode ? url : null;
        }
        catch (HttpRequestException)
        {
            return null; // announced by a process that is gone: the embedded registry is free again
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
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

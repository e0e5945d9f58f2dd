using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using InfraMind.Hosting;
using InfraMind.Registry.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InfraMind.Registry.Http;

/// <summary>Settings of a stand-alone registry server (<c>infra registry serve</c>).</summary>
public sealed record RegistryServerOptions(string DataDirectory, string Url = "http://127.0.0.1:7400")
{
    public IPublishAdmission? Admission { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Publishes one client address (an IPv6 /64 as one) may send per minute (the rest: 429 IM5104 with Retry-After); 0 for no limit.</summary>
    public int PublishesPerMinutePerAddress { get; init; } = 60;

    /// <summary>Publishes one publisher key may make per minute, counted once its signature verified; 0 for no limit.</summary>
    public int PublishesPerMinutePerKey { get; init; } = 30;

    /// <summary>
    /// Publishes in admission at once (from the first check until what their fetch left is kept or removed); beyond, 503
    /// IM5114 with Retry-After. Bounds the staging space fetches take to this many times the most bytes of one publish.
    /// </summary>
    public int MaxAdmissionsInFlight { get; init; } = 4;

    /// <summary>
    /// Publishes are refused (503 IM5153, before the body is read) while the file system holding
    /// <see cref="DataDirectory"/> has less than this many bytes free, so that publishers cannot fill the disk the log
    /// lives on (each entry keeps up to 1 MiB, at the publish rates, forever); reads go on. 0: no floor.
    /// </summary>
    public long MinFreeDiskBytes { get; init; } = DefaultMinFreeDiskBytes;

    public const long DefaultMinFreeDiskBytes = 1L << 30;

    /// <summary>The certificate (with its key) to serve HTTPS with; <see cref="Url"/> is then https. Null: plain HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? TlsCertificate { get; init; }

    /// <summary>What a client's connections may hold (their count, head sizes, timeouts, data rates): every InfraMind server's <see cref="ServerLimits"/>.</summary>
    public ServerLimits Limits { get; init; } = ServerLimits.Default;

    /// <summary>
    /// The logging of the process the registry serves in (`mesh up --verbose`, `--log-format json`); null: warnings and
    /// errors only, as text on stderr.
    /// </summary>
    public Action<ILoggingBuilder>? Logging { get; init; }
}

/// <summary>
/// The limits on publishes, in the one place the HTTP API reads them: per client address, taken by ASP.NET Core's rate
/// limiting middleware before the body is read (<see cref="PerAddressPolicy"/>), and per publisher key, taken once the
/// signature verified (so nobody can spend another publisher's budget with forged envelopes). Both are fixed windows of
/// one minute with no queue; a refusal is 429 IM5104 with Retry-After. And the floor of free disk under the log
/// (<see cref="RegistryServerOptions.MinFreeDiskBytes"/>), checked before the body is read: 503 IM5153.
/// </summary>
public sealed class PublishLimits : IDisposable
{
    public const string PerAddressPolicy = "publish-per-address";

    private readonly PartitionedRateLimiter<string>? _perKey;
    private readonly string? _dataDirectory;
    private readonly long _minFreeDisk;

    public PublishLimits(int perKeyPerMinute, string? dataDirectory = null, long minFreeDiskBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minFreeDiskBytes);
        _dataDirectory = dataDirectory;
        _minFreeDisk = dataDirectory is null ? 0 : minFreeDiskBytes;
        if (perKeyPerMinute > 0)
        {
            _perKey = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => Window(perKeyPerMinute)));
        }
    }

    /// <summary>The per-address budget a publish is counted in: its client's address, an IPv6 /64 as one (<see cref="ClientAddress"/>).</summary>
    internal static string AddressPartition(IPAddress? address) => ClientAddress.Group(address).ToString();

    internal static FixedWindowRateLimiterOptions Window(int permits) => new()
    {
        PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true,
    };

    /// <summary>Takes one publish of <paramref name="fingerprint"/>; null when allowed, else the time to wait.</summary>
    public TimeSpan? TryTake(string fingerprint)
    {
        if (_perKey is null) return null;
        using var lease = _perKey.AttemptAcquire(fingerprint);
        return lease.IsAcquired ? null : lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
    }

    /// <summary>Throws <see cref="RegistryErrorCodes.DiskLow"/> while the log's file system has less free space than the floor.</summary>
    public void CheckDisk()
    {
        if (_minFreeDisk == 0) return;
        var free = new DriveInfo(_dataDirectory!).AvailableFreeSpace;
        if (free < _minFreeDisk)
        {
            throw new RegistryException(RegistryErrorCodes.DiskLow, RegistryErrorKind.Unavailable,
                string.Create(CultureInfo.InvariantCulture, $"the registry's disk has {free / (double)(1L << 30):0.###} GiB free, below its floor of ") +
                $"{Manifest.Quantity.FormatBytes(_minFreeDisk)}: it takes no publish until its operator frees space (reads of the log go on).");
        }
    }

    /// <summary>Sets Retry-After (whole seconds, at least 1) on an answer.</summary>
    internal static void SetRetryAfter(HttpResponse response, TimeSpan after) =>
        response.Headers.RetryAfter = RetryAfterHeader.Format(after);

    public void Dispose() => _perKey?.Dispose();
}

/// <summary>A running registry server; dispose to stop it and close the log.</summary>
public sealed class RegistryServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RegistryServer(WebApplication app, ModelRegistry registry, Uri address)
    {
        _app = app;
        Registry = registry;
        Address = address;
    }

    public ModelRegistry Registry { get; }

    /// <summary>The bound address (the real port when the URL asked for port 0).</summary>
    public Uri Address { get; }

    public static async Task<RegistryServer> StartAsync(RegistryServerOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAdmissionsInFlight, 1, nameof(options.MaxAdmissionsInFlight));
        ArgumentNullException.ThrowIfNull(options.Limits);
        if (options.Limits.Validate() is [var invalid, ..]) throw new ArgumentException(invalid, nameof(options));
        var admission = options.Admission is { } checks ? new BoundedAdmission(checks, options.MaxAdmissionsInFlight) : null;
        var registry = await ModelRegistry.OpenAsync(options.DataDirectory, options.Time, admission, null, cancellationToken).ConfigureAwait(false);
        try
        {
            var (builder, connections) = ServerOptions.CreateBuilder(options.Url, options.Limits, options.TlsCertificate);
            // On stderr, never stdout: stdout is `infra registry serve --json`'s document (the slim builder's console
            // logger writes to stdout by default).
            if (options.Logging is { } logging) logging(builder.Logging);
            else builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
            // A start that fails (the port taken) is thrown to the caller, which names it (IM6021); the host's own
            // "Hosting failed to start" line would print it again, with a stack trace. The server runs no hosted service.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);

            builder.Services.AddSingleton(registry);
            var metrics = new RegistryMetrics(registry);
            connections.Export(metrics.Registry, "registry");
            builder.Services.AddSingleton(metrics);
            builder.Services.AddSingleton(new PublishLimits(options.PublishesPerMinutePerKey, options.DataDirectory, options.MinFreeDiskBytes));
            builder.Services.AddProblemDetails();
            builder.Services.AddRateLimiter(limiter =>
            {
                limiter.OnRejected = (context, _) =>
                {
                    var after = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var a) ? a : TimeSpan.FromMinutes(1);
                    PublishLimits.SetRetryAfter(context.HttpContext.Response, after);
                    metrics.Refused(RegistryErrorCodes.RateLimited);
                    return new ValueTask(RegistryApi.Problem(RegistryErrorCodes.RateLimited,
                        $"this client address ({ClientAddress.Describe(ClientAddress.Group(context.HttpContext.Connection.RemoteIpAddress))}) made more than " +
                        $"{options.PublishesPerMinutePerAddress} publishes in a minute; retry after {Math.Ceiling(after.TotalSeconds)} s.",
                        StatusCodes.Status429TooManyRequests).ExecuteAsync(context.HttpContext));
                };
                limiter.AddPolicy(PublishLimits.PerAddressPolicy, http => options.PublishesPerMinutePerAddress > 0
                    ? RateLimitPartition.GetFixedWindowLimiter(PublishLimits.AddressPartition(http.Connection.RemoteIpAddress), _ => PublishLimits.Window(options.PublishesPerMinutePerAddress))
                    : RateLimitPartition.GetNoLimiter(string.Empty));
            });
            var app = builder.Build();
            app.UseExceptionHandler();
            // What routing answers without a body (no route for the path: 404; routes for other methods: 405 with Allow)
            // gets a problem document with its code; the endpoints' own answers are left as they are.
            app.UseStatusCodePages(RegistryApi.UnroutedAsync);
            app.UseRateLimiter();
            app.MapModelRegistry();
            app.MapMetrics("/metrics", metrics.Registry);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new RegistryServer(app, registry, new Uri(address));
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await Registry.DisposeAsync().ConfigureAwait(false);
    }
}

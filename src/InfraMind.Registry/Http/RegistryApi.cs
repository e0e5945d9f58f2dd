using System.Globalization;
using System.Text.Json.Nodes;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InfraMind.Registry.Http;

/// <summary>Settings of a stand-alone registry server (<c>infra registry serve</c>).</summary>
public sealed record RegistryServerOptions(string DataDirectory, string Url = "http://127.0.0.1:7400")
{
    public IPublishAdmission? Admission { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
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
        var registry = await ModelRegistry.OpenAsync(options.DataDirectory, options.Time, options.Admission, null, cancellationToken).ConfigureAwait(false);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.WebHost.UseUrls(options.Url);
            builder.Services.AddSingleton(registry);
            builder.Services.AddProblemDetails();
            var app = builder.Build();
            app.UseExceptionHandler();
            app.MapModelRegistry();
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

/// <summary>
/// HTTP API of the registry. Errors are RFC 9457 problem details whose <c>code</c> is the stable IM5xxx code:
/// 400 invalid input or signature, 403 name owned by another key, 404 unknown, 409 version already published,
/// 422 rejected by an admission check, 500 log corruption.
/// </summary>
internal static partial class RegistryApi
{
    private const long MaxEnvelopeBytes = 1 << 20;

    /// <summary>Maps <c>/v1/...</c>; needs a <see cref="ModelRegistry"/> singleton in the container.</summary>
    public static IEndpointRouteBuilder MapModelRegistry(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var v1 = endpoints.MapGroup("/v1");
        v1.MapPost("/entries", (HttpRequest request, ModelRegistry registry, ILoggerFactory loggers, CancellationToken ct) =>
            Guard(() => PublishAsync(request, registry, loggers.CreateLogger(typeof(RegistryApi).FullName!), ct)));
        v1.MapGet("/entries", (long? start, int? limit, ModelRegistry registry, CancellationToken ct) => Guard(() => ListEntriesAsync(registry, start ?? 0, limit ?? 100, ct)));
        v1.MapGet("/entries/{index:long}", (long index, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
        {
            var bundle = await registry.GetEntryBundleAsync(index, ct).ConfigureAwait(false);
            if (bundle is null)
            {
                var size = await registry.GetSizeAsync(ct).ConfigureAwait(false);
                throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, string.Create(CultureInfo.InvariantCulture, $"log entry {index} does not exist; the log has {size} entries."));
            }

            return Json(bundle.ToJsonObject());
        }));
        v1.MapGet("/models/{name}", (string name, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
        {
            var versions = await registry.ListVersionsAsync(name, ct).ConfigureAwait(false)
                ?? throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound, $"model '{name}' is not published.");
            return Json(VersionsJson(versions));
        }));
        v1.MapGet("/models/{name}/{version}", (string name, string version, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
            Json((await registry.GetModelVersionAsync(name, version, ct).ConfigureAwait(false)).ToJsonObject())));
        v1.MapGet("/checkpoint", (ModelRegistry registry, CancellationToken ct) => Guard(async () =>
            Results.Text((await registry.GetCheckpointAsync(ct).ConfigureAwait(false)).Note, "text/plain; charset=utf-8")));
        v1.MapGet("/key", (ModelRegistry registry) => Results.Text(registry.PublicKey.ToPem(), "application/x-pem-file"));
        v1.MapGet("/proof/consistency", (long? from, long? to, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
        {
            if (from is null || to is null)
            {
                throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, "query parameters 'from' and 'to' (tree sizes) are required, e.g. ?from=10&to=42.");
            }

            var proof = await registry.GetConsistencyProofAsync(from.Value, to.Value, ct).ConfigureAwait(false);
            var hashes = new JsonArray();
            foreach (var h in proof.Hashes)
            {
                hashes.Add(Convert.ToBase64String(h.Span));
            }

            return Json(new JsonObject { ["fromSize"] = proof.FromSize, ["toSize"] = proof.ToSize, ["hashes"] = hashes });
        }));
        return endpoints;
    }

    private static async Task<IResult> PublishAsync(HttpRequest request, ModelRegistry registry, ILogger logger, CancellationToken ct)
    {
        if (request.ContentLength > MaxEnvelopeBytes)
        {
            throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, $"envelope is larger than {MaxEnvelopeBytes} bytes.");
        }

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct).ConfigureAwait(false);
        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.Parse(buffer.ToArray());
        }
        catch (SigningException ex)
        {
            throw new RegistryException(ex.Code, RegistryErrorKind.BadRequest, ex.Message, ex);
        }

        PublishResult result;
        try
        {
            result = await registry.PublishAsync(envelope, ct).ConfigureAwait(false);
        }
        catch (RegistryException ex)
        {
            Log.PublishRefused(logger, ex.Code, ex.Message);
            throw;
        }

        Log.Published(logger, result.Entry.Statement.ModelName, result.Entry.Statement.Version, result.Entry.Index, result.Entry.Statement.Publisher.Fingerprint, result.AlreadyPublished);
        var bundle = await registry.GetEntryBundleAsync(result.Entry.Index, ct).ConfigureAwait(false);
        var body = bundle!.ToJsonObject();
        body["alreadyPublished"] = result.AlreadyPublished;
        if (result.AlreadyPublished)
        {
            return Json(body);
        }

        var created = Results.Content(body.ToJsonString(), "application/json", statusCode: StatusCodes.Status201Created);
        return new CreatedResult(created, string.Create(CultureInfo.InvariantCulture, $"/v1/entries/{result.Entry.Index}"));
    }

    private static async Task<IResult> ListEntriesAsync(ModelRegistry registry, long start, int limit, CancellationToken ct)
    {
        if (start < 0 || limit is < 1 or > 1000)
        {
            throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, "use start ≥ 0 and 1 ≤ limit ≤ 1000.");
        }

        var entries = new JsonArray();
        foreach (var e in (await registry.ListEntriesAsync(start, limit, ct).ConfigureAwait(false)).Select(LogEntrySummary.From))
        {
            entries.Add(new JsonObject
            {
                ["index"] = e.Index,
                ["name"] = e.Name,
                ["version"] = e.Version,
                ["imageDigest"] = e.ImageDigest,
                ["manifestDigest"] = e.ManifestDigest,
                ["endpointId"] = e.EndpointId,
                ["publisher"] = e.Publisher,
                ["integratedAt"] = e.IntegratedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            });
        }

        return Json(new JsonObject { ["size"] = await registry.GetSizeAsync(ct).ConfigureAwait(false), ["entries"] = entries });
    }

    private static JsonObject VersionsJson(ModelVersions versions)
    {
        var list = new JsonArray();
        foreach (var v in versions.Versions)
        {
            list.Add(new JsonObject
            {
                ["version"] = v.Version,
                ["index"] = v.Index,
                ["imageDigest"] = v.ImageDigest,
                ["manifestDigest"] = v.ManifestDigest,
                ["prerelease"] = v.IsPrerelease,
                ["publishedAt"] = v.PublishedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            });
        }

        return new JsonObject
        {
            ["name"] = versions.Name,
            ["owner"] = versions.OwnerFingerprint,
            ["endpointId"] = versions.EndpointId,
            ["latest"] = versions.Latest,
            ["versions"] = list,
        };
    }

    private static IResult Json(JsonObject body) => Results.Content(body.ToJsonString(), "application/json");

    private static async Task<IResult> Guard(Func<Task<IResult>> handler)
    {
        try
        {
            return await handler().ConfigureAwait(false);
        }
        catch (RegistryException ex)
        {
            return Problem(ex.Code, ex.Message, StatusFor(ex.Category));
        }
        catch (SigningException ex)
        {
            return Problem(ex.Code, ex.Message, StatusCodes.Status400BadRequest);
        }
    }

    internal static int StatusFor(RegistryErrorKind kind) => kind switch
    {
        RegistryErrorKind.BadRequest => StatusCodes.Status400BadRequest,
        RegistryErrorKind.Forbidden => StatusCodes.Status403Forbidden,
        RegistryErrorKind.NotFound => StatusCodes.Status404NotFound,
        RegistryErrorKind.Conflict => StatusCodes.Status409Conflict,
        RegistryErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
        RegistryErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static IResult Problem(string code, string detail, int status) =>
        Results.Problem(
            detail: detail,
            statusCode: status,
            title: code,
            type: "https://inframind.dev/errors/" + code,
            extensions: new Dictionary<string, object?> { ["code"] = code });

    private static partial class Log
    {
        [LoggerMessage(EventId = 5101, Level = LogLevel.Information, Message = "Published {Name}@{Version} as entry {Index} by {Publisher} (already published: {AlreadyPublished})")]
        public static partial void Published(ILogger logger, string name, string version, long index, string publisher, bool alreadyPublished);

        [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "Publish refused: {Code} {Reason}")]
        public static partial void PublishRefused(ILogger logger, string code, string reason);
    }

    private sealed class CreatedResult(IResult inner, string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return inner.ExecuteAsync(httpContext);
        }
    }
}

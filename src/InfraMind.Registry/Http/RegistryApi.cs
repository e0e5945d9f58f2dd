using System.Globalization;
using System.Text.Json.Nodes;
using InfraMind.Hosting;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfraMind.Registry.Http;

/// <summary>
/// HTTP API of the registry. Errors are RFC 9457 problem details whose <c>code</c> is the stable IM5xxx code:
/// 400 invalid input or signature, 403 name owned by another key, 404 unknown, 409 version already published,
/// 413 envelope over 1 MiB, 422 rejected by an admission check, 429 too many publishes (with Retry-After), 500 log corruption.
/// </summary>
internal static partial class RegistryApi
{
    /// <summary>The most a publish body may be, sent with Content-Length or chunked.</summary>
    public const int MaxEnvelopeBytes = 1 << 20;

    /// <summary>Maps <c>/v1/...</c>; needs a <see cref="ModelRegistry"/> singleton in the container.</summary>
    public static IEndpointRouteBuilder MapModelRegistry(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var v1 = endpoints.MapGroup("/v1");
        v1.MapPost("/entries", (HttpRequest request, ModelRegistry registry, ILoggerFactory loggers, CancellationToken ct) =>
            Guard(() => PublishAsync(request, registry, loggers.CreateLogger(typeof(RegistryApi).FullName!), ct)))
            .RequireRateLimiting(PublishLimits.PerAddressPolicy);
        // Numbers in the path and the query are taken as text and parsed here (QueryNumber, EntryIndex): bound as long or
        // int, or behind a route constraint, ASP.NET Core refuses one that does not parse with an empty 400 (or 404).
        v1.MapGet("/entries", (string? start, string? limit, ModelRegistry registry, CancellationToken ct) => Guard(() =>
            ListEntriesAsync(registry, QueryNumber(start, "start", EntriesRule) ?? 0, QueryNumber(limit, "limit", EntriesRule) ?? 100, ct)));
        v1.MapGet("/entries/{index}", (string index, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
        {
            var at = EntryIndex(index);
            var bundle = at is { } i ? await registry.GetEntryBundleAsync(i, ct).ConfigureAwait(false) : null;
            if (bundle is null)
            {
                var size = await registry.GetSizeAsync(ct).ConfigureAwait(false);
                throw new RegistryException(RegistryErrorCodes.NotFound, RegistryErrorKind.NotFound,
                    string.Create(CultureInfo.InvariantCulture, $"log entry {at?.ToString(CultureInfo.InvariantCulture) ?? Shown(index)} does not exist; the log has {size} entries."));
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
        v1.MapGet("/proof/consistency", (string? from, string? to, ModelRegistry registry, CancellationToken ct) => Guard(async () =>
        {
            if (QueryNumber(from, "from", ConsistencyRule) is not { } fromSize || QueryNumber(to, "to", ConsistencyRule) is not { } toSize)
            {
                throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, "query parameters 'from' and 'to' (tree sizes) are required, e.g. ?from=10&to=42.");
            }

            var proof = await registry.GetConsistencyProofAsync(fromSize, toSize, ct).ConfigureAwait(false);
            var hashes = new JsonArray();
            foreach (var h in proof.Hashes)
            {
                hashes.Add(Convert.ToBase64String(h.Span));
            }

            return Json(new JsonObject { ["fromSize"] = proof.FromSize, ["toSize"] = proof.ToSize, ["hashes"] = hashes });
        }));
        return endpoints;
    }

    /// <summary>What the registry answers a request no endpoint takes (404 IM5115, 405 IM5116 with Allow).</summary>
    private static readonly UnroutedAnswers Unrouted = new(RegistryErrorCodes.NoSuchPath, RegistryErrorCodes.MethodNotAllowed,
        "the registry serves POST /v1/entries (publish), GET /v1/entries, GET /v1/entries/INDEX, GET /v1/models/NAME, " +
        "GET /v1/models/NAME/VERSION, GET /v1/checkpoint, GET /v1/key, GET /v1/proof/consistency?from=N&to=M and GET /metrics")
    {
        MethodAdvice = (path, allow) => path == "/v1/entries" ? "a publish is a POST of a signed envelope (infra publish sends it)" : null,
    };

    /// <summary>What the registry answers a request no endpoint took: <see cref="UnroutedAnswers.AnswerAsync"/> with the API's problem documents.</summary>
    internal static Task UnroutedAsync(StatusCodeContext context) => Unrouted.AnswerAsync(context, (code, detail, status) => Problem(code, detail, status));

    private const string EntriesRule = "use start ≥ 0 and 1 ≤ limit ≤ 1000";

    private const string ConsistencyRule = "'from' and 'to' are tree sizes, 0 ≤ from ≤ to, e.g. ?from=10&to=42";

    /// <summary>
    /// The whole number a query parameter gives, null when it is absent or empty; anything else (not a number, one past
    /// a long) is 400 IM5107 naming the parameter and <paramref name="rule"/>. The ranges are the handlers' to check.
    /// </summary>
    private static long? QueryNumber(string? text, string name, string rule)
    {
        if (string.IsNullOrEmpty(text)) return null;
        return TryWhole(text, out var value, out var tooLarge)
            ? value
            : throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest,
                $"query parameter '{name}' is {Shown(text)}, {(tooLarge ? "out of range" : "not a whole number")}: {rule}.");
    }

    /// <summary>
    /// The entry a <c>/v1/entries/{index}</c> path names: its index, or null for a whole number past a long (it names no
    /// entry, as one past the log's end does: 404 IM5105). Anything else is not an index: 400 IM5107.
    /// </summary>
    private static long? EntryIndex(string text) =>
        TryWhole(text, out var value, out var tooLarge) ? value
        : tooLarge ? null
        : throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest,
            $"an entry index is a whole number ≥ 0, e.g. /v1/entries/0; got {Shown(text)}.");

    /// <summary>Parses an optionally signed run of ASCII digits; <paramref name="tooLarge"/> when it is one that does not fit a long.</summary>
    private static bool TryWhole(string text, out long value, out bool tooLarge)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            tooLarge = false;
            return true;
        }

        var digits = text.AsSpan(text.Length > 0 && text[0] is '-' or '+' ? 1 : 0);
        tooLarge = !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
        return false;
    }

    /// <summary>A stranger's text in a detail: quoted, its control characters escaped, at most 64 characters of it.</summary>
    private static string Shown(string text) => TerminalText.Quote(text, 64);

    private static async Task<IResult> PublishAsync(HttpRequest request, ModelRegistry registry, ILogger logger, CancellationToken ct)
    {
        var metrics = request.HttpContext.RequestServices.GetService<RegistryMetrics>();
        var limits = request.HttpContext.RequestServices.GetService<PublishLimits>();
        PublishResult result;
        try
        {
            // Before the body is read: a registry short of disk takes none.
            limits?.CheckDisk();
            DsseEnvelope envelope;
            try
            {
                envelope = DsseEnvelope.Parse(await ReadEnvelopeAsync(request, ct).ConfigureAwait(false));
            }
            catch (SigningException ex)
            {
                throw new RegistryException(ex.Code, RegistryErrorKind.BadRequest, ex.Message, ex);
            }

            var candidate = ModelRegistry.Verify(envelope);
            if (limits?.TryTake(candidate.Statement.Publisher.Fingerprint) is { } after)
            {
                PublishLimits.SetRetryAfter(request.HttpContext.Response, after);
                throw new RegistryException(RegistryErrorCodes.RateLimited, RegistryErrorKind.TooManyRequests,
                    $"key {candidate.Statement.Publisher.Fingerprint} made more publishes in the last minute than this registry takes; retry after {Math.Ceiling(after.TotalSeconds)} s.");
            }

            result = await registry.PublishAsync(candidate, ct).ConfigureAwait(false);
        }
        catch (RegistryException ex)
        {
            // Every refused publish, whichever check refused it (the disk floor, the body's size, the envelope, the
            // signature, the rates, admission, the log), is logged and counted under its code, in one place.
            if (ex.Code == RegistryErrorCodes.AdmissionsBusy) PublishLimits.SetRetryAfter(request.HttpContext.Response, BoundedAdmission.RetryAfter);
            Log.PublishRefused(logger, ex.Code, ex.Message);
            metrics?.Refused(ex.Code);
            throw;
        }

        metrics?.Published(result.AlreadyPublished);
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

    /// <summary>
    /// The body, read against <see cref="MaxEnvelopeBytes"/> whether it declares its length or comes chunked: one byte
    /// more is 413 IM5108 and the rest is not read (Kestrel's own cap for this request is set to the same bound, so a
    /// client that keeps sending is cut off, not drained).
    /// </summary>
    private static async Task<byte[]> ReadEnvelopeAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxEnvelopeBytes)
        {
            throw TooLarge($"declares {request.ContentLength} bytes, more than {MaxEnvelopeBytes} bytes");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } cap)
        {
            cap.MaxRequestBodySize = MaxEnvelopeBytes + 1L;
        }

        // Grown as bytes arrive, never more than the bound: a request that declares nothing costs what it sends.
        try
        {
            return await BoundedBody.ReadAsync(request.Body, request.ContentLength, MaxEnvelopeBytes, ct).ConfigureAwait(false)
                ?? throw TooLarge($"is larger than {MaxEnvelopeBytes} bytes");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge($"is larger than {MaxEnvelopeBytes} bytes", e);
        }

        static RegistryException TooLarge(string what, Exception? inner = null) =>
            new(RegistryErrorCodes.EnvelopeTooLarge, RegistryErrorKind.TooLarge, $"the publish body {what} (1 MiB); an envelope is a few KiB.", inner);
    }

    private static async Task<IResult> ListEntriesAsync(ModelRegistry registry, long start, long limit, CancellationToken ct)
    {
        if (start < 0 || limit is < 1 or > 1000)
        {
            throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, EntriesRule + ".");
        }

        var entries = new JsonArray();
        foreach (var e in (await registry.ListEntriesAsync(start, (int)limit, ct).ConfigureAwait(false)).Select(LogEntrySummary.From))
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
            return Problem(ex.Code, ex.Message, StatusFor(ex.Category), ex.Hint);
        }
        catch (SigningException ex)
        {
            return Problem(ex.Code, ex.Message, StatusCodes.Status400BadRequest, ex.Hint);
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
        RegistryErrorKind.TooLarge => StatusCodes.Status413PayloadTooLarge,
        RegistryErrorKind.TooManyRequests => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The registry's problem document: the code as its title, with <c>code</c> and <c>hint</c> (<see cref="ProblemMembers"/>; the code's default hint when <paramref name="hint"/> is null).</summary>
    internal static IResult Problem(ErrorCode code, string detail, int status, string? hint = null) =>
        Results.Problem(
            detail: detail,
            statusCode: status,
            title: code.Value,
            type: "https://inframind.dev/errors/" + code.Value,
            extensions: ProblemMembers.Of(code, hint));

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

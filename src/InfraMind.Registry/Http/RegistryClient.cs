using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Http;

/// <summary>Result of <see cref="RegistryClient.PublishAsync"/>.</summary>
public sealed record PublishResponse(EntryBundle Bundle, bool AlreadyPublished);

/// <summary>One line of <c>infra log</c>.</summary>
public sealed record LogEntrySummary(long Index, string Name, string Version, string ImageDigest, string ManifestDigest, string EndpointId, string Publisher, DateTimeOffset IntegratedAt)
{
    public static LogEntrySummary From(RegistryEntry e) => new(
        e.Index, e.Statement.ModelName, e.Statement.Version, e.Statement.ImageDigest, e.Statement.ManifestDigest, e.Statement.EndpointId,
        e.Statement.Publisher.Fingerprint, e.IntegratedAt);
}

/// <summary>
/// HTTP client of the registry API (for <c>infra publish</c>, <c>verify</c>, <c>log</c>). Problem responses become
/// <see cref="RegistryException"/>s carrying the server's IM code; nothing it returns is trusted until verified
/// (<see cref="EntryVerifier"/>).
/// </summary>
public sealed class RegistryClient : IRegistryService
{
    private readonly HttpClient _http;

    /// <param name="http">Its BaseAddress is the registry, e.g. http://127.0.0.1:7400/.</param>
    public RegistryClient(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
    }

    public async Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        using var content = new StringContent(envelope.ToJson(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        using var response = await Send(() => _http.PostAsync(new Uri("v1/entries", UriKind.Relative), content, cancellationToken)).ConfigureAwait(false);
        var text = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return Answer("the publish answer", () =>
        {
            var already = StrictJson.Parse(text)?["alreadyPublished"]?.GetValue<bool>() ?? false;
            return new PublishResponse(EntryBundle.Parse(text), already);
        });
    }

    public async Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken)
    {
        var text = await GetStringAsync($"v1/models/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(version)}", cancellationToken).ConfigureAwait(false);
        return Answer("the entry bundle", () => EntryBundle.Parse(text));
    }

    public async Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken)
    {
        var text = await GetStringAsync(string.Create(CultureInfo.InvariantCulture, $"v1/entries/{index}"), cancellationToken).ConfigureAwait(false);
        return Answer("the entry bundle", () => EntryBundle.Parse(text));
    }

    public async Task<JsonObject> GetVersionsAsync(string name, CancellationToken cancellationToken)
    {
        var text = await GetStringAsync($"v1/models/{Uri.EscapeDataString(name)}", cancellationToken).ConfigureAwait(false);
        return Answer("the version list", () => (JsonObject)StrictJson.Parse(text)!);
    }

    /// <summary>The signed checkpoint note; verify it with <c>CheckpointNote.Verify</c>.</summary>
    public Task<string> GetCheckpointAsync(CancellationToken cancellationToken) => GetStringAsync("v1/checkpoint", cancellationToken);

    /// <summary>The registry key as served. Pin it (trust on first use) rather than fetching it for every verification.</summary>
    public async Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken)
    {
        var text = await GetStringAsync("v1/key", cancellationToken).ConfigureAwait(false);
        return Answer("the registry key", () => PublicKey.FromPem(text));
    }

    public async Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken)
    {
        var text = await GetStringAsync(string.Create(CultureInfo.InvariantCulture, $"v1/proof/consistency?from={fromSize}&to={toSize}"), cancellationToken).ConfigureAwait(false);
        return Answer("the consistency proof", () =>
        {
            var o = StrictJson.Parse(text)!;
            var hashes = o["hashes"]!.AsArray().Select(h => (ReadOnlyMemory<byte>)Convert.FromBase64String(h!.GetValue<string>())).ToList();
            return new ConsistencyProof(o["fromSize"]!.GetValue<long>(), o["toSize"]!.GetValue<long>(), hashes);
        });
    }

    public async Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken)
    {
        var text = await GetStringAsync(string.Create(CultureInfo.InvariantCulture, $"v1/entries?start={start}&limit={limit}"), cancellationToken).ConfigureAwait(false);
        return Answer("the entry list", () => ParseEntries(text));
    }

    private static (long Size, IReadOnlyList<LogEntrySummary> Entries) ParseEntries(string text)
    {
        var o = StrictJson.Parse(text)!;
        var entries = o["entries"]!.AsArray().Select(e => new LogEntrySummary(
            e!["index"]!.GetValue<long>(),
            e["name"]!.GetValue<string>(),
            e["version"]!.GetValue<string>(),
            e["imageDigest"]!.GetValue<string>(),
            e["manifestDigest"]!.GetValue<string>(),
            e["endpointId"]!.GetValue<string>(),
            e["publisher"]!.GetValue<string>(),
            DateTimeOffset.Parse(e["integratedAt"]!.GetValue<string>(), CultureInfo.InvariantCulture))).ToList();
        return (o["size"]!.GetValue<long>(), entries);
    }

    /// <summary>
    /// Reads an answer of the registry. The answer is untrusted input: whatever shape error it has (not JSON, a field
    /// missing or of another type, a key that is no key) is the registry's fault, reported as
    /// <see cref="RegistryErrorCodes.RegistryBadAnswer"/> with what was expected, never as a crash of the caller.
    /// </summary>
    private T Answer<T>(string what, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or InvalidCastException
                                       or NullReferenceException or KeyNotFoundException or ArgumentException or RegistryException or SigningException)
        {
            var detail = ex is InfraMindException coded ? $"{coded.Code} {coded.Message}" : ex.Message;
            throw new RegistryException(RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable,
                $"the registry at {_http.BaseAddress} did not answer {what} an InfraMind registry gives ({detail})", ex);
        }
    }

    private async Task<string> GetStringAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await Send(() => _http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken)).ConfigureAwait(false);
        return await ReadAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> Send(Func<Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.InvalidResponse or HttpRequestError.ConfigurationLimitExceeded)
        {
            // Not HTTP at all, or more than the caller's client holds in memory (its MaxResponseContentBufferSize).
            throw new RegistryException(RegistryErrorCodes.RegistryBadAnswer, RegistryErrorKind.Unavailable, $"the registry at {_http.BaseAddress} did not give a usable answer: {ex.Message}", ex);
        }
        catch (HttpRequestException ex)
        {
            var ended = ex.HttpRequestError is HttpRequestError.ResponseEnded;
            throw new RegistryException(RegistryErrorCodes.RegistryUnreachable, RegistryErrorKind.Unavailable, ended
                    ? $"the registry at {_http.BaseAddress} hung up before it answered ({NetworkFailure.Describe(ex)})"
                    : $"cannot reach the registry at {_http.BaseAddress} ({NetworkFailure.Describe(ex)})", ex,
                ended ? "check the registry's log, then retry" : "start it with `infra registry serve`, or pass --registry URL");
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            throw new RegistryException(RegistryErrorCodes.RegistryUnreachable, RegistryErrorKind.Unavailable,
                $"the registry at {_http.BaseAddress} did not answer within {_http.Timeout.TotalSeconds:0} s", ex, "check that the registry runs and is not overloaded, then retry");
        }
    }

    /// <summary>The start of an answer for a message: at most 200 characters, control characters shown as spaces.</summary>
    private static string Excerpt(string text)
    {
        var cut = text.Length > 200 ? text[..200] + "…" : text;
        return string.Create(cut.Length, cut, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = char.IsControl(source[i]) ? ' ' : source[i];
        });
    }

    private async Task<string> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return text;
        }

        string? code = null;
        string? detail = null;
        string? hint = null;
        try
        {
            var problem = StrictJson.Parse(text);
            code = problem?["code"]?.GetValue<string>();
            detail = problem?["detail"]?.GetValue<string>();
            // The registry's own advice where it raised the failure (its `hint`); a registry that gives none leaves the code's default.
            hint = ProblemMembers.HintOf(problem?["hint"] is JsonValue value && value.TryGetValue<string>(out var given) ? given : null);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Not a problem document (a proxy's error page): fall back to the status line.
        }

        var kind = response.StatusCode switch
        {
            HttpStatusCode.Forbidden => RegistryErrorKind.Forbidden,
            HttpStatusCode.NotFound => RegistryErrorKind.NotFound,
            HttpStatusCode.Conflict => RegistryErrorKind.Conflict,
            HttpStatusCode.UnprocessableEntity => RegistryErrorKind.Unprocessable,
            HttpStatusCode.ServiceUnavailable => RegistryErrorKind.Unavailable,
            >= HttpStatusCode.InternalServerError => RegistryErrorKind.Corrupt,
            _ => RegistryErrorKind.BadRequest,
        };
        var failure = kind is RegistryErrorKind.Unavailable or RegistryErrorKind.Corrupt ? FailureKind.Unavailable : FailureKind.CheckFailed;
        throw ErrorCode.IsWellFormed(code)
            ? new RegistryException(RegistryErrorCodes.FromWire(code!, failure), kind, detail ?? $"the registry answered {(int)response.StatusCode} {response.ReasonPhrase}", hint: hint)
            : new RegistryException(RegistryErrorCodes.RegistryHttpError, kind,
                $"the registry at {_http.BaseAddress} answered {(int)response.StatusCode} {response.ReasonPhrase} without a problem document: {Excerpt(text)}");
    }
}

namespace InfraMind.Serving;

/// <summary>
/// What came back for one input, as the judge needs it.
/// </summary>
/// <param name="StatusCode">The HTTP status of the answer.</param>
/// <param name="Body">The answer's bytes; null when it was longer than <paramref name="BodyLimit"/> (then not read on).</param>
/// <param name="BodyLimit">The most bytes the reader accepts.</param>
/// <param name="NodeVerdict">
/// A node's own verdict (its <see cref="MeshHeaders.Verdict"/> header): set only when the answer came through a node's
/// job API. A container's answer never carries one, whatever headers it sends: a model must not pass its own failure
/// off as a node's.
/// </param>
public sealed record ModelAnswer(int StatusCode, byte[]? Body, long BodyLimit, Verdict? NodeVerdict = null)
{
    /// <summary>
    /// How the status reads in a detail: the HTTP status, or a gRPC model's own status with its HTTP equivalent
    /// (<c>INVALID_ARGUMENT (400): …</c>).
    /// </summary>
    public string Status { get; init; } = StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A gRPC model's own status, as the specification writes it (OK, INVALID_ARGUMENT, …); null for an HTTP answer.</summary>
    public string? GrpcStatus { get; init; }

    /// <summary>
    /// A gRPC answer that breaks the protocol itself (UNIMPLEMENTED, no <c>json</c> tensor, a malformed message): the
    /// verdict whatever the input was.
    /// </summary>
    public Judgement? ProtocolFailure { get; init; }

    /// <summary>The most bytes of an answer a reader takes by default (the gateway's <c>MaxResponseBytes</c>, `infra test`).</summary>
    public const long DefaultBodyLimit = 16 * 1024 * 1024;

    /// <summary>
    /// Reads <paramref name="response"/>'s status and body, at most <paramref name="limit"/> bytes of it.
    /// <paramref name="fromNode"/>: the answer came through a node's job API, whose verdict header is then honoured.
    /// </summary>
    public static async Task<ModelAnswer> ReadAsync(HttpResponseMessage response, long limit, bool fromNode, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        var verdict = fromNode && response.Headers.TryGetValues(MeshHeaders.Verdict, out var v) ? Verdict.FromWireName(v.FirstOrDefault()) : null;
        // A 101 (the one 1xx a client hands back) switched to a protocol the request never asked for: what follows it is
        // the raw connection, which a model keeps open for as long as it likes. Judged by its status, nothing read.
        if (response.StatusCode < System.Net.HttpStatusCode.OK) return new ModelAnswer((int)response.StatusCode, [], limit, verdict);
        var body = await BoundedBody.ReadAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false),
            response.Content.Headers.ContentLength, limit, cancellationToken).ConfigureAwait(false);
        return new ModelAnswer((int)response.StatusCode, body, limit, verdict);
    }
}

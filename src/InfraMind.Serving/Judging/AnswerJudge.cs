using System.Text;
using System.Text.Json;
using InfraMind.Manifest;

namespace InfraMind.Serving;

/// <summary>How one answer was judged: passed (no verdict), or a verdict with why.</summary>
/// <param name="Violations">Where the answer breaks output_schema, when that is the verdict.</param>
public sealed record Judgement(Verdict? Verdict, string Detail, IReadOnlyList<SchemaViolation> Violations)
{
    public bool Passed => Verdict is null;

    internal static Judgement Pass(string detail) => new(null, detail, []);

    internal static Judgement Fail(Verdict verdict, string detail, IReadOnlyList<SchemaViolation>? violations = null) => new(verdict, detail, violations ?? []);
}

/// <summary>
/// The one judge of a model's answers: `infra test`'s cases, a node's pre-flight and every attempt at the gateway are
/// judged by these rules, so a model that passes one passes all. A valid input (one that matches input_schema) must
/// get 200 with JSON that matches output_schema; an invalid one must get a 4xx.
/// </summary>
public static class AnswerJudge
{
    /// <summary>How many schema violations a detail names (all that were found, at most ModelSchema.MaxViolations, stay in <see cref="Judgement.Violations"/>).</summary>
    private const int ViolationsNamed = 5;

    private static readonly JsonDocumentOptions StrictDocument = new() { AllowDuplicateProperties = false };

    /// <summary>Judges <paramref name="answer"/> to a valid input (<paramref name="validInput"/>) or to one input_schema forbids.</summary>
    public static Judgement Judge(ModelAnswer answer, bool validInput, ModelSchema outputSchema)
    {
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(outputSchema);
        var status = answer.StatusCode;
        if (answer.NodeVerdict is { } own) return Judgement.Fail(own, $"the node answered {status}");
        if (answer.ProtocolFailure is { } broken) return broken;
        var said = answer.Status;
        if (!validInput)
        {
            return status switch
            {
                >= 400 and < 500 => Judgement.Pass($"rejected with {said} as it should"),
                >= 500 => Judgement.Fail(Verdict.ServerErrorOnInvalidInput, $"the model answered {said} to an invalid input; it must answer 4xx with a JSON error (gRPC: INVALID_ARGUMENT)"),
                _ => Judgement.Fail(Verdict.AcceptedInvalidInput, $"the model answered {said} to an input that input_schema forbids; it must answer 4xx (gRPC: INVALID_ARGUMENT)"),
            };
        }

        if (status >= 500) return Judgement.Fail(Verdict.ServerErrorOnValidInput, $"the model answered {said} to a valid input");
        if (status != 200)
            return Judgement.Fail(Verdict.RejectedValidInput, $"the model answered {said} to an input that matches input_schema; expected 200 (gRPC: OK)");
        if (answer.Body is not { } body)
            return TooLarge(answer.BodyLimit);

        // JSON is UTF-8 (RFC 8259), and the parser checks string contents only when they are read: an answer with
        // other bytes in a string would otherwise fail later, in the schema check, as an error of InfraMind's own.
        if (!System.Text.Unicode.Utf8.IsValid(body))
            return Judgement.Fail(Verdict.ResponseNotJson, "the answer is not JSON: it holds bytes that are not UTF-8");

        JsonDocument document;
        try
        {
            // A key twice is refused: which of its values a client reads depends on the client (the first here, the
            // last in Python and JavaScript), so output_schema could pass the one a client never sees.
            document = JsonDocument.Parse(body, StrictDocument);
        }
        catch (JsonException e)
        {
            return Judgement.Fail(Verdict.ResponseNotJson, $"the answer is not JSON: {e.Message}");
        }

        using (document)
        {
            // The cheap check first: the detailed one only runs for an answer that fails.
            SchemaViolations violations;
            try
            {
                if (outputSchema.IsValid(document.RootElement)) return Judgement.Pass("200, matches output_schema");
                violations = outputSchema.Validate(document.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // A string the reader cannot give as text (an escaped lone surrogate, "\ud800"): not JSON text a client can use.
                return Judgement.Fail(Verdict.ResponseNotJson, $"the answer is not JSON text a client can read: {e.Message}");
            }

            return violations.Count == 0
                ? Judgement.Pass("200, matches output_schema")
                : Judgement.Fail(Verdict.OutputSchemaViolation, "the answer does not match output_schema: " + string.Join("; ", violations.Take(ViolationsNamed)), violations);
        }
    }

    /// <summary>The answer ran past <paramref name="limit"/> bytes: it was read no further and its connection dropped.</summary>
    public static Judgement TooLarge(long limit) =>
        Judgement.Fail(Verdict.ResponseTooLarge, $"the answer is larger than {limit} bytes, the most accepted; it was read no further");

    /// <summary>No answer came within <paramref name="limit"/>.</summary>
    public static Judgement NoAnswerWithin(TimeSpan limit) =>
        Judgement.Fail(Verdict.RequestTimeout, $"no answer within {Seconds(limit)} s");

    /// <summary>
    /// The connection failed (refused, reset, broken) before an answer: on a valid input a matter of where it ran; on an
    /// invalid one the model's, which must answer it with a 4xx and not drop or crash.
    /// </summary>
    public static Judgement ConnectionFailed(bool validInput, string reason) => validInput
        ? Judgement.Fail(Verdict.ConnectionFailed, $"the connection failed: {reason}")
        : Judgement.Fail(Verdict.ServerErrorOnInvalidInput, $"the connection failed: {reason} (an invalid input must get a 4xx, not a dropped connection)");

    /// <summary>
    /// No answer could be read from the model's own server (straight from its container, never through a node):
    /// an answer that is not HTTP (a garbage status line, a malformed header or chunk) or whose headers are over the
    /// client's limit is the model's doing, <see cref="Verdict.MalformedAnswer"/>, on any input, as a gRPC answer that
    /// is not protobuf is; anything else (refused, reset, closed before a whole answer) is <see cref="ConnectionFailed"/>.
    /// Only for a connection to the container: what a node's job API sends is the node's, whatever it is.
    /// </summary>
    public static Judgement Unreadable(bool validInput, Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var reason = NetworkFailure.Describe(failure);
        // Thrown by the body's read (not wrapped by the send): the headers came, and the answer ended short of the body
        // they declared (a Content-Length larger than what was sent, a chunked body without its last chunk).
        if (failure is HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded })
            return Judgement.Fail(Verdict.MalformedAnswer, "the model's container ended its answer before the body its headers declared " +
                "(a Content-Length larger than the body sent, or a chunked body without its last chunk), then closed the connection");
        return NetworkFailure.HttpError(failure) is HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError or HttpRequestError.ConfigurationLimitExceeded
            ? Judgement.Fail(Verdict.MalformedAnswer, $"the model's container answered what is not a valid HTTP/1.1 answer: {reason}")
            : ConnectionFailed(validInput, $"the model's container did not answer: {reason}");
    }

    /// <summary>The first <paramref name="max"/> characters of an answer, to quote it in a detail.</summary>
    public static string Snippet(ReadOnlySpan<byte> body, int max = 200)
    {
        var text = Encoding.UTF8.GetString(body[..Math.Min(body.Length, max)]);
        return body.Length > max ? text + "…" : text;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}

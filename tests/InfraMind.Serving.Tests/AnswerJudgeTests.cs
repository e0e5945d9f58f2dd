using System.Net;
using System.Text;
using InfraMind.Testing;

namespace InfraMind.Serving.Tests;

/// <summary>
/// The one judge: every verdict it can give, for a valid input (what the gateway sends, and `infra test`'s positive
/// cases) and for an invalid one (`infra test`'s negative cases).
/// </summary>
public sealed class AnswerJudgeTests
{
    private static readonly InfraMind.Manifest.ModelSchema Output = Models.Echo().OutputSchema;

    private static ModelAnswer Answer(int status, string? body, Verdict? node = null, long limit = 1024) =>
        new(status, body is null ? null : Encoding.UTF8.GetBytes(body), limit, node);

    private static Judgement Valid(ModelAnswer a) => AnswerJudge.Judge(a, validInput: true, Output);

    private static Judgement Invalid(ModelAnswer a) => AnswerJudge.Judge(a, validInput: false, Output);

    [Fact]
    public void A_valid_input_answered_200_with_a_matching_answer_passes()
    {
        var j = Valid(Answer(200, """{"summary": "ok"}"""));
        Assert.True(j.Passed);
        Assert.Null(j.Verdict);
        Assert.Empty(j.Violations);
    }

    [Theory]
    [InlineData(500, "server-error-on-valid-input", "the model answered 500 to a valid input")]
    [InlineData(503, "server-error-on-valid-input", "answered 503")]
    [InlineData(400, "rejected-valid-input", "the model answered 400 to an input that matches input_schema")]
    [InlineData(201, "rejected-valid-input", "expected 200")]
    [InlineData(302, "rejected-valid-input", "answered 302")]
    public void A_valid_input_must_get_200(int status, string verdict, string detail)
    {
        var j = Valid(Answer(status, """{"summary": "ok"}"""));
        Assert.Equal(verdict, j.Verdict?.WireName);
        Assert.Contains(detail, j.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_with_a_key_twice_is_not_json_whichever_value_comes_first()
    {
        // Found by an audit: the first value was checked, while Python and JavaScript clients read the last.
        foreach (var body in new[] { """{"summary": "ok", "summary": 5}""", """{"summary": 5, "summary": "ok"}""" })
        {
            var j = Valid(Answer(200, body));
            Assert.Equal("response-not-json", j.Verdict?.WireName);
        }
    }

    [Fact]
    public void An_answer_with_bytes_that_are_not_utf8_or_an_escaped_lone_surrogate_is_not_json_never_an_error_of_the_judge()
    {
        // Found by an audit: both reached the schema check and threw there (infra test's internal error, IM0001).
        byte[] bytes = [.. "{\"summary\": \"ok"u8, 0xff, 0xfe, .. "\"}"u8];
        var raw = AnswerJudge.Judge(new ModelAnswer(200, bytes, 1024), validInput: true, Output);
        Assert.Equal("response-not-json", raw.Verdict?.WireName);
        Assert.Contains("not UTF-8", raw.Detail, StringComparison.Ordinal);

        // Where the schema reads the string (maxLength), the reader cannot give it as text.
        var reads = InfraMind.Manifest.ModelSchema.Create(System.Text.Json.Nodes.JsonNode.Parse("""{"type":"object","properties":{"summary":{"type":"string","maxLength":10}}}""")!);
        var escaped = AnswerJudge.Judge(Answer(200, """{"summary": "ok\ud800"}"""), validInput: true, reads);
        Assert.Equal("response-not-json", escaped.Verdict?.WireName);
        Assert.True(AnswerJudge.Judge(Answer(200, """{"summary": "ok"}"""), validInput: true, reads).Passed);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("{\"summary\": ")]
    public void An_answer_that_is_not_json_is_response_not_json(string body)
    {
        var j = Valid(Answer(200, body));
        Assert.Same(Verdict.ResponseNotJson, j.Verdict);
        Assert.Contains("not JSON", j.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_over_the_readers_limit_is_response_too_large_and_names_the_limit()
    {
        var j = Valid(Answer(200, null, limit: 4096));
        Assert.Same(Verdict.ResponseTooLarge, j.Verdict);
        Assert.Contains("4096 bytes", j.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_that_breaks_output_schema_names_each_violation_with_its_pointer()
    {
        var j = Valid(Answer(200, """{"summary": 5, "extra": true}"""));
        Assert.Same(Verdict.OutputSchemaViolation, j.Verdict);
        Assert.Contains(j.Violations, v => v.Pointer == "/summary");
        Assert.Contains("/summary", j.Detail, StringComparison.Ordinal);
        Assert.Same(Verdict.OutputSchemaViolation, Valid(Answer(200, "[]")).Verdict);
    }

    [Fact]
    public void A_nodes_own_verdict_is_taken_as_it_is()
    {
        var j = Valid(Answer(504, """{"verdict":"request-timeout"}""", Verdict.RequestTimeout));
        Assert.Same(Verdict.RequestTimeout, j.Verdict);
        Assert.Contains("the node answered 504", j.Detail, StringComparison.Ordinal);
        Assert.Same(Verdict.NotReady, Valid(Answer(503, "{}", Verdict.NotReady)).Verdict);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(422)]
    [InlineData(499)]
    public void An_invalid_input_rejected_with_a_4xx_passes(int status)
    {
        var j = Invalid(Answer(status, """{"error": "text is required"}"""));
        Assert.True(j.Passed);
        Assert.Contains($"rejected with {status}", j.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(500, "server-error-on-invalid-input", "the model answered 500 to an invalid input")]
    [InlineData(200, "accepted-invalid-input", "the model answered 200 to an input that input_schema forbids")]
    [InlineData(204, "accepted-invalid-input", "must answer 4xx")]
    [InlineData(301, "accepted-invalid-input", "answered 301")]
    public void An_invalid_input_must_get_a_4xx(int status, string verdict, string detail)
    {
        var j = Invalid(Answer(status, """{"summary": "ok"}"""));
        Assert.Equal(verdict, j.Verdict?.WireName);
        Assert.Contains(detail, j.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void No_answer_in_time_is_request_timeout()
    {
        var j = AnswerJudge.NoAnswerWithin(TimeSpan.FromMilliseconds(1500));
        Assert.Same(Verdict.RequestTimeout, j.Verdict);
        Assert.Equal("no answer within 1.5 s", j.Detail);
    }

    [Fact]
    public void A_dropped_connection_is_the_nodes_on_a_valid_input_and_the_models_on_an_invalid_one()
    {
        Assert.Same(Verdict.ConnectionFailed, AnswerJudge.ConnectionFailed(validInput: true, "reset").Verdict);
        var invalid = AnswerJudge.ConnectionFailed(validInput: false, "reset");
        Assert.Same(Verdict.ServerErrorOnInvalidInput, invalid.Verdict);
        Assert.Contains("an invalid input must get a 4xx", invalid.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_verdict_the_judge_gives_is_one_of_the_list()
    {
        var given = new[]
        {
            Valid(Answer(500, "x")), Valid(Answer(404, "x")), Valid(Answer(200, null)), Valid(Answer(200, "x")), Valid(Answer(200, "{}")),
            Invalid(Answer(500, "x")), Invalid(Answer(200, "x")), AnswerJudge.NoAnswerWithin(TimeSpan.FromSeconds(1)),
            AnswerJudge.ConnectionFailed(true, "x"), AnswerJudge.ConnectionFailed(false, "x"),
        }.Select(j => j.Verdict!).ToHashSet();
        Assert.Equal(9, given.Count);
        Assert.All(given, v => Assert.Contains(v, Verdict.All));
    }

    [Fact]
    public async Task A_containers_verdict_header_is_ignored_and_a_nodes_is_honoured()
    {
        // A real HTTP answer: a model that fails and claims, in the node's header, that the node did it.
        await using var model = new ListenerServer(async (context, ct) =>
        {
            context.Response.StatusCode = 500;
            context.Response.Headers[MeshHeaders.Verdict] = Verdict.ConnectionFailed.WireName;
            await context.Response.OutputStream.WriteAsync("""{"error": "boom"}"""u8.ToArray(), ct);
            context.Response.Close();
        });
        using var http = JobHttp.CreateClient();

        async Task<Judgement> JudgeAsync(bool fromNode)
        {
            using var response = await http.PostAsync(model.BaseUri, new StringContent("""{"text": "x"}""", Encoding.UTF8, "application/json"));
            return AnswerJudge.Judge(await ModelAnswer.ReadAsync(response, 1024, fromNode, CancellationToken.None), validInput: true, Output);
        }

        Assert.Same(Verdict.ServerErrorOnValidInput, (await JudgeAsync(fromNode: false)).Verdict);
        Assert.Same(Verdict.ConnectionFailed, (await JudgeAsync(fromNode: true)).Verdict);
    }

    [Fact]
    public async Task The_reader_keeps_no_more_than_its_limit_with_or_without_a_declared_length()
    {
        var big = new byte[10_000];
        Assert.Null(await BoundedBody.ReadAsync(new MemoryStream(big), big.Length, 9_999, CancellationToken.None));
        Assert.Null(await BoundedBody.ReadAsync(new MemoryStream(big), null, 9_999, CancellationToken.None));
        Assert.Equal(10_000, (await BoundedBody.ReadAsync(new MemoryStream(big), null, 10_000, CancellationToken.None))!.Length);
        Assert.Equal(10_000, (await BoundedBody.ReadAsync(new MemoryStream(big), big.Length, 10_000, CancellationToken.None))!.Length);
        using var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(big) };
        var answer = await ModelAnswer.ReadAsync(response, 100, fromNode: false, CancellationToken.None);
        Assert.Null(answer.Body);
        var judged = AnswerJudge.Judge(answer, true, Output);
        Assert.Same(Verdict.ResponseTooLarge, judged.Verdict);
        Assert.Contains("larger than 100 bytes", judged.Detail, StringComparison.Ordinal);
        Assert.Equal((judged.Verdict, judged.Detail), (AnswerJudge.TooLarge(100).Verdict, AnswerJudge.TooLarge(100).Detail));
    }

    [Theory]
    [InlineData(HttpRequestError.InvalidResponse, true, "malformed-answer")]
    [InlineData(HttpRequestError.InvalidResponse, false, "malformed-answer")]
    [InlineData(HttpRequestError.ConfigurationLimitExceeded, true, "malformed-answer")]
    [InlineData(HttpRequestError.HttpProtocolError, true, "malformed-answer")]
    [InlineData(HttpRequestError.ResponseEnded, true, "connection-failed")]
    [InlineData(HttpRequestError.ResponseEnded, false, "server-error-on-invalid-input")]
    [InlineData(HttpRequestError.ConnectionError, true, "connection-failed")]
    public void An_answer_from_the_container_that_is_not_HTTP_is_the_models_anything_else_a_failed_connection(HttpRequestError error, bool valid, string verdict)
    {
        var judged = AnswerJudge.Unreadable(valid, new HttpRequestException(error, "the .NET text"));
        Assert.Equal(verdict, judged.Verdict!.WireName);
        Assert.DoesNotContain("the .NET text", judged.Detail, StringComparison.Ordinal);

        // The same when the body's read fails (HttpIOException), wrapped as the handler wraps it.
        var body = AnswerJudge.Unreadable(valid, new IOException("reading", new HttpIOException(error, "inner")));
        Assert.Equal(verdict, body.Verdict!.WireName);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_answer_that_ends_short_of_the_body_its_headers_declared_is_the_models(bool valid)
    {
        // What SocketsHttpHandler throws from the body's read when the connection closes before Content-Length bytes
        // (or the last chunk) came: the headers came first, so the model's server did answer, and ended it short.
        var judged = AnswerJudge.Unreadable(valid, new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely"));
        Assert.Equal("malformed-answer", judged.Verdict!.WireName);
        Assert.Contains("before the body its headers declared", judged.Detail, StringComparison.Ordinal);

        // Before any header (thrown by the send): no answer at all, as a closed connection always was.
        var none = AnswerJudge.Unreadable(valid, new HttpRequestException(HttpRequestError.ResponseEnded, "x", new HttpIOException(HttpRequestError.ResponseEnded, "y")));
        Assert.Equal(valid ? "connection-failed" : "server-error-on-invalid-input", none.Verdict!.WireName);
    }
}

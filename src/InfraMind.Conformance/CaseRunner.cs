using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Conformance;

/// <summary>Sends one synthetic case to a model's REST interface; <see cref="AnswerJudge"/> judges the answer, as the gateway does.</summary>
internal static class CaseRunner
{
    private const int KeepChars = 2048;

    public static async Task<CaseResult> RunAsync(
        HttpClient http, Uri endpoint, SyntheticCase c, ModelSchema outputSchema, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(c);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(c.Body, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        ModelAnswer answer;
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            // Straight from the container: no node in between, so no header of the model's can name a node's verdict.
            answer = await ModelAnswer.ReadAsync(response, ModelAnswer.DefaultBodyLimit, fromNode: false, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Result(c, AnswerJudge.NoAnswerWithin(timeout), null, clock.Elapsed, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Result(c, AnswerJudge.ConnectionFailed(c.Positive, e.Message), null, clock.Elapsed, null);
        }

        var latency = clock.Elapsed;
        var judgement = AnswerJudge.Judge(answer, c.Positive, outputSchema);
        return Result(c, judgement, answer.StatusCode, latency, answer.Body is { } bytes ? Encoding.UTF8.GetString(bytes) : null);
    }

    private static CaseResult Result(SyntheticCase c, Judgement judgement, int? code, TimeSpan latency, string? body) =>
        new(c.Name, c.Positive, judgement.Passed ? CheckStatus.Passed : CheckStatus.Failed, judgement.Verdict, code,
            Math.Round(latency.TotalMilliseconds, 3), judgement.Detail, Trim(c.Body), body is null ? null : Trim(body), judgement.Violations);

    private static string Trim(string s) => s.Length <= KeepChars ? s : s[..KeepChars] + $"… ({s.Length} chars)";
}

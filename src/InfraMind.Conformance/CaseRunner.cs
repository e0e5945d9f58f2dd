using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfraMind.Manifest;

namespace InfraMind.Conformance;

/// <summary>Sends one synthetic case to a model's REST interface and judges the answer.</summary>
public static class CaseRunner
{
    private const int KeepChars = 2048;

    public static async Task<CaseResult> RunAsync(
        HttpClient http, Uri endpoint, SyntheticCase c, ModelSchema outputSchema, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(c.Body, Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        int status;
        string body;
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
            status = (int)response.StatusCode;
            body = await response.Content.ReadAsStringAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Result(c, CheckStatus.Failed, Verdicts.RequestTimeout, null, clock, $"no answer within {timeout.TotalSeconds:0.###} s", null);
        }
        catch (HttpRequestException e)
        {
            return Result(c, CheckStatus.Failed, c.Positive ? Verdicts.ConnectionFailed : Verdicts.ServerErrorOnInvalidInput, null, clock,
                $"the connection failed: {e.Message}" + (c.Positive ? "" : " (an invalid input must get a 4xx, not a dropped connection)"), null);
        }

        var latency = clock;
        if (!c.Positive)
        {
            return status switch
            {
                >= 400 and < 500 => Result(c, CheckStatus.Passed, null, status, latency, $"rejected with {status} as it should", body),
                >= 500 => Result(c, CheckStatus.Failed, Verdicts.ServerErrorOnInvalidInput, status, latency,
                    $"answered {status} to an invalid input; it must answer 4xx with a JSON error", body),
                _ => Result(c, CheckStatus.Failed, Verdicts.AcceptedInvalidInput, status, latency,
                    $"answered {status} to an input that input_schema forbids; it must answer 4xx", body),
            };
        }

        if (status >= 500)
            return Result(c, CheckStatus.Failed, Verdicts.ServerErrorOnValidInput, status, latency, $"answered {status} to a valid input", body);
        if (status != 200)
            return Result(c, CheckStatus.Failed, Verdicts.RejectedValidInput, status, latency, $"answered {status} to an input that matches input_schema; expected 200", body);

        JsonElement answer;
        try
        {
            using var doc = JsonDocument.Parse(body);
            answer = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return Result(c, CheckStatus.Failed, Verdicts.ResponseNotJson, status, latency, $"the answer is not JSON: {e.Message}", body);
        }

        var violations = outputSchema.Validate(answer);
        if (violations.Count > 0)
        {
            return Result(c, CheckStatus.Failed, Verdicts.OutputSchemaViolation, status, latency,
                "the answer does not match output_schema: " + string.Join("; ", violations.Take(5)), body, violations);
        }

        return Result(c, CheckStatus.Passed, null, status, latency, "200, matches output_schema", body);
    }

    private static CaseResult Result(
        SyntheticCase c, CheckStatus status, string? verdict, int? code, Stopwatch clock, string detail, string? body,
        IReadOnlyList<SchemaViolation>? violations = null) =>
        new(c.Name, c.Positive, status, verdict, code, Math.Round(clock.Elapsed.TotalMilliseconds, 3), detail, Trim(c.Body), body is null ? null : Trim(body), violations ?? []);

    private static string Trim(string s) => s.Length <= KeepChars ? s : s[..KeepChars] + $"… ({s.Length} chars)";
}

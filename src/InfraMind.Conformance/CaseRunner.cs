using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;

namespace InfraMind.Conformance;

/// <summary>
/// Sends the synthetic cases to a model's REST interface (or its Open Inference Protocol V2 gRPC API, under the
/// <c>json</c> tensor convention), through the container's connector, and has
/// <see cref="AnswerJudge"/> judge each answer, as the gateway does. Answers are read against a cap and every request
/// against its time budget; when the model stops answering the cause is named (exited, killed for memory, pids limit).
/// </summary>
internal static class CaseRunner
{
    private const int KeepChars = 2048;

    /// <summary>The cases step: every case in turn, until the container exits or the model stops answering in time.</summary>
    public static async Task<(IReadOnlyList<CaseResult> Cases, StepResult Step)> RunAllAsync(
        IReadOnlyList<SyntheticCase> cases, ModelManifest manifest, RunningContainer container, ConformanceOptions options, Task<long> exited,
        Action<CaseResult> finished, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var outputSchema = manifest.OutputSchema;
        using var http = JobHttp.CreateClient();
        var route = ContainerRoute.Of(container);
        using var grpc = manifest.Protocol == ModelProtocol.Grpc ? new ModelChannel(route, manifest.Name, manifest.Version.ToString(), options.MaxResponseBytes) : null;
        var sniffed = false;
        var results = new List<CaseResult>();
        StepResult? cause = null;
        var timedOut = false;
        foreach (var c in cases)
        {
            if (exited.IsCompleted) break;
            var result = grpc is null
                ? await RunAsync(http, route, c, outputSchema, options.RequestTimeout, options.MaxResponseBytes, cancellationToken)
                : await RunAsync(grpc, c, outputSchema, options.RequestTimeout, cancellationToken);
            if (grpc is null && !sniffed && result.StatusCode is null && result.Verdict is { } dropped && (dropped == Verdict.ConnectionFailed || dropped == Verdict.ServerErrorOnInvalidInput || dropped == Verdict.MalformedAnswer))
            {
                // A REST request that no HTTP/1.1 answer came back to: an h2c (gRPC) server drops HTTP/1.1 requests, or
                // answers them with HTTP/2 frames. Say so.
                sniffed = true;
                if (await ProtocolSniffer.SniffAsync(route, TimeSpan.FromSeconds(1), cancellationToken) == PortProtocol.Http2)
                {
                    result = result with
                    {
                        Verdict = Verdict.WrongProtocol,
                        Detail = $"port {manifest.Port} speaks {ProtocolSniffer.Describe(PortProtocol.Http2)}, but model.yaml declares protocol: rest " +
                            $"(HTTP/1.1 POST /); declare protocol: grpc or serve REST on the port (seen as: {result.Detail})",
                    };
                    results.Add(result);
                    finished(result);
                    break;
                }
            }

            if (result.Verdict == Verdict.ConnectionFailed || result.Verdict == Verdict.RequestTimeout || (result.Verdict == Verdict.ServerErrorOnInvalidInput && result.StatusCode is null))
            {
                // A refused or dropped connection, or silence, is the symptom; a dead container or a pids limit is the cause.
                cause = await ContainerDiagnosis.CauseAsync(ConformanceSteps.Cases, container, exited, cancellationToken);
                if (cause is not null && (cause.Verdict != Verdict.ContainerExited || c.Positive))
                    result = result with { Verdict = cause.Verdict, Detail = $"{cause.Detail} (while answering this case; seen as: {result.Detail})" };
            }

            results.Add(result);
            finished(result);
            if (cause is not null) break;
            if (result.Verdict == Verdict.RequestTimeout)
            {
                // One silence is enough to fail the run; the rest would each wait the whole budget again.
                timedOut = true;
                break;
            }
        }

        if (cause is null && exited.IsCompleted) cause = await ContainerDiagnosis.ExitedAsync(ConformanceSteps.Cases, container, cancellationToken);
        var notSent = cases.Count - results.Count;
        if (cause is not null)
        {
            var last = results.LastOrDefault();
            var during = last is null ? "" : $" at case '{last.Name}' ({(last.Positive ? "valid" : "invalid")} input)";
            // A crash on an invalid input is the model's answer to it: it must get a 4xx, not take the server down.
            var verdict = cause.Verdict == Verdict.ContainerExited && last is { Positive: false } ? Verdict.ServerErrorOnInvalidInput : cause.Verdict;
            return (results, Step(CheckStatus.Failed, verdict, $"{cause.Detail}{during}" + NotSent(notSent)));
        }

        var failed = results.Count(r => r.Status == CheckStatus.Failed);
        var detail = Tally(results) + (timedOut ? NotSent(notSent) : "");
        return failed == 0 && results.Any(r => r.Positive)
            ? (results, Step(CheckStatus.Passed, null, detail))
            : (results, Step(CheckStatus.Failed, results.FirstOrDefault(r => r.Status == CheckStatus.Failed)?.Verdict, detail));

        StepResult Step(CheckStatus status, Verdict? verdict, string text) => new(ConformanceSteps.Cases, status, verdict, text, clock.Elapsed);
    }

    /// <summary>
    /// "N/M passed" and the median time of the valid inputs sent, each as measured whatever came back (an answer, an
    /// error, a dropped connection, the request budget run out): before, it was of the answered valid inputs only, and
    /// a run where none was answered said "p50 0 ms" of cases that took their time.
    /// </summary>
    internal static string Tally(IReadOnlyList<CaseResult> results)
    {
        var passed = results.Count(r => r.Status == CheckStatus.Passed);
        var valid = results.Where(r => r.Positive).Select(r => r.LatencyMs).Order().ToList();
        var p50 = valid.Count == 0
            ? "no p50: no valid input was sent"
            : string.Create(CultureInfo.InvariantCulture, $"p50 {valid[valid.Count / 2]:0.#} ms over {valid.Count} valid input{(valid.Count == 1 ? "" : "s")}");
        return $"{passed}/{results.Count} passed, {p50}";
    }

    private static string NotSent(int count) =>
        count == 0 ? "" : $"; {count} more case(s) not sent: the model stopped answering within the request budget";

    public static async Task<CaseResult> RunAsync(
        HttpClient http, IModelConnector route, SyntheticCase c, ModelSchema outputSchema, TimeSpan timeout, long maxResponseBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(c);
        using var request = JobHttp.ForConnector(route);
        request.Content = new StringContent(c.Body, Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        ModelAnswer answer;
        string? started = null;
        try
        {
            // Disposing an answer not read to its end drops the connection (JobHttp never drains): nothing past the cap is read.
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            started = string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode}, ") +
                (response.Content.Headers.ContentLength is { } length ? string.Create(CultureInfo.InvariantCulture, $"Content-Length {length}") : "chunked or read to the connection's end");
            // Straight from the container: no node in between, so no header of the model's can name a node's verdict.
            answer = await ModelAnswer.ReadAsync(response, maxResponseBytes, fromNode: false, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var judgement = AnswerJudge.NoAnswerWithin(timeout);
            // The model answered its headers: a body that never completes is a Content-Length larger than the body sent, or a stall.
            if (started is not null)
                judgement = judgement with { Detail = judgement.Detail + $": the answer started ({started}) but its body did not finish: a Content-Length larger than the body sent, or a model that stalled mid-answer" };
            return Result(c, judgement, null, clock.Elapsed, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return Result(c, AnswerJudge.Unreadable(c.Positive, e), null, clock.Elapsed, null);
        }

        var latency = clock.Elapsed;
        var judged = AnswerJudge.Judge(answer, c.Positive, outputSchema);
        return Result(c, judged, answer.StatusCode, latency, answer.Body is { } bytes ? Quote(bytes) : null);
    }

    /// <summary>One case through ModelInfer: the same catches and judge as the REST path (<see cref="ModelChannel"/> fails alike).</summary>
    public static async Task<CaseResult> RunAsync(ModelChannel channel, SyntheticCase c, ModelSchema outputSchema, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ArgumentNullException.ThrowIfNull(c);
        var clock = Stopwatch.StartNew();
        ModelAnswer answer;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            answer = await channel.InferAsync(Encoding.UTF8.GetBytes(c.Body), timeout, deadline.Token);
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
        var judged = AnswerJudge.Judge(answer, c.Positive, outputSchema);
        return Result(c, judged, answer.StatusCode, latency, answer.Body is { } bytes ? Quote(bytes) : null, answer.GrpcStatus);
    }

    private static CaseResult Result(SyntheticCase c, Judgement judgement, int? code, TimeSpan latency, string? response, string? grpcStatus = null) =>
        new(c.Name, c.Positive, judgement.Passed ? CheckStatus.Passed : CheckStatus.Failed, judgement.Verdict, code,
            Math.Round(latency.TotalMilliseconds, 3), judgement.Detail, Trim(c.Body), response, judgement.Violations)
        {
            GrpcStatus = grpcStatus,
            RequestLength = c.Body.Length,
        };

    /// <summary>The start of an answer, for the report: a 16 MiB answer is not decoded whole to show 2048 characters of it.</summary>
    private static string Quote(byte[] body)
    {
        var head = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, KeepChars)));
        return body.Length <= KeepChars ? head : $"{head}… ({body.Length} bytes)";
    }

    private static string Trim(string s) => s.Length <= KeepChars ? s : s[..KeepChars] + $"… ({s.Length} chars)";
}

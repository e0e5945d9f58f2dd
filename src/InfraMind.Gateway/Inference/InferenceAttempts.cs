using System.Diagnostics;
using System.Net.Http.Headers;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;

namespace InfraMind.Gateway.Inference;

/// <summary>One attempt's outcome on one node.</summary>
internal sealed record AttemptResult(string Node, Verdict? Verdict, string Detail, int? Status, double Ms);

/// <summary>
/// One attempt of a request on one node: the job sent (through the node's job API, or straight to a local container),
/// the answer read against the gateway's limit and judged against output_schema, the node's standing updated.
/// </summary>
internal sealed class InferenceAttempts(MeshState mesh, GatewayOptions options, GatewayMetrics metrics, HttpClient nodes)
{
    public async Task<(AttemptResult Result, byte[]? Answer)> AttemptAsync(ServedModel model, string node, int number, byte[] body, CancellationToken ct)
    {
        // The HTTP call inside is this span's child, and the node's (or the container's) traceparent names that call.
        using var span = MeshTracing.Gateway.StartActivity("attempt");
        span?.SetTag(MeshTracing.RoleTag, "gateway");
        span?.SetTag(MeshTracing.NodeTag, node);
        span?.SetTag(MeshTracing.ModelTag, model.Key);
        span?.SetTag(MeshTracing.AttemptTag, number);
        var route = mesh.RouteOf(node, model.Published.Name, model.Published.Version.ToString())!;
        var clock = Stopwatch.StartNew();
        mesh.Begin(node);
        Judgement judgement;
        int? status = null;
        // The node's going offline ends the attempt too: the request moves on instead of waiting out the time limit.
        var gone = mesh.GoneToken(node);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct, gone);
        // Through a node, the node gets the limit and gives up first; the gateway's own limit is a little later as a backstop.
        limit.CancelAfter(route.Direct ? options.AttemptTimeout : options.AttemptTimeout + TimeSpan.FromMilliseconds(500));
        try
        {
            using var request = route.Connector is { } connector ? JobHttp.ForConnector(connector) : new HttpRequestMessage(HttpMethod.Post, route.Target);
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            if (!route.Direct)
            {
                request.Headers.TryAddWithoutValidation(MeshHeaders.TimeoutMs, ((long)options.AttemptTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
                // The node's own credential, not the mesh token: only this gateway and that node know it.
                MeshToken.Authorize(request.Headers, route.Credential);
            }

            using var response = await nodes.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            status = (int)response.StatusCode;
            // Read against the limit, never beyond: over it, the answer is response-too-large and its connection dropped.
            // A node's verdict header counts only from a node: straight from a container it would be the model's word.
            var answer = await ModelAnswer.ReadAsync(response, options.MaxResponseBytes, fromNode: !route.Direct, limit.Token);
            // The gateway sends only inputs that match input_schema.
            judgement = AnswerJudge.Judge(answer, validInput: true, model.Manifest.OutputSchema);
            if (judgement.Passed)
            {
                mesh.RecordSuccess(node, model.Key, clock.Elapsed.TotalMilliseconds);
                metrics.Attempt(model.Published.Name, node, "ok");
                span?.SetStatus(ActivityStatusCode.Ok);
                return (new AttemptResult(node, null, "ok", status, clock.Elapsed.TotalMilliseconds), answer.Body);
            }

            // The answer is the evidence: the attempt's detail quotes it.
            if (answer.Body is { Length: > 0 } evidence) judgement = judgement with { Detail = $"{judgement.Detail}: {AnswerJudge.Snippet(evidence)}" };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && gone.IsCancellationRequested)
        {
            judgement = AnswerJudge.ConnectionFailed(validInput: true, "the node went offline (missed its heartbeats) while the attempt was in flight");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            judgement = AnswerJudge.NoAnswerWithin(options.AttemptTimeout);
        }
        catch (HttpRequestException e)
        {
            judgement = AnswerJudge.ConnectionFailed(validInput: true, route.Direct ? $"the model's container did not answer: {e.Message}" : $"the node did not answer: {e.Message}");
        }
        catch (IOException e)
        {
            judgement = AnswerJudge.ConnectionFailed(validInput: true, $"the connection broke: {e.Message}");
        }
        finally
        {
            // Whatever the outcome (the client going away included), the attempt no longer loads the node.
            mesh.End(node);
        }

        var verdict = judgement.Verdict!;
        span?.SetTag(MeshTracing.VerdictTag, verdict.WireName);
        span?.SetStatus(ActivityStatusCode.Error, verdict.WireName);
        metrics.Attempt(model.Published.Name, node, "failed");
        metrics.Failure(model.Published.Name, node, verdict);
        return (new AttemptResult(node, verdict, judgement.Detail, status, clock.Elapsed.TotalMilliseconds), null);
    }
}

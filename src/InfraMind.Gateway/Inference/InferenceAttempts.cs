using System.Diagnostics;
using System.Net.Http.Headers;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Telemetry;

namespace InfraMind.Gateway.Inference;

/// <summary>One attempt's outcome on one node.</summary>
internal sealed record AttemptResult(string Node, Verdict? Verdict, string Detail, int? Status, double Ms);

/// <summary>
/// One attempt of a request on one node: the job sent (through the node's job API, or straight to a local container:
/// HTTP/1.1 JSON to a REST model, the Open Inference Protocol V2 over h2c to a gRPC one), the answer read against the
/// gateway's limit and judged against output_schema, the node's standing updated.
/// </summary>
internal sealed class InferenceAttempts(MeshState mesh, GatewayOptions options, NodeClients nodes, ModelChannels channels)
{
    /// <param name="queueWait">The longest the job may wait for one of the container's slots (<see cref="GatewayOptions.QueueWaitWithOthersLeft"/>).</param>
    public async Task<(AttemptResult Result, byte[]? Answer, string? Receipt)> AttemptAsync(ServedModel model, string node, int number, byte[] body, string requestId,
        TimeSpan queueWait, CancellationToken ct)
    {
        // The HTTP call inside is this span's child, and the node's (or the container's) traceparent names that call.
        using var span = MeshTracing.Gateway.StartActivity("attempt");
        span?.SetTag(MeshTracing.RoleTag, "gateway");
        span?.SetTag(MeshTracing.NodeTag, node);
        span?.SetTag(MeshTracing.ModelTag, model.Key);
        span?.SetTag(MeshTracing.AttemptTag, number);
        var version = model.Published.Version.ToString();
        var route = mesh.RouteOf(node, model.Published.Name, version)!;
        var clock = Stopwatch.StartNew();
        var (load, attempt) = mesh.Begin(node);
        // Straight to a container of a node of this process: that node counts the job, and its stop waits for it.
        route.Local?.JobStarted();
        Judgement judgement;
        int? status = null;
        // The node's going offline ends the attempt too: the request moves on instead of waiting out the time limit.
        var gone = mesh.GoneToken(node);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct, gone);
        // Through a node, the node gets the limit and gives up first; the gateway's own limit is a little later as a backstop.
        limit.CancelAfter(route.Direct ? options.AttemptTimeout : options.AttemptTimeout + TimeSpan.FromMilliseconds(500));
        IDisposable? slot = null;
        // What a node's busy answer said to wait (null: nothing usable, or no such answer).
        TimeSpan? retryAfter = null;
        try
        {
            // Straight to a container of this process: one of its slots first, as its node's job API takes one (JobGate).
            if (route.Connector?.Jobs is { } gate)
            {
                (slot, var busy) = await gate.EnterAsync(queueWait, limit.Token);
                if (busy is not null)
                {
                    span?.SetTag(MeshTracing.VerdictTag, Verdict.NodeBusy.WireName);
                    mesh.RecordFailedAttempt(node, model.Published.Name, Verdict.NodeBusy);
                    mesh.RecordBusy(node, model.Key, null, attempt);
                    return (new AttemptResult(node, Verdict.NodeBusy, $"{MeshErrorCodes.NodeBusy.Value}: {busy}", null, clock.Elapsed.TotalMilliseconds), null, null);
                }
            }

            // Straight to a gRPC model's container: V2 ModelInfer over its connector (h2c), judged by the same rules.
            string? sentReceipt = null;
            ModelAnswer answer;
            if (route.Connector is { } direct && model.Manifest.Protocol == ModelProtocol.Grpc)
                answer = await channels.Of(direct, model.Published.Name, version).InferAsync(body, options.AttemptTimeout, limit.Token);
            else
                (answer, sentReceipt, retryAfter) = await SendAsync(route, body, requestId, queueWait, limit.Token);
            status = answer.StatusCode;
            // The gateway sends only inputs that match input_schema.
            judgement = AnswerJudge.Judge(answer, validInput: true, model.Manifest.OutputSchema);
            string? receipt = null;
            if (judgement.Passed && mesh.KeyOf(node).Key is { } key)
            {
                // A node with a key vouches for its answer: no valid receipt, no answer taken (the node's fault, re-routed).
                // A node of this process signs here, over exactly this job, with the key it registered: checking that
                // signature again would only re-check this process's own code (and cost more than signing); its
                // receipt is still refused when there is none (the node no longer runs the version).
                if (route.Local is { } local)
                {
                    receipt = local.SignReceipt(requestId, model.Published.Name, version, body, answer.Body!);
                    if (receipt is null) judgement = new Judgement(Verdict.ReceiptInvalid, $"node {node} has a key but signed no receipt (it no longer runs {model.Key})", []);
                }
                else if (ReceiptProblem(receipt = sentReceipt, key, model, node, requestId, body, answer.Body!) is { } problem)
                {
                    judgement = new Judgement(Verdict.ReceiptInvalid, problem, []);
                }
            }

            if (judgement.Passed)
            {
                mesh.RecordSuccess(node, model.Key, model.Published.Name, clock.Elapsed.TotalMilliseconds, attempt);
                if (receipt is not null) mesh.KeepReceipt(node, receipt);
                span?.SetStatus(ActivityStatusCode.Ok);
                return (new AttemptResult(node, null, "ok", status, clock.Elapsed.TotalMilliseconds), answer.Body, receipt);
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
        catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError && nodes.For(route).Pinned is { } pinned)
        {
            // Nothing was sent: the node's certificate is not the key it registered (restarted with another, or someone else at its address).
            judgement = new Judgement(Verdict.TlsPinMismatch, $"{MeshErrorCodes.TlsPinMismatch.Value}: node {node}'s job API at {route.Target.GetLeftPart(UriPartial.Authority)} " +
                $"presented the certificate key {pinned.LastPresented ?? "(none that passed the TLS handshake)"}, not the {pinned.Pin} it registered", []);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && route.Direct)
        {
            // Straight from the container: an answer that is not HTTP is the model's (malformed-answer), as on a node.
            judgement = AnswerJudge.Unreadable(validInput: true, e);
        }
        catch (HttpRequestException e)
        {
            judgement = AnswerJudge.ConnectionFailed(validInput: true, $"the node did not answer: {NetworkFailure.Describe(e)}");
        }
        catch (IOException e)
        {
            judgement = AnswerJudge.ConnectionFailed(validInput: true, $"the connection broke: {NetworkFailure.Describe(e)}");
        }
        finally
        {
            // Whatever the outcome (the client going away included), the attempt no longer loads the node.
            slot?.Dispose();
            MeshState.End(load);
            route.Local?.JobEnded();
        }

        var verdict = judgement.Verdict!;
        span?.SetTag(MeshTracing.VerdictTag, verdict.WireName);
        span?.SetStatus(ActivityStatusCode.Error, verdict.WireName);
        mesh.RecordFailedAttempt(node, model.Published.Name, verdict);
        // A node's own busy answer: the next requests go to the others for a moment (held against no one, MeshState.Settle).
        if (verdict == Verdict.NodeBusy) mesh.RecordBusy(node, model.Key, retryAfter, attempt);
        return (new AttemptResult(node, verdict, judgement.Detail, status, clock.Elapsed.TotalMilliseconds), null, null);
    }

    private static string Quote(string? text) => TerminalText.Quote(text ?? "", 80, sayLength: true);

    /// <summary>Why <paramref name="receipt"/> does not vouch for this job on this node; null when it does.</summary>
    internal static string? ReceiptProblem(string? receipt, InfraMind.Signing.PublicKey key, ServedModel model, string node, string requestId, byte[] input, byte[] output)
    {
        if (receipt is null) return $"node {node} has a key but sent no receipt ({MeshHeaders.Receipt})";
        var check = JobReceipts.Verify(receipt, key);
        if (check.Receipt is not { } r) return $"the receipt of node {node}: {check.Problem}";
        // What a receipt names is the node's word: quoted cut, as every stranger's text in an answer is.
        if (r.Node != node) return $"the receipt names node {Quote(r.Node)}, not {node}";
        if (r.RequestId != requestId) return $"the receipt names request {Quote(r.RequestId)}, not {requestId}";
        if (r.Model != model.Published.Name || r.Version != model.Published.Version.ToString()) return $"the receipt names {Quote($"{r.Model}@{r.Version}")}, not {model.Key}";
        if (r.ImageDigest != model.Published.ImageDigest) return $"the receipt names image {Quote(r.ImageDigest)}, not {model.Published.ImageDigest}";
        if (r.InputSha256 != JobReceipts.Sha256(input)) return "the receipt's input hash is not the input's the gateway sent";
        if (r.OutputSha256 != JobReceipts.Sha256(output)) return "the receipt's output hash is not the answer's the gateway got";
        return null;
    }

    /// <summary>
    /// A job over HTTP/1.1: to the node's job API with its credential, time limit, queue wait and the request's id, or straight to a
    /// REST model's container. With the answer, the node's receipt header and the wait its Retry-After says
    /// (<see cref="RetryAfterHeader.Read"/>; both null straight from a container, whose headers are the model's word).
    /// </summary>
    private async Task<(ModelAnswer Answer, string? Receipt, TimeSpan? RetryAfter)> SendAsync(Route route, byte[] body, string requestId, TimeSpan queueWait, CancellationToken ct)
    {
        using var request = route.Connector is { } connector ? JobHttp.ForConnector(connector) : new HttpRequestMessage(HttpMethod.Post, route.Target);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (!route.Direct)
        {
            request.Headers.TryAddWithoutValidation(MeshHeaders.RequestId, requestId);
            request.Headers.TryAddWithoutValidation(MeshHeaders.TimeoutMs, ((long)options.AttemptTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation(MeshHeaders.QueueWaitMs, ((long)queueWait.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
            // The node's own credential, not the mesh token: only this gateway and that node know it.
            MeshToken.Authorize(request.Headers, route.Credential);
        }

        using var response = await nodes.For(route).Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        // Read against the limit, never beyond: over it, the answer is response-too-large and its connection dropped.
        // A node's verdict header counts only from a node: straight from a container it would be the model's word.
        var answer = await ModelAnswer.ReadAsync(response, options.MaxResponseBytes, fromNode: !route.Direct, ct);
        if (route.Direct) return (answer, null, null);
        return (answer, response.Headers.TryGetValues(MeshHeaders.Receipt, out var values) ? values.FirstOrDefault() : null, RetryAfterHeader.Read(response.Headers.RetryAfter));
    }
}

using System.Net;
using System.Net.Http.Json;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Node.Running;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node;

/// <summary>The node's job API: what the gateway sends a ready model, and the node's own refusals.</summary>
public sealed partial class NodeAgent
{
    /// <summary>
    /// POST /jobs/{name}/{version}: the body (at most <see cref="NodeOptions.MaxJobBytes"/>, chunked or not) goes to the
    /// container unchanged; its answer (at most <see cref="NodeOptions.MaxAnswerBytes"/>, else response-too-large and the
    /// container's connection dropped) comes back unchanged. With a mesh token, only the gateway may send jobs: the
    /// caller must send this node's own credential, which only the gateway that issued it knows.
    /// </summary>
    internal async Task HandleJobAsync(HttpContext context, string name, string version, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Interlocked.Increment(ref _jobsInFlight);
        try
        {
            await HandleJobCoreAsync(context, name, version, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _jobsInFlight);
            // The node's own failure carries its verdict; a body the node would not take is the caller's; anything else the model answered.
            var outcome = context.Response.Headers[MeshHeaders.Verdict] is { Count: 1 } v ? v[0]!
                : context.Response.StatusCode is StatusCodes.Status400BadRequest or StatusCodes.Status413PayloadTooLarge ? "rejected" : "answered";
            // Under the version's name only while it runs here (checked under the lock its removal takes, so no series
            // outlives it): the path is the caller's to choose, credential or not.
            var key = ModelKey.Of(name, version);
            lock (_instances) _metrics.Job(_instances.ContainsKey(key) ? key : MetricSeries.UnknownModel, outcome, clock.Elapsed);
        }
    }

    private async Task HandleJobCoreAsync(HttpContext context, string name, string version, CancellationToken cancellationToken)
    {
        var ct = cancellationToken;
        // A child of the gateway's attempt when it sent a traceparent (ASP.NET Core reads it into the request's span).
        using var span = MeshTracing.Node.StartActivity("job");
        span?.SetTag(MeshTracing.RoleTag, "node");
        span?.SetTag(MeshTracing.NodeTag, _options.NodeId);
        span?.SetTag(MeshTracing.ModelTag, ModelKey.Of(name, version));
        // A node with a mesh token or a key takes jobs only with a credential one of its gateways issued it.
        if ((_options.GatewayToken is not null || _identity is not null) && !AdmitsJob(context.Request.Headers.Authorization))
        {
            context.Response.Headers.WWWAuthenticate = MeshToken.Challenge;
            await FailAsync(context, StatusCodes.Status401Unauthorized, Verdict.NodeUnauthorized, MeshErrorCodes.NodeUnauthorized,
                $"node {_options.NodeId} takes jobs only from its gateway (Authorization: Bearer with the credential the gateway issued it); send inference requests to the gateway");
            return;
        }

        byte[]? body;
        try
        {
            body = await RequestBody.ReadAsync(context, _options.MaxJobBytes, ct);
        }
        catch (BadHttpRequestException e)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { code = MeshErrorCodes.MalformedJson.Value, detail = $"the job's body could not be read: {e.Message}" }, MeshJson.Options, ct);
            return;
        }

        if (body is null)
        {
            // The caller's doing, not the model's: no verdict.
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await context.Response.WriteAsJsonAsync(new { code = MeshErrorCodes.BodyTooLarge.Value, detail = $"the job is larger than {_options.MaxJobBytes} bytes, node {_options.NodeId}'s limit" },
                MeshJson.Options, ct);
            return;
        }

        RunningContainer? container;
        ModelManifest? manifest;
        ModelAssignment? assignment;
        lock (_instances)
        {
            var found = _instances.TryGetValue(ModelKey.Of(name, version), out var i);
            container = found ? i!.ReadyContainer : null;
            manifest = found ? i!.Manifest : null;
            assignment = found ? i!.Assignment : null;
        }

        // The node vouches for what its model got and gave (a receipt per answered job), when it has a key.
        var requestId = context.Request.Headers.TryGetValue(MeshHeaders.RequestId, out var rid) && rid.Count == 1 ? rid[0] ?? "" : "";
        Func<byte[], string?> receipt = output => _identity?.Receipt(requestId, assignment!, body, output, _options.NodeId);
        if (container is null || manifest is null)
        {
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, Verdict.NotReady, MeshErrorCodes.ModelNotReadyOnNode,
                $"{name}@{version} is not ready on node {_options.NodeId}");
            return;
        }

        var timeout = _options.JobTimeout;
        if (context.Request.Headers.TryGetValue(MeshHeaders.TimeoutMs, out var t) && int.TryParse(t, out var ms) && ms > 0)
            timeout = TimeSpan.FromMilliseconds(Math.Min(ms, timeout.TotalMilliseconds));
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        // One of the container's slots (JobGate) first: a job that finds them all taken and the queue full, or waits
        // half its time limit for one (less when its gateway has other nodes to try), never reaches the model and is
        // this node's "busy", not a failure.
        var route = ContainerRoute.Of(container);
        var (slot, busy) = await route.Jobs.EnterAsync(QueueWait(context.Request.Headers, timeout), ct);
        using var held = slot;
        if (busy is not null)
        {
            context.Response.Headers.RetryAfter = RetryAfterHeader.Format(JobGate.RetryAfter);
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, Verdict.NodeBusy, MeshErrorCodes.NodeBusy,
                $"{name}@{version} on node {_options.NodeId}: {busy}");
            return;
        }

        if (manifest.Protocol == ModelProtocol.Grpc)
        {
            await GrpcJobs.ForwardAsync(context, container, manifest, body, timeout, _channels, _options.NodeId, receipt, limit.Token, ct);
            return;
        }

        using var request = JobHttp.ForConnector(route);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
        try
        {
            using var response = await _models.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            // Read against the cap, never beyond it: a node's memory per job is bounded whatever the model sends.
            var answer = await ModelAnswer.ReadAsync(response, _options.MaxAnswerBytes, fromNode: false, limit.Token);
            if (answer.Body is not { } bytes)
            {
                await FailAsync(context, StatusCodes.Status502BadGateway, Verdict.ResponseTooLarge,
                    $"the model's answer is larger than {_options.MaxAnswerBytes} bytes, node {_options.NodeId}'s limit; it was read no further");
                return;
            }

            // A 101 to a job (which asks for no protocol switch) is not an answer, and HTTP has no way to pass it on.
            if (answer.StatusCode < StatusCodes.Status200OK)
            {
                await FailAsync(context, StatusCodes.Status502BadGateway, Verdict.MalformedAnswer,
                    $"the model answered {answer.StatusCode} to a job, which asks for no protocol switch: that is no answer, and node {_options.NodeId} has none to pass on");
                return;
            }

            // Statuses HTTP gives no body are passed on without one, as a client reads them (their body is not an answer).
            var bodyless = answer.StatusCode is StatusCodes.Status204NoContent or StatusCodes.Status205ResetContent or StatusCodes.Status304NotModified;
            if (bodyless) bytes = [];
            if (_options.AlterAnswers && answer.StatusCode == StatusCodes.Status200OK) bytes = LyingAnswers.Alter(bytes);
            context.Response.StatusCode = answer.StatusCode;
            if (receipt(bytes) is { } signed) context.Response.Headers[MeshHeaders.Receipt] = signed;
            // The model's Content-Type only where a header may hold it (no byte past ASCII, no control character): a
            // gateway reads the answer's bytes, whatever its type says.
            if (response.Content.Headers.ContentType?.ToString() is { } type && IsHeaderText(type)) context.Response.ContentType = type;
            if (bodyless) return;
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && !context.Response.HasStarted)
        {
            await FailAsync(context, StatusCodes.Status504GatewayTimeout, AnswerJudge.NoAnswerWithin(timeout));
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !context.Response.HasStarted)
        {
            await FailAsync(context, StatusCodes.Status502BadGateway, AnswerJudge.Unreadable(validInput: true, e));
        }
    }

    /// <summary>
    /// How long a job may wait for one of its container's slots: half its time limit, or less when the gateway's
    /// <see cref="MeshHeaders.QueueWaitMs"/> says so (a value that is not a whole number ≥ 0 is not read: half).
    /// </summary>
    internal static TimeSpan QueueWait(IHeaderDictionary headers, TimeSpan timeout)
    {
        var half = timeout / 2;
        return headers.TryGetValue(MeshHeaders.QueueWaitMs, out var w) && w.Count == 1
            && long.TryParse(w[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms < half.TotalMilliseconds
            ? TimeSpan.FromMilliseconds(ms)
            : half;
    }

    /// <summary>Whether Kestrel writes <paramref name="value"/> as a header: visible ASCII, spaces and tabs only.</summary>
    private static bool IsHeaderText(string value) => value.All(c => c is '\t' or (>= ' ' and <= '~'));

    internal static Task FailAsync(HttpContext context, int status, Judgement judgement) => FailAsync(context, status, judgement.Verdict!, judgement.Detail);

    /// <summary>The node's own failure (no model answer at all): the verdict in <see cref="MeshHeaders.Verdict"/>, for the gateway to judge by.</summary>
    internal static Task FailAsync(HttpContext context, int status, Verdict verdict, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.Headers[MeshHeaders.Verdict] = verdict.WireName;
        System.Diagnostics.Activity.Current?.SetTag(MeshTracing.VerdictTag, verdict.WireName);
        return context.Response.WriteAsJsonAsync(new { verdict, detail }, MeshJson.Options);
    }

    /// <summary>A refusal of the node's own (not the model's answer): the code in <c>code</c>, the detail plain text.</summary>
    private static Task FailAsync(HttpContext context, int status, Verdict verdict, ErrorCode code, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.Headers[MeshHeaders.Verdict] = verdict.WireName;
        return context.Response.WriteAsJsonAsync(new { verdict, code = code.Value, detail }, MeshJson.Options);
    }
}

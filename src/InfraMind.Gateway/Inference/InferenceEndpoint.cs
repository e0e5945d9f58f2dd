using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Microsoft.AspNetCore.Http;
using Semver;

namespace InfraMind.Gateway.Inference;

/// <summary>One attempt's outcome on one node.</summary>
internal sealed record AttemptResult(string Node, Verdict? Verdict, string Detail, int? Status, double Ms);

/// <summary>
/// POST /inference/v1/{name}[/versions/{version}]: checks the request (type, size, JSON, input schema) before any node
/// sees it, then tries nodes chosen by reputation and latency until one gives an answer valid against output_schema.
/// A client's mistake is a 4xx and never counts against a node.
/// </summary>
internal sealed class InferenceEndpoint(MeshState mesh, GatewayOptions options, GatewayMetrics metrics, HttpClient nodes, InferenceLog log)
{
    private readonly RetryBudget _budget = new(options.RetryRatio, options.RetryReserve);

    public async Task HandleAsync(HttpContext context, string name, string? version, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var record = new InferenceRecord();
        var status = 500;
        try
        {
            status = await HandleCoreAsync(context, name, version, record, cancellationToken);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // 499 (nginx's "client closed request"): the client left before an answer; logged and counted all the same.
            status = 499;
            throw;
        }
        finally
        {
            metrics.Request(name, status, clock.Elapsed);
            record.Code = context.Items.TryGetValue(InferenceRecord.CodeKey, out var code) ? code as string : null;
            log.Request(name, record, status, clock.Elapsed);
        }
    }

    private async Task<int> HandleCoreAsync(HttpContext context, string name, string? version, InferenceRecord record, CancellationToken ct)
    {
        // The request's own span (ASP.NET Core's, a child of the client's traceparent when it sent one) names the model.
        Activity.Current?.SetTag(MeshTracing.ModelTag, name);
        // Everything up to the choice of nodes: version, media type, size, JSON, input_schema, quarantine.
        using var validation = MeshTracing.Gateway.StartActivity("validate");
        validation?.SetTag(MeshTracing.RoleTag, "gateway");
        var versions = mesh.Models.Where(m => m.Published.Name == name).ToList();
        if (versions.Count == 0)
            return await ProblemAsync(context, 404, MeshErrorCodes.ModelNotFound, "unknown model", $"no published model is named '{name}'; GET /inference/v1 lists them.");
        ServedModel? model;
        if (version is null)
        {
            model = MeshState.Latest(versions);
            if (model is null)
                return await ProblemAsync(context, 404, MeshErrorCodes.ModelNotFound, "no released version",
                    $"'{name}' has only pre-release versions; name one: /inference/v1/{name}/versions/<version>.");
        }
        else
        {
            if (!SemVersion.TryParse(version, SemVersionStyles.Strict, out var wanted))
                return await ProblemAsync(context, 400, MeshErrorCodes.VersionInvalid, "invalid version", $"'{version}' is not a SemVer 2.0 version such as 1.2.3.");
            model = versions.FirstOrDefault(m => m.Published.Version == wanted);
            if (model is null)
                return await ProblemAsync(context, 404, MeshErrorCodes.ModelNotFound, "unknown version",
                    $"'{name}' has no version {version}; published: {string.Join(", ", versions.Select(v => v.Published.Version))}.");
        }

        if (!IsJson(context.Request.ContentType))
            return await ProblemAsync(context, 415, MeshErrorCodes.UnsupportedMediaType, "unsupported media type",
                $"send the input as Content-Type: application/json (got '{context.Request.ContentType ?? "none"}').");

        byte[]? raw;
        try
        {
            raw = await RequestBody.ReadAsync(context, options.MaxRequestBytes, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode != StatusCodes.Status413PayloadTooLarge)
        {
            // Broken framing (a bad chunk, a body shorter than its Content-Length): the client's, and a 400.
            return await ProblemAsync(context, 400, MeshErrorCodes.MalformedJson, "unreadable body", $"the body could not be read: {e.Message}");
        }

        if (raw is null)
            return await ProblemAsync(context, 413, MeshErrorCodes.BodyTooLarge, "body too large", $"the input is larger than {options.MaxRequestBytes} bytes, the gateway's limit.");

        // What a model gets is the gateway's own serialisation of the document it validated, never the client's bytes.
        var strict = StrictJson.Read(raw, options.MaxJsonDepth);
        if (strict.Document is not { } input)
        {
            var title = strict.Code == MeshErrorCodes.MalformedJson ? "malformed JSON" : strict.Code == MeshErrorCodes.DuplicateKey ? "duplicate key" : "not UTF-8";
            return await ProblemAsync(context, 400, strict.Code!, title, strict.Problem!,
                new() { ["errors"] = new[] { new { pointer = strict.Pointer, message = strict.Problem } } });
        }

        var body = strict.Canonical;
        record.Version = model.Published.Version.ToString();
        log.Input(model.Key, body);
        using (input)
        {
            IReadOnlyList<SchemaViolation> violations;
            try
            {
                violations = model.Manifest.InputSchema.IsValid(input.RootElement) ? [] : model.Manifest.InputSchema.Validate(input.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException)
            {
                // A value the validator cannot read (a number beyond its range): the input's, never a server error.
                violations = [new SchemaViolation("", $"the input cannot be checked against input_schema: {e.Message}")];
            }

            if (violations.Count > 0)
                return await ProblemAsync(context, 400, MeshErrorCodes.InputInvalid, "input does not match the model's input_schema",
                    $"{violations.Count} error(s); GET /inference/v1/{name}/openapi.json shows the schema.",
                    new() { ["errors"] = violations.Select(v => new { pointer = v.Pointer, message = v.Message }).ToList() });
        }

        if (mesh.IsQuarantined(model.Key))
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return await ProblemAsync(context, 503, MeshErrorCodes.Quarantined, "model version quarantined",
                $"{model.Key} failed the same way on several nodes and is not served for now; GET /inference/v1 shows why. Publish a fixed version.");
        }

        validation?.Stop();
        using var routing = MeshTracing.Gateway.StartActivity("route");
        routing?.SetTag(MeshTracing.RoleTag, "gateway");
        routing?.SetTag(MeshTracing.ModelTag, model.Key);
        _budget.RecordRequest();
        var attempts = new List<AttemptResult>();
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var waitUntil = mesh.Time.GetUtcNow() + options.ReadyWait;
        byte[]? answer = null;
        string? answeredBy = null;
        try
        {
            while (answer is null)
            {
                var chosen = NodeChoice.Choose(mesh.Candidates(model.Key, tried), Random.Shared);
                // A moment with no ready node (a container restarting, a late heartbeat) is not worth a 503: wait briefly.
                if (chosen is null && attempts.Count == 0 && mesh.PlacedCount(model.Key) > 0 && mesh.Time.GetUtcNow() < waitUntil)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), mesh.Time, ct);
                    continue;
                }

                if (chosen is null) break;
                if (attempts.Count > 0 && (attempts.Count >= options.MaxAttempts || !_budget.TryRetry())) break;
                tried.Add(chosen.NodeId);
                (var result, answer) = await AttemptAsync(model, chosen.NodeId, attempts.Count + 1, body, ct);
                attempts.Add(result);
                record.Attempts.Add(result);
                if (result.Verdict is not null) log.AttemptFailed(model.Key, result);
                if (answer is not null) answeredBy = chosen.NodeId;
            }
        }
        finally
        {
            // Whose fault a failure was is known only now: if another node answered the same input, not the input's.
            mesh.Settle(model.Key, model.Published.Name, [.. attempts.Where(a => a.Verdict is not null).Select(a => (a.Node, a.Verdict!))], answer is not null);
        }

        if (answer is not null)
        {
            record.Node = answeredBy;
            log.Answer(model.Key, answer);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            context.Response.Headers[MeshHeaders.Node] = answeredBy;
            context.Response.Headers[MeshHeaders.Attempts] = attempts.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers[MeshHeaders.ModelVersion] = model.Published.Version.ToString();
            context.Response.ContentLength = answer.Length;
            await context.Response.Body.WriteAsync(answer, ct);
            return 200;
        }

        context.Response.Headers[MeshHeaders.Attempts] = attempts.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (attempts.Count == 0)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var r = model.Manifest.Resources;
            return await ProblemAsync(context, 503, MeshErrorCodes.NoReadyNode, "no ready node", mesh.PlacedCount(model.Key) == 0
                ? $"no online node has room for {model.Key}: it needs {r.CpuMillicores}m CPU, {Quantity.FormatBytes(r.MemoryBytes)} memory and {r.GpuCount} GPU(s); start a node with enough free capacity."
                : $"no node has {model.Key} ready now (placed nodes are starting, failing pre-flight, suspended or offline); GET /inference/v1 shows each node's state.");
        }

        return await ProblemAsync(context, 502, MeshErrorCodes.AllAttemptsFailed, "every attempt failed",
            $"{attempts.Count} attempt(s) failed: {string.Join("; ", attempts.Select(a => $"{a.Node}: {a.Verdict}"))}",
            new() { ["attempts"] = attempts.Select(a => new { node = a.Node, verdict = a.Verdict, detail = a.Detail, status = a.Status }).ToList() });
    }

    private async Task<(AttemptResult Result, byte[]? Answer)> AttemptAsync(ServedModel model, string node, int number, byte[] body, CancellationToken ct)
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
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
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

    private static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var type) || type.MediaType is not { } media) return false;
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<int> ProblemAsync(HttpContext context, int status, ErrorCode code, string title, string detail, Dictionary<string, object?>? extensions = null)
    {
        var problem = new Dictionary<string, object?>
        {
            ["type"] = $"https://inframind.dev/errors/{code}",
            ["title"] = title,
            ["status"] = status,
            ["detail"] = detail,
            ["code"] = code.Value,
            ["instance"] = context.Request.Path.Value,
        };
        foreach (var (k, v) in extensions ?? []) problem[k] = v;
        context.Items[InferenceRecord.CodeKey] = code.Value;
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(problem, MeshJson.Options, "application/problem+json", context.RequestAborted);
        return status;
    }
}

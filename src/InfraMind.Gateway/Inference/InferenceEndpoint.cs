using System.Diagnostics;
using System.Net.Http.Headers;
using InfraMind.Serving;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway.Inference;

/// <summary>
/// POST /inference/v1/{name}[/versions/{version}]: the REST face of <see cref="InferenceCore"/>. Reads the body
/// (media type, size, framing), and writes the answer with the node, attempts and version headers, or the problem as
/// application/problem+json.
/// </summary>
internal sealed class InferenceEndpoint(InferenceCore core)
{
    public async Task HandleAsync(HttpContext context, string name, string? version, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var record = new InferenceRecord();
        var status = 500;
        try
        {
            // The slot is taken before the body is read and held until the answer is written (InferenceAdmission).
            var refused = core.Admission.TryEnter(context.Connection.RemoteIpAddress, out var slot);
            using (slot)
            {
                var outcome = refused is null
                    ? await core.InferAsync(name, version, (_, ct) => ReadAsync(context, ct), record, cancellationToken)
                    : InferenceCore.Refuse(null, refused, record);
                status = await WriteAsync(context, outcome, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // 499 (nginx's "client closed request"): the client left before an answer; logged and counted all the same.
            status = 499;
            throw;
        }
        finally
        {
            core.Finish(name, record, status, clock.Elapsed);
        }
    }

    private async ValueTask<InferenceInput> ReadAsync(HttpContext context, CancellationToken ct)
    {
        if (!IsJson(context.Request.ContentType))
            return new(null, new(415, MeshErrorCodes.UnsupportedMediaType, "unsupported media type",
                $"send the input as Content-Type: application/json (got '{context.Request.ContentType ?? "none"}')."));
        byte[]? raw;
        try
        {
            raw = await RequestBody.ReadAsync(context, core.Options.MaxRequestBytes, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode != StatusCodes.Status413PayloadTooLarge)
        {
            // Broken framing (a bad chunk, a body shorter than its Content-Length): the client's, and a 400.
            return new(null, new(400, MeshErrorCodes.MalformedJson, "unreadable body", $"the body could not be read: {e.Message.Split(" See ", 2)[0]}"));
        }

        return raw is null
            ? new(null, new(413, MeshErrorCodes.BodyTooLarge, "body too large", $"the input is larger than {core.Options.MaxRequestBytes} bytes, the gateway's limit."))
            : new(raw, null);
    }

    private async Task<int> WriteAsync(HttpContext context, InferenceOutcome outcome, CancellationToken ct)
    {
        var attempts = outcome.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (outcome.Answer is { } answer)
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            context.Response.Headers[MeshHeaders.Node] = outcome.Node;
            context.Response.Headers[MeshHeaders.Attempts] = attempts;
            context.Response.Headers[MeshHeaders.ModelVersion] = outcome.Model!.Published.Version.ToString();
            if (outcome.Receipt is { } receipt) context.Response.Headers[MeshHeaders.Receipt] = receipt;
            context.Response.ContentLength = answer.Length;
            await context.Response.Body.WriteAsync(answer, ct);
            return 200;
        }

        var problem = outcome.Problem!;
        // Only once the request was routed: a problem found before (the input's, the version's) says nothing of attempts.
        if (problem.Code == MeshErrorCodes.NoReadyNode || problem.Code == MeshErrorCodes.AllAttemptsFailed) context.Response.Headers[MeshHeaders.Attempts] = attempts;
        if (problem.RetryAfter)
            context.Response.Headers.RetryAfter = core.RetryAfterOf(problem);
        return await ProblemAsync(context, problem);
    }

    private static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var type) || type.MediaType is not { } media) return false;
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<int> ProblemAsync(HttpContext context, InferenceProblem p)
    {
        var problem = new Dictionary<string, object?>
        {
            ["type"] = $"https://inframind.dev/errors/{p.Code}",
            ["title"] = p.Title,
            ["status"] = p.Status,
            ["detail"] = p.Detail,
            ["instance"] = context.Request.Path.Value,
        };
        foreach (var (k, v) in ProblemMembers.Of(p.Code)) problem[k] = v;
        if (p.Errors is { } errors) problem["errors"] = errors.Select(e => new { pointer = e.Pointer, message = e.Message }).ToList();
        foreach (var (k, v) in p.Extensions ?? []) problem[k] = v;
        context.Response.StatusCode = p.Status;
        await context.Response.WriteAsJsonAsync(problem, MeshJson.Options, "application/problem+json", context.RequestAborted);
        return p.Status;
    }
}

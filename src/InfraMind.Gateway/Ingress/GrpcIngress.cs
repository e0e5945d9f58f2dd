using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// The gateway's Open Inference Protocol V2 gRPC API (docs/protocols.md, "The gateway's gRPC ingress"): the gRPC face
/// of <see cref="InferenceCore"/>, so a gRPC caller reaches any model, REST or gRPC, with the same routing, input
/// check, answer judging, re-routing and reputation as POST /inference/v1/&lt;name&gt;. The JSON document travels as
/// the <c>json</c> BYTES tensor both ways (<see cref="JsonTensor"/>); a problem is the gRPC status GrpcStatusMap maps
/// its HTTP status to, with the problem's title and detail as the message, its stable code in the
/// <c>inframind-code</c> trailer and its hint in <c>inframind-hint-bin</c>. This class serves ModelInfer; the
/// service's other methods are <see cref="GrpcIngressQueries"/>'s, bound apart for their smaller message size limit.
/// </summary>
[BindServiceMethod(typeof(StrictRequests), nameof(StrictRequests.BindInference))]
internal sealed class GrpcIngress(InferenceCore core) : GRPCInferenceService.GRPCInferenceServiceBase
{
    public const string CodeTrailer = "inframind-code";

    /// <summary>
    /// How to fix it (the REST problem's <c>hint</c>, <see cref="ProblemMembers"/>), where the code has one: a binary
    /// trailer (the gRPC way for any UTF-8 text: its value base64 on the wire, bytes to a client's API).
    /// </summary>
    public const string HintTrailer = "inframind-hint-bin";

    /// <summary>The trailers every refusal of the ingress carries: the code, and its hint where it has one.</summary>
    internal static Metadata Trailers(ErrorCode code)
    {
        var trailers = new Metadata { { CodeTrailer, code.Value } };
        if (code.DefaultHint is { Length: > 0 } hint) trailers.Add(HintTrailer, System.Text.Encoding.UTF8.GetBytes(hint));
        return trailers;
    }

    /// <summary>The HTTP/2 path of ModelInfer (routing also takes it in any case).</summary>
    public const string ModelInferPath = "/inference.GRPCInferenceService/ModelInfer";

    /// <summary>
    /// The ingress's middleware for ModelInfer: a slot of <see cref="InferenceAdmission"/> before grpc-aspnetcore reads
    /// the message, held until the call ends; refused, the call ends at once with a trailers-only answer (the status
    /// GrpcStatusMap maps 503/429 to, the inframind-code and retry-after trailers), its message never read. A refusal is
    /// counted under no model's name (the name is in the message it did not read).
    /// </summary>
    internal static async Task AdmitAsync(InferenceCore core, HttpContext http, RequestDelegate next)
    {
        var refused = core.Admission.TryEnter(http.Connection.RemoteIpAddress, out var slot);
        using (slot)
        {
            if (refused is null)
            {
                var started = Stopwatch.GetTimestamp();
                await next(http);
                // A message that was not protobuf, or over the limits of what is parsed, never reached ModelInfer, which
                // counts every call it takes: counted here, under no model's name (it is in the message that was not read).
                var code = CodeOf(http.Response);
                if (code == MeshErrorCodes.GrpcMessageMalformed.Value || code == MeshErrorCodes.GrpcMessageOverLimits.Value)
                    core.Finish("", new InferenceRecord { Code = code }, code == MeshErrorCodes.GrpcMessageMalformed.Value ? 400 : 413, Stopwatch.GetElapsedTime(started));
                return;
            }

            var record = new InferenceRecord { Code = refused.Code.Value };
            var response = http.Response;
            TrailersOnly(response, GrpcStatusMap.FromHttp(refused.Status), $"{refused.Title}: {refused.Detail}");
            // The same trailers as every other refusal, here as headers (a binary one base64, as gRPC writes it).
            foreach (var entry in Trailers(refused.Code))
                response.Headers[entry.Key] = entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;
            response.Headers.RetryAfter = core.RetryAfterOf(refused);
            core.Finish("", record, refused.Status, TimeSpan.Zero);
        }
    }

    /// <summary>
    /// A call ended before its handler runs, with a trailers-only answer (the status in the headers, no message): what
    /// a middleware in front of grpc-aspnetcore answers a call it refuses.
    /// </summary>
    internal static void TrailersOnly(HttpResponse response, StatusCode status, string message)
    {
        response.StatusCode = 200;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)status).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
    }

    /// <summary>The inframind-code a call ended with: in the trailers, or in the headers of a trailers-only answer.</summary>
    private static string? CodeOf(HttpResponse response) =>
        response.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers is { } trailers
        && trailers.TryGetValue(CodeTrailer, out var code) && code.Count > 0
            ? code[0]
            : response.Headers.TryGetValue(CodeTrailer, out var header) && header.Count > 0 ? header[0] : null;

    /// <summary>grpc-message's encoding (the gRPC HTTP/2 protocol): bytes outside printable ASCII, and '%', as %XX of their UTF-8.</summary>
    internal static string PercentEncode(string message)
    {
        var text = new System.Text.StringBuilder(message.Length);
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') text.Append((char)b);
            else text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        var clock = Stopwatch.StartNew();
        var record = new InferenceRecord();
        var status = 500;
        var name = request.ModelName;
        try
        {
            if (name.Length == 0)
            {
                status = 400;
                record.Code = MeshErrorCodes.GrpcRequestInvalid.Value;
                throw Failure(new(400, MeshErrorCodes.GrpcRequestInvalid, "no model named", "ModelInferRequest.model_name is empty; name the model to call."));
            }

            var outcome = await core.InferAsync(name, Version(request.ModelVersion), (_, _) => ValueTask.FromResult(Input(request)), record, context.CancellationToken);
            if (outcome.Problem is { } problem)
            {
                status = problem.Status;
                throw Failure(problem);
            }

            var model = outcome.Model!;
            // Set on the response, not through WriteResponseHeadersAsync, which flushes them on their own: here they
            // leave with the answer's message, one write instead of two per call.
            var http = context.GetHttpContext().Response;
            try
            {
                var headers = http.Headers;
                headers[MeshHeaders.Node] = outcome.Node!;
                headers[MeshHeaders.Attempts] = outcome.Attempts.ToString(CultureInfo.InvariantCulture);
                headers[MeshHeaders.ModelVersion] = model.Published.Version.ToString();
                if (outcome.Receipt is { } receipt) headers[MeshHeaders.Receipt] = receipt;
            }
            catch (InvalidOperationException) when (http.HasStarted)
            {
                // The caller's deadline passed after the answer came (while it was judged): grpc-aspnetcore answered
                // DEADLINE_EXCEEDED then and ended the response, so nothing more can be written, nor need be. Counted
                // as a caller that left, as when its deadline passes during the attempt.
                status = 499;
                throw new OperationCanceledException("the call's deadline passed before its answer could be sent", context.CancellationToken);
            }
            var output = new ModelInferResponse.Types.InferOutputTensor { Name = JsonTensor.Name, Datatype = JsonTensor.DataType, Contents = new InferTensorContents() };
            output.Shape.Add(1);
            output.Contents.BytesContents.Add(UnsafeByteOperations.UnsafeWrap(outcome.Answer!));
            var response = new ModelInferResponse { ModelName = model.Published.Name, ModelVersion = model.Published.Version.ToString(), Id = request.Id };
            response.Outputs.Add(output);
            status = 200;
            return response;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The caller left or its deadline passed: counted as the REST API counts a client that left.
            status = 499;
            throw;
        }
        finally
        {
            core.Finish(name, record, status, clock.Elapsed);
        }
    }

    internal static string? Version(string version) => version.Length == 0 ? null : version;

    /// <summary>The json tensor's document; over MaxRequestBytes or missing is the caller's mistake (INVALID_ARGUMENT).</summary>
    private InferenceInput Input(ModelInferRequest request)
    {
        if (!JsonTensor.TryRead(request, out var document, out var why))
            return new(null, new(400, MeshErrorCodes.GrpcRequestInvalid, "inputs refused", $"{why}; {JsonTensor.InputConvention}."));
        var limit = core.Options.MaxRequestBytes;
        return document.Length > limit
            ? new(null, new(413, MeshErrorCodes.BodyTooLarge, "input too large", $"the json tensor holds {document.Length} bytes, more than {limit}, the gateway's limit."))
            : new(document.ToArray(), null, "the json tensor");
    }

    // At most `most` characters, "…" included.
    private static string Cut(string text, int most) => text.Length <= most ? text : TerminalText.Cut(text, most - 1) + "…";

    /// <summary>
    /// The most characters of a status message (grpc-message). It travels in the trailers, and a gRPC client refuses
    /// metadata beyond its limit (grpcio and grpc-java: 8 KiB by default) with RESOURCE_EXHAUSTED instead of the
    /// status: a message of an input's hundred schema errors, or quoting a long name, must stay well within it.
    /// </summary>
    internal const int MaxStatusMessage = 2048;

    /// <summary>The most characters one error of an input takes in a status message (its pointer may name a long property).</summary>
    internal const int MaxStatusError = 200;

    /// <summary>
    /// A problem as its gRPC status: the message carries what the REST problem's detail and errors[] say, as many of
    /// the errors as fit in <see cref="MaxStatusMessage"/>, then how many more there are (POST /inference/v1/&lt;name&gt;
    /// lists them all in errors[]).
    /// </summary>
    internal RpcException Failure(InferenceProblem problem) => Failure(core, problem);

    /// <inheritdoc cref="Failure(InferenceProblem)"/>
    internal static RpcException Failure(InferenceCore core, InferenceProblem problem)
    {
        var errors = problem.Errors ?? [];
        var where = "";
        // A strict-JSON refusal's one error is its detail, with where: only the where is added (nothing for the root).
        if (errors is [var only] && only.Message == problem.Detail)
        {
            where = string.IsNullOrEmpty(only.Pointer) ? "" : $" (at {only.Pointer})";
            errors = [];
        }

        var message = Cut($"{problem.Title}: {problem.Detail}{where}", MaxStatusMessage);
        if (errors.Count > 0)
        {
            var text = new System.Text.StringBuilder(message);
            var listed = 0;
            // Room kept for the count of those left out.
            for (; listed < errors.Count; listed++)
            {
                var error = Cut(errors[listed].ToString(), MaxStatusError);
                if (text.Length + 2 + error.Length > MaxStatusMessage - 40) break;
                text.Append(listed == 0 ? " " : "; ").Append(error);
            }

            if (listed < errors.Count) text.Append(CultureInfo.InvariantCulture, $" (and {errors.Count - listed} more)");
            message = text.ToString();
        }

        var trailers = Trailers(problem.Code);
        if (problem.RetryAfter)
            trailers.Add("retry-after", core.RetryAfterOf(problem));
        return new RpcException(new Status(GrpcStatusMap.FromHttp(problem.Status), message), trailers);
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Serving.Grpc;

/// <summary>What a gRPC model's readiness check saw: SERVING, or the status and why not.</summary>
public sealed record GrpcReadiness(bool Serving, string Seen, Verdict? Verdict = null);

/// <summary>
/// The Open Inference Protocol V2 client to one model container: cleartext HTTP/2 (prior knowledge) through its
/// <see cref="IModelConnector"/>, answers read against a cap. Turns what a gRPC model says into a
/// <see cref="ModelAnswer"/> so that <see cref="AnswerJudge"/> judges it by the same rules as a REST answer; failures
/// of the way to the model surface as the REST path's do (<see cref="HttpRequestException"/>/<see cref="IOException"/>,
/// <see cref="OperationCanceledException"/> when the time is up), so callers treat both protocols alike.
/// </summary>
public sealed class ModelChannel : IDisposable
{
    // grpc-dotnet's own words for a message over MaxReceiveMessageSize; it has no status of its own for it.
    private const string OverLimit = "Received message exceeds the maximum configured message size";

    /// <summary>
    /// The most objects one answer may make of itself once parsed (<see cref="WireBudget"/>): a few MiB of objects,
    /// where 16 MiB of empty output tensors would parse into ~2 GiB. An answer under the json convention holds about ten.
    /// </summary>
    public const int MaxAnswerObjects = 65_536;

    private readonly GrpcChannel _channel;
    private readonly CallInvoker _calls;
    private readonly Method<ModelInferRequest, ModelInferResponse> _infer;
    private readonly Method<HealthCheckRequest, HealthCheckResponse> _check;
    private readonly Method<ServerReadyRequest, ServerReadyResponse> _ready;
    private readonly string _model;
    private readonly string _version;
    private long _ids;

    /// <param name="maxAnswerBytes">The most bytes of one answer message read (<see cref="ModelAnswer.DefaultBodyLimit"/> by default).</param>
    public ModelChannel(IModelConnector connector, string model, string version, long maxAnswerBytes)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxAnswerBytes);
        MaxAnswerBytes = maxAnswerBytes;
        _model = model;
        _version = version;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            ActivityHeadersPropagator = null,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            // Several calls at once on one model share connections instead of queueing behind HTTP/2's stream limit.
            EnableMultipleHttp2Connections = true,
            ConnectCallback = (_, ct) => connector.ConnectAsync(ct),
        };
        // The address names no real host: every connection goes through the connector (h2c, prior knowledge).
        _channel = GrpcChannel.ForAddress("http://model.invalid", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = (int)Math.Min(maxAnswerBytes, int.MaxValue),
            MaxSendMessageSize = null,
            MaxRetryAttempts = 0,
            // Off: with it on, grpc-dotnet turns a DEADLINE_EXCEEDED the model sends itself, at once, into the same
            // OperationCanceledException as the call's own deadline, and a model could pass its failure off as a
            // timeout (request-timeout, the node's). Cancellation and the deadline are told apart in Failed instead.
            ThrowOperationCanceledOnCancellation = false,
        });
        _calls = _channel.CreateCallInvoker();
        // Numbers in repeated fields: as many as fill the size cap at four bytes each (a float tensor), never more than
        // twice the cap in memory; packed varints, one byte each on the wire and eight in memory, are held to the same count.
        var limits = new WireLimits(MaxAnswerObjects, Math.Max(1024, maxAnswerBytes / 4));
        _infer = Unary<ModelInferRequest, ModelInferResponse>(GRPCInferenceService.Descriptor, "ModelInfer", limits);
        _check = Unary<HealthCheckRequest, HealthCheckResponse>(Health.Descriptor, "Check", limits);
        _ready = Unary<ServerReadyRequest, ServerReadyResponse>(GRPCInferenceService.Descriptor, "ServerReady", limits);
    }

    public long MaxAnswerBytes { get; }

    /// <summary>
    /// A unary method of the protocol whose answers are counted against <paramref name="limits"/> before they are parsed
    /// (the generated clients parse at once): over them, the call fails with <see cref="AnswerOverLimitsException"/>
    /// inside its status, and the answer is not parsed.
    /// </summary>
    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(Google.Protobuf.Reflection.ServiceDescriptor service, string name, WireLimits limits)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>, new()
    {
        var parser = new MessageParser<TResponse>(() => new TResponse());
        var descriptor = new TResponse().Descriptor;
        var request = Marshallers.Create<TRequest>((message, context) =>
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
            context.Complete();
        }, _ => throw new NotSupportedException("a client reads no requests"));
        var response = Marshallers.Create<TResponse>((_, _) => throw new NotSupportedException("a client writes no answers"), context =>
        {
            var payload = context.PayloadAsReadOnlySequence();
            var over = WireBudget.Exceeds(payload, descriptor, limits);
            if (over is not null) throw new AnswerOverLimitsException(over);
            return parser.ParseFrom(payload);
        });
        return new Method<TRequest, TResponse>(MethodType.Unary, service.FullName, name, request, response);
    }

    /// <summary>
    /// Sends <paramref name="document"/> through ModelInfer under the <c>json</c> tensor convention, within
    /// <paramref name="timeout"/> (also sent as the call's deadline).
    /// </summary>
    /// <exception cref="OperationCanceledException">No answer within the time (or <paramref name="cancellationToken"/> fired).</exception>
    /// <exception cref="HttpRequestException">The connection failed, or the port does not speak HTTP/2.</exception>
    public async Task<ModelAnswer> InferAsync(ReadOnlyMemory<byte> document, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _ids).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var request = JsonTensor.Request(_model, _version, id, document.Span);
        var started = Stopwatch.GetTimestamp();
        ModelInferResponse response;
        try
        {
            response = await _calls.AsyncUnaryCall(_infer, null, new CallOptions(deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken), request);
        }
        catch (RpcException e)
        {
            return Failed(e, Stopwatch.GetElapsedTime(started), timeout, cancellationToken);
        }

        if (!JsonTensor.TryRead(response, out var json, out var problem))
            return new ModelAnswer(200, null, MaxAnswerBytes) { Status = "OK", GrpcStatus = "OK", ProtocolFailure = Judgement.Fail(Verdict.JsonTensorMissing, problem) };
        return new ModelAnswer(200, json.ToArray(), MaxAnswerBytes) { Status = "OK (200)", GrpcStatus = "OK" };
    }

    /// <summary>
    /// One readiness check: grpc.health.v1 Check for the server (service ""), or, where the server has no health service,
    /// V2's ServerReady. Connection failures propagate as for <see cref="InferAsync"/>.
    /// </summary>
    public async Task<GrpcReadiness> CheckReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var options = new CallOptions(deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
        try
        {
            var health = await _calls.AsyncUnaryCall(_check, null, options, new HealthCheckRequest { Service = "" });
            return new GrpcReadiness(health.Status == HealthCheckResponse.Types.ServingStatus.Serving, $"grpc.health.v1 {health.Status}");
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            // No health service: V2's own readiness call decides.
        }
        catch (RpcException e)
        {
            return Unready(e, "grpc.health.v1 Check", cancellationToken);
        }

        try
        {
            var ready = await _calls.AsyncUnaryCall(_ready, null, options, new ServerReadyRequest());
            return new GrpcReadiness(ready.Ready, $"ServerReady ready={ready.Ready.ToString().ToUpperInvariant()} (no grpc.health.v1 service)");
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            return new GrpcReadiness(false, "UNIMPLEMENTED for grpc.health.v1.Health/Check and inference.GRPCInferenceService/ServerReady", Verdict.GrpcUnimplemented);
        }
        catch (RpcException e)
        {
            return Unready(e, "ServerReady", cancellationToken);
        }
    }

    private static GrpcReadiness Unready(RpcException e, string call, CancellationToken cancellationToken)
    {
        // No answer to a readiness check in time is silence, as it always was (the caller waits on), whoever said it.
        if (e.StatusCode == StatusCode.DeadlineExceeded) throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
        ThrowIfCallerLeft(e, cancellationToken);
        Rethrow(e);
        var over = OverLimits(e);
        if (over is not null) return new GrpcReadiness(false, $"{call}'s answer was not read: {over.Message}");
        return new GrpcReadiness(false, $"{call} answered {GrpcStatusMap.Name(e.StatusCode)}: {Trim(e.Status.Detail)}");
    }

    private ModelAnswer Failed(RpcException e, TimeSpan elapsed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ThrowIfCallerLeft(e, cancellationToken);
        Rethrow(e);
        var code = e.StatusCode;
        var name = GrpcStatusMap.Name(code);
        // Client-side outcomes first: grpc-dotnet reports its own limits and parse failures as statuses.
        if (code == StatusCode.ResourceExhausted && e.Status.Detail.StartsWith(OverLimit, StringComparison.Ordinal))
            return new ModelAnswer(200, null, MaxAnswerBytes) { Status = "OK (over the size cap)", GrpcStatus = "OK" };
        var over = OverLimits(e);
        if (over is not null)
            return Broken(Verdict.ResponseTooLarge, $"the answer to ModelInfer was not read: {over.Message}");
        if (code == StatusCode.DeadlineExceeded && elapsed >= timeout * 0.9)
            throw new OperationCanceledException($"no answer within {timeout.TotalSeconds:0.###} s (DEADLINE_EXCEEDED)", e);
        if (Unparsed(e))
            return Broken(Verdict.MalformedAnswer, $"the answer to ModelInfer is not a valid inference.ModelInferResponse: {e.Status.Detail}");
        if (code == StatusCode.Unimplemented)
            return Broken(Verdict.GrpcUnimplemented,
                $"the model answered UNIMPLEMENTED to inference.GRPCInferenceService/ModelInfer: it must serve the Open Inference Protocol V2 ({e.Status.Detail})");
        var status = GrpcStatusMap.ToHttp(code);
        var detail = e.Status.Detail;
        var body = JsonSerializer.SerializeToUtf8Bytes(new GrpcError(detail, name), MeshJson.Options);
        return new ModelAnswer(status, body, MaxAnswerBytes) { Status = $"{name} ({status})" + (detail.Length == 0 ? "" : $": {Trim(detail)}"), GrpcStatus = name };

        ModelAnswer Broken(Verdict verdict, string why) =>
            new(GrpcStatusMap.ToHttp(code), null, MaxAnswerBytes) { Status = name, GrpcStatus = name, ProtocolFailure = Judgement.Fail(verdict, why) };
    }

    /// <summary>The caller gave up (its own time limit, or it left): no answer, as on the REST path.</summary>
    private static void ThrowIfCallerLeft(RpcException e, CancellationToken cancellationToken)
    {
        if (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
    }

    /// <summary>A failure of the way to the model (refused, reset, not HTTP/2) leaves as the exception the REST path throws.</summary>
    private static void Rethrow(RpcException e)
    {
        var inner = e.Status.DebugException;
        // A message that does not parse is the model's answer (malformed-answer), though protobuf reports it as an IOException.
        if (Unparsed(e)) return;
        while (inner is not null and not HttpRequestException and not IOException) inner = inner.InnerException;
        switch (inner)
        {
            case HttpRequestException http:
                throw new HttpRequestException(http.HttpRequestError, http.Message, http);
            case IOException io:
                throw new IOException(io.Message, io);
        }

        if (e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is not null)
            throw new HttpRequestException(HttpRequestError.Unknown, e.Status.Detail, e);
    }

    private static bool Unparsed(RpcException e)
    {
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
            if (inner is InvalidProtocolBufferException or AnswerOverLimitsException) return true;
        return false;
    }

    private static AnswerOverLimitsException? OverLimits(RpcException e)
    {
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
            if (inner is AnswerOverLimitsException over) return over;
        return null;
    }

    private static string Trim(string s) => s.Length <= 300 ? s : s[..300] + "…";

    public void Dispose() => _channel.Dispose();

    private sealed record GrpcError(string Error, string GrpcStatus);
}

/// <summary>An answer over what <see cref="ModelChannel"/> parses (<see cref="WireBudget"/>): it was not parsed.</summary>
public sealed class AnswerOverLimitsException(string why) : Exception($"{why} (the limits on what an answer may make of itself once parsed)");

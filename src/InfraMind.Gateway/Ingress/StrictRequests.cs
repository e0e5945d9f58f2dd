using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// The ingress's services bound with request marshallers that count what a message would become before it is parsed
/// and answer a message that is not valid protobuf the way every other bad request is answered. Over
/// <see cref="Limits"/> (<see cref="WireBudget"/>) it is <c>RESOURCE_EXHAUSTED</c>, as a message over the size
/// limit is, with <see cref="MeshErrorCodes.GrpcMessageOverLimits"/> in the <c>inframind-code</c> trailer; not
/// protobuf, <c>INVALID_ARGUMENT</c>, the message naming the method's message type and what is wrong, and
/// <see cref="MeshErrorCodes.GrpcMessageMalformed"/>. grpc-aspnetcore parses the message before any handler or
/// interceptor runs, and a parse failure there is otherwise <c>UNKNOWN</c>, "Exception was thrown by handler", logged
/// as the server's own error. grpc-aspnetcore finds these binders through the <see cref="BindServiceMethodAttribute"/>
/// on the service classes; the methods and their handlers are the generated ones, only the request marshaller differs.
/// The V2 service is bound in two parts, ModelInfer (<see cref="GrpcIngress"/>) and the rest
/// (<see cref="GrpcIngressQueries"/>), so that each part has its own message size limit. Server reflection reads the
/// generated descriptors as before.
/// </summary>
internal static class StrictRequests
{
    /// <summary>The V2 inference service's ModelInfer, bound as <see cref="GRPCInferenceService.BindService(ServiceBinderBase, GRPCInferenceService.GRPCInferenceServiceBase)"/> binds it.</summary>
    public static void BindInference(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase service) =>
        GRPCInferenceService.BindService(new Binder(binder, name => name == nameof(GrpcIngress.ModelInfer)), service);

    /// <summary>The V2 inference service's other methods (ServerLive, ModelMetadata …).</summary>
    public static void BindQueries(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase service) =>
        GRPCInferenceService.BindService(new Binder(binder, name => name != nameof(GrpcIngress.ModelInfer)), service);

    /// <summary>grpc.health.v1.Health, bound as <see cref="Health.BindService(ServiceBinderBase, Health.HealthBase)"/> binds it.</summary>
    public static void BindHealth(ServiceBinderBase binder, Health.HealthBase service) =>
        Health.BindService(new Binder(binder, _ => true), service);

    /// <summary>
    /// The most bytes of a request message other than ModelInfer's (whose limit is the gateway's MaxRequestBytes): each
    /// names at most a model and a version (a model's name is at most 63 characters). Enforced by grpc-aspnetcore as
    /// it reads the message's length, so a larger one is never buffered.
    /// </summary>
    public const int SmallRequestBytes = 1024;

    /// <summary>
    /// What one request message may make of itself once parsed (<see cref="WireBudget"/>): a ModelInfer under the json
    /// convention holds about ten objects and one number (its shape), so these leave room for parameters and
    /// requested outputs while one request costs the gateway at most a few hundred KiB of objects, not 130 MiB.
    /// </summary>
    public static readonly WireLimits Limits = new(MaxObjects: 1024, MaxValues: 1024);

    /// <summary>
    /// The most characters of the parser's reason quoted in the status message. Google.Protobuf's reasons are its own
    /// fixed text, the longest 202 characters ("While parsing a protocol message, the input ended unexpectedly …"):
    /// each is quoted whole.
    /// </summary>
    private const int MaxReason = 256;

    /// <summary>Forwards the methods <paramref name="binds"/> names to <paramref name="inner"/> with their request marshaller made strict.</summary>
    private sealed class Binder(ServiceBinderBase inner, Func<string, bool> binds) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (binds(method.Name)) inner.AddMethod(Strict(method), handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (binds(method.Name)) inner.AddMethod(Strict(method), handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (binds(method.Name)) inner.AddMethod(Strict(method), handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (binds(method.Name)) inner.AddMethod(Strict(method), handler);
        }
    }

    private static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        // The package of the service names the message type as the .proto does: inference.ModelInferRequest.
        var package = method.ServiceName.LastIndexOf('.') is var dot and > 0 ? method.ServiceName[..(dot + 1)] : "";
        var type = package + typeof(TRequest).Name;
        var descriptor = ((IMessage)Activator.CreateInstance<TRequest>()).Descriptor;
        var strict = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
        {
            if (WireBudget.Exceeds(context.PayloadAsReadOnlySequence(), descriptor, Limits) is { } over)
                throw OverLimits(method.Name, type, over);
            try
            {
                return parse(context);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw Malformed(method.Name, type, e.Message);
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, strict, method.ResponseMarshaller);
    }

    /// <summary>The status of a message over <see cref="Limits"/>: never parsed.</summary>
    internal static RpcException OverLimits(string method, string type, string why) =>
        new(new Status(StatusCode.ResourceExhausted,
                $"request over the gateway's limits: the {method} request ({type}) was not parsed: {why}; " +
                "a request under InfraMind's json convention holds one input tensor (docs/protocols.md)"),
            GrpcIngress.Trailers(MeshErrorCodes.GrpcMessageOverLimits));

    /// <summary>The status of a message that is not valid protobuf for <paramref name="type"/>.</summary>
    internal static RpcException Malformed(string method, string type, string reason) =>
        new(new Status(StatusCode.InvalidArgument,
                $"malformed request: the {method} request is not a valid {type} message ({Reason(reason)}); " +
                "encode it with the Open Inference Protocol V2 .proto (docs/protocols.md)"),
            GrpcIngress.Trailers(MeshErrorCodes.GrpcMessageMalformed));

    /// <summary>
    /// The parser's reason as one clause of the message: its double spaces single, without its closing full stop; beyond
    /// <see cref="MaxReason"/>, shortened with "…", never inside a parenthesis it opens.
    /// </summary>
    private static string Reason(string reason)
    {
        var text = string.Join(' ', reason.Split(' ', StringSplitOptions.RemoveEmptyEntries)).TrimEnd('.');
        if (text.Length <= MaxReason) return text;
        var cut = TerminalText.Cut(text, MaxReason);
        var (depth, outer) = (0, 0);
        for (var i = 0; i < cut.Length; i++)
        {
            if (cut[i] == '(' && depth++ == 0) outer = i;
            else if (cut[i] == ')' && depth > 0) depth--;
        }

        return (depth > 0 ? cut[..outer].TrimEnd() : cut) + "…";
    }
}

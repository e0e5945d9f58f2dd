using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using InfraMind.Serving;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// The ingress's services bound with request marshallers that answer a message that is not valid protobuf the way
/// every other bad request is answered: <c>INVALID_ARGUMENT</c>, the message naming the method's message type and what
/// is wrong, and <see cref="MeshErrorCodes.GrpcMessageMalformed"/> in the <c>inframind-code</c> trailer. grpc-aspnetcore
/// parses the message before any handler or interceptor runs, and a parse failure there is otherwise <c>UNKNOWN</c>,
/// "Exception was thrown by handler", logged as the server's own error. grpc-aspnetcore finds these binders through the
/// <see cref="BindServiceMethodAttribute"/> on the service classes; the methods and their handlers are the generated
/// ones, only the request marshaller differs. Server reflection reads the generated descriptors as before.
/// </summary>
internal static class StrictRequests
{
    /// <summary>The V2 inference service, bound as <see cref="GRPCInferenceService.BindService(ServiceBinderBase, GRPCInferenceService.GRPCInferenceServiceBase)"/> binds it.</summary>
    public static void BindInference(ServiceBinderBase binder, GRPCInferenceService.GRPCInferenceServiceBase service) =>
        GRPCInferenceService.BindService(new Binder(binder), service);

    /// <summary>grpc.health.v1.Health, bound as <see cref="Health.BindService(ServiceBinderBase, Health.HealthBase)"/> binds it.</summary>
    public static void BindHealth(ServiceBinderBase binder, Health.HealthBase service) =>
        Health.BindService(new Binder(binder), service);

    /// <summary>The most characters of the parser's reason quoted in the status message.</summary>
    private const int MaxReason = 200;

    /// <summary>Forwards every method to <paramref name="inner"/> with its request marshaller made strict.</summary>
    private sealed class Binder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);
    }

    private static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var parse = method.RequestMarshaller.ContextualDeserializer;
        // The package of the service names the message type as the .proto does: inference.ModelInferRequest.
        var package = method.ServiceName.LastIndexOf('.') is var dot and > 0 ? method.ServiceName[..(dot + 1)] : "";
        var type = package + typeof(TRequest).Name;
        var strict = new Marshaller<TRequest>(method.RequestMarshaller.ContextualSerializer, context =>
        {
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

    /// <summary>The status of a message that is not valid protobuf for <paramref name="type"/>.</summary>
    internal static RpcException Malformed(string method, string type, string reason) =>
        new(new Status(StatusCode.InvalidArgument,
                $"malformed request: the {method} request is not a valid {type} message ({TerminalText.Cut(reason, MaxReason)}); " +
                "encode it with the Open Inference Protocol V2 .proto (docs/protocols.md)"),
            GrpcIngress.Trailers(MeshErrorCodes.GrpcMessageMalformed));
}

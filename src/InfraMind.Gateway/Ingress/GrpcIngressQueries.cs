using Grpc.Core;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Gateway.Ingress;

/// <summary>
/// The V2 gRPC API's methods other than ModelInfer (<see cref="GrpcIngress"/>): the server's and a model's liveness,
/// readiness and metadata. Bound apart from ModelInfer (<see cref="StrictRequests.BindQueries"/>) so that their
/// request messages, which name at most a model and a version, are held to <see cref="StrictRequests.SmallRequestBytes"/>
/// and take no inference slot.
/// </summary>
[BindServiceMethod(typeof(StrictRequests), nameof(StrictRequests.BindQueries))]
internal sealed class GrpcIngressQueries(InferenceCore core) : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) => Task.FromResult(new ServerLiveResponse { Live = true });

    /// <summary>The gateway takes requests once it runs; whether a model can be served now is ModelReady's question.</summary>
    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) => Task.FromResult(new ServerReadyResponse { Ready = true });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = "inframind-gateway", Version = typeof(GrpcIngress).Assembly.GetName().Version?.ToString() ?? "" });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = core.IsReady(Resolve(request.Name, request.Version)) });

    /// <summary>Every model takes and gives the json tensor; its JSON Schemas are at GET /inference/v1/&lt;name&gt;/openapi.json.</summary>
    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        var model = Resolve(request.Name, request.Version);
        var response = new ModelMetadataResponse { Name = model.Published.Name, Platform = "inframind" };
        response.Versions.Add(core.Mesh.VersionsOf(model.Published.Name).Select(m => m.Published.Version.ToString()));
        response.Inputs.Add(JsonTensorMetadata());
        response.Outputs.Add(JsonTensorMetadata());
        return Task.FromResult(response);
    }

    /// <summary>The version of a request's model_name/version pair (empty version: the latest released one), or the RpcException for it.</summary>
    private ServedModel Resolve(string name, string version)
    {
        if (name.Length == 0)
            throw GrpcIngress.Failure(core, new(400, MeshErrorCodes.GrpcRequestInvalid, "no model named", "the request's name is empty; name the model to ask about."));
        return core.Resolve(name, GrpcIngress.Version(version), out var model) is { } problem ? throw GrpcIngress.Failure(core, problem) : model!;
    }

    private static ModelMetadataResponse.Types.TensorMetadata JsonTensorMetadata()
    {
        var tensor = new ModelMetadataResponse.Types.TensorMetadata { Name = JsonTensor.Name, Datatype = JsonTensor.DataType };
        tensor.Shape.Add(1);
        return tensor;
    }
}

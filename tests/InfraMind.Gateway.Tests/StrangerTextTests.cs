using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Ingress;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Serving.Telemetry;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// What a caller's own text costs the gateway and comes back in its answers: bounded, whatever the caller sent (found
/// by an audit: an input breaking its schema in 93,000 places took ~30 s of CPU and came back as 7 MB; a long name came
/// back whole in grpc-message, beyond what gRPC clients read as metadata).
/// </summary>
public sealed class StrangerTextTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private GatewayHost _gateway = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        var yaml = """
            name: closed
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            input_schema: {type: object, properties: {text: {type: string}}, required: [text], additionalProperties: false}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """;
        var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        _catalog.Publish(new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1));
        _gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = MeshToken.Create(), Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0" },
            _catalog, CancellationToken.None);
        _http.BaseAddress = _gateway.Url;
        _channel = GrpcChannel.ForAddress(_gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
    }

    public void Dispose() => _http.Dispose();

    private static string ManyForbiddenKeys(int count)
    {
        var document = new JsonObject { ["text"] = "hi" };
        for (var i = 0; i < count; i++) document[$"k{i}"] = 0;
        return document.ToJsonString();
    }

    private static ModelInferRequest Infer(string name, string json, Action<ModelInferRequest.Types.InferInputTensor>? change = null)
    {
        var request = JsonTensor.Request(name, "", "1", Encoding.UTF8.GetBytes(json));
        change?.Invoke(request.Inputs[0]);
        return request;
    }

    [Fact]
    public async Task An_input_breaking_its_schema_in_thousands_of_places_is_answered_with_the_first_hundred_errors_and_says_there_are_more()
    {
        using var content = new StringContent(ManyForbiddenKeys(20_000), Encoding.UTF8, "application/json");
        using var r = await _http.PostAsync(new Uri("inference/v1/closed", UriKind.Relative), content);
        var text = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(MeshErrorCodes.InputInvalid.Value, (string?)problem["code"]);
        Assert.Equal(ModelSchema.MaxViolations, problem["errors"]!.AsArray().Count);
        Assert.Contains($"more than {ModelSchema.MaxViolations} errors", (string?)problem["detail"], StringComparison.Ordinal);
        Assert.True(text.Length < 32 * 1024, $"{text.Length} characters");

        // The same over gRPC: a status message gRPC clients read (their metadata limit is 8 KiB by default).
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(Infer("closed", ManyForbiddenKeys(20_000))).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal(MeshErrorCodes.InputInvalid.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
        Assert.True(e.Status.Detail.Length <= GrpcIngress.MaxStatusMessage, $"{e.Status.Detail.Length} characters");
        Assert.Matches(@"\(and \d+ more\)$", e.Status.Detail);
    }

    [Fact]
    public async Task A_long_name_or_version_comes_back_cut_with_its_length_said()
    {
        var name = new string('n', 60_000);
        // ModelReady's and ModelMetadata's requests are held to a kilobyte (StrictRequests.SmallRequestBytes): a name
        // within it; past it the message is not read at all (GrpcMessageLimitTests).
        var shorter = new string('n', 1000);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        foreach (var (call, length) in new (Func<Task>, int)[]
                 {
                     (() => client.ModelInferAsync(Infer(name, """{"text": "x"}""")).ResponseAsync, 60_000),
                     (() => client.ModelReadyAsync(new ModelReadyRequest { Name = shorter }).ResponseAsync, 1000),
                     (() => client.ModelMetadataAsync(new ModelMetadataRequest { Name = shorter }).ResponseAsync, 1000),
                 })
        {
            var e = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.NotFound, e.StatusCode);
            Assert.Equal(MeshErrorCodes.ModelNotFound.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
            // The REST problem's hint, as UTF-8 in a binary trailer.
            Assert.Equal(MeshErrorCodes.ModelNotFound.DefaultHint, System.Text.Encoding.UTF8.GetString(e.Trailers.GetValueBytes(GrpcIngress.HintTrailer)!));
            Assert.Contains($"({length} characters)", e.Status.Detail, StringComparison.Ordinal);
            Assert.True(e.Status.Detail.Length < 300, e.Status.Detail);
        }

        var tooLong = await Assert.ThrowsAsync<RpcException>(() => client.ModelReadyAsync(new ModelReadyRequest { Name = name }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, tooLong.StatusCode);

        var version = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(new ModelInferRequest(Infer("closed", """{"text": "x"}""")) { ModelVersion = new string('9', 5000) }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, version.StatusCode);
        Assert.True(version.Status.Detail.Length < 300, version.Status.Detail);

        using var r = await _http.PostAsync(new Uri("inference/v1/" + new string('n', 5000), UriKind.Relative), new StringContent("""{"text": "x"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        var detail = (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["detail"];
        Assert.Contains("(5000 characters)", detail, StringComparison.Ordinal);
        Assert.True(detail!.Length < 300, detail);
    }

    [Fact]
    public async Task A_json_tensor_of_another_datatype_or_shape_or_a_second_input_is_refused_never_partly_read()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        var requests = new[]
        {
            Infer("closed", """{"text": "x"}""", t => t.Datatype = "FP32"),
            Infer("closed", """{"text": "x"}""", t => t.Shape.Add(3)),
            Infer("closed", """{"text": "x"}""", t => t.Contents.BytesContents.Add(Google.Protobuf.ByteString.CopyFromUtf8("""{"text": 5}"""))),
            new ModelInferRequest(Infer("closed", """{"text": "x"}""")) { Inputs = { JsonTensor.Request("closed", "", "", """{"text": 5}"""u8).Inputs[0] } },
        };
        foreach (var request in requests)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Equal(MeshErrorCodes.GrpcRequestInvalid.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
        }
    }

    /// <summary>A call whose request message is the bytes given, not a serialized message (what a broken or hostile client sends).</summary>
    private async Task<RpcException> RawCallFailsAsync(string service, string method, byte[] message)
    {
        var raw = new Marshaller<byte[]>(b => b, b => b);
        var call = new Method<byte[], byte[]>(MethodType.Unary, service, method, raw, raw);
        var invoker = _channel.CreateCallInvoker();
        return await Assert.ThrowsAsync<RpcException>(async () => await invoker.AsyncUnaryCall(call, null, new CallOptions(), message));
    }

    [Fact]
    public async Task A_request_that_is_not_protobuf_is_INVALID_ARGUMENT_with_its_code_and_counted_and_the_next_call_is_served()
    {
        // An invalid tag (zero), a length past the end, a wrong wire type: what protobuf's parser refuses.
        foreach (var bytes in new[] { new byte[] { 0xff, 0xff, 0xff }, [0x00], [0x0a, 0x7f, 0x61], [0x0f] })
        {
            var e = await RawCallFailsAsync("inference.GRPCInferenceService", "ModelInfer", bytes);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Equal(MeshErrorCodes.GrpcMessageMalformed.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
            Assert.Equal(MeshErrorCodes.GrpcMessageMalformed.DefaultHint, System.Text.Encoding.UTF8.GetString(e.Trailers.GetValueBytes(GrpcIngress.HintTrailer)!));
            Assert.StartsWith("malformed request: the ModelInfer request is not a valid inference.ModelInferRequest message (", e.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception was thrown by handler", e.Status.Detail, StringComparison.Ordinal);
        }

        // The other methods and Health alike.
        var ready = await RawCallFailsAsync("inference.GRPCInferenceService", "ModelReady", [0xff, 0xff, 0xff]);
        Assert.Equal(StatusCode.InvalidArgument, ready.StatusCode);
        Assert.Contains("inference.ModelReadyRequest", ready.Status.Detail, StringComparison.Ordinal);
        var health = await RawCallFailsAsync("grpc.health.v1.Health", "Check", [0xff, 0xff, 0xff]);
        Assert.Equal(StatusCode.InvalidArgument, health.StatusCode);
        Assert.Equal(MeshErrorCodes.GrpcMessageMalformed.Value, health.Trailers.GetValue(GrpcIngress.CodeTrailer));
        Assert.Contains("grpc.health.v1.HealthCheckRequest", health.Status.Detail, StringComparison.Ordinal);

        // Each malformed ModelInfer is counted as a 400 under no model's name, as the REST face counts a bad request.
        var metrics = await _http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains($"inframind_gateway_requests_total{{model=\"{MetricSeries.UnknownModel}\",status=\"400\"}} 4", metrics, StringComparison.Ordinal);

        // A well-formed call on the same channel is answered as ever (here: the model has no node yet).
        var next = await Assert.ThrowsAsync<RpcException>(async () => await new GRPCInferenceService.GRPCInferenceServiceClient(_channel).ModelInferAsync(Infer("closed", "{\"text\":\"hi\"}")));
        Assert.Equal(StatusCode.Unavailable, next.StatusCode);
    }
}

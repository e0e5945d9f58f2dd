using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Gateway.Ingress;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// What a stranger's request message may cost the gateway's gRPC ingress beyond its bytes. Google.Protobuf makes an
/// object of every message it reads, and an empty one takes two bytes on the wire: before these limits, 1 MiB of empty
/// input tensors held ~137 MiB of the gateway's memory until the call ended, and the ingress's other methods took 1 MiB
/// messages without an inference slot. Now a ModelInfer is counted before it is parsed (IM6050), every other request
/// is held to 1 KiB before it is read, and honest requests pass as before.
/// </summary>
// Alone (BoundaryCollection): the cases measure the process's allocations around one request.
[Collection(BoundaryCollection.Name)]
public sealed class GrpcMessageLimitTests
{
    [Fact]
    public async Task A_ModelInfer_of_a_million_empty_tensors_is_refused_before_it_is_parsed_and_costs_no_more_than_its_bytes()
    {
        var (gateway, node) = await EchoGateway.StartAsync();
        await using var servedBy = gateway;
        await using var answeredBy = node;
        // 512 Ki empty input tensors (field 5, length 0) after a model name: 1 MiB, within the message size limit.
        var message = new ModelInferRequest { ModelName = "echo" }.ToByteArray()
            .Concat(Enumerable.Range(0, 512 * 1024).SelectMany(_ => new byte[] { 0x2A, 0x00 })).ToArray();
        Assert.True(message.Length <= new GatewayOptions().MaxRequestBytes + GatewayOptions.GrpcEnvelopeBytes, $"{message.Length} bytes");

        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var (status, detail, code) = await SendAsync(gateway, "inference.GRPCInferenceService/ModelInfer", message);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal((StatusCode.ResourceExhausted, MeshErrorCodes.GrpcMessageOverLimits.Value), (status, code));
        Assert.Equal("request over the gateway's limits: the ModelInfer request (inference.ModelInferRequest) was not parsed: it holds more than " +
                     "1,024 objects (messages, strings, byte strings and unknown fields), the most taken; a request under InfraMind's json " +
                     "convention holds one input tensor (docs/protocols.md)", detail);
        // The message and the buffers that read it, not the ~137 MiB its parse made (this process also holds the caller).
        Assert.True(allocated < 24L << 20, $"{allocated >> 20} MiB allocated while the gateway took the message");
        Assert.Empty(node.Jobs);

        // The gateway serves on, and counted the refusal as a 413 under no model's name.
        await AssertServesAsync(gateway);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var metrics = await client.GetStringAsync(new Uri(gateway.Url, "metrics"));
        Assert.Contains("inframind_gateway_requests_total{model=\"(unknown)\",status=\"413\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_honest_request_with_parameters_and_requested_outputs_is_served()
    {
        var (gateway, node) = await EchoGateway.StartAsync();
        await using var servedBy = gateway;
        await using var answeredBy = node;
        using var channel = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        var request = JsonTensor.Request("echo", "", "c1", Encoding.UTF8.GetBytes("""{"text": "hi"}"""));
        for (var i = 0; i < 50; i++) request.Parameters[$"p{i}"] = new InferParameter { StringParam = "v" };
        for (var i = 0; i < 50; i++) request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = $"o{i}" });

        var answer = await new GRPCInferenceService.GRPCInferenceServiceClient(channel).ModelInferAsync(request);

        Assert.True(JsonTensor.TryRead(answer, out var json, out var problem), problem);
        Assert.Equal("""{"summary":"ok"}""", Encoding.UTF8.GetString(json.Span));
    }

    [Theory]
    [InlineData("inference.GRPCInferenceService/ModelMetadata")]
    [InlineData("inference.GRPCInferenceService/ServerLive")]
    [InlineData("grpc.health.v1.Health/Check")]
    public async Task Every_other_request_is_held_to_a_kilobyte_before_it_is_read(string method)
    {
        var (gateway, node) = await EchoGateway.StartAsync();
        await using var servedBy = gateway;
        await using var answeredBy = node;
        // 1 MiB of unknown fields (field 15, varint 0): within ModelInfer's limit, far past what a name and a version take.
        var message = Enumerable.Range(0, 512 * 1024).SelectMany(_ => new byte[] { 0x78, 0x00 }).ToArray();

        GC.Collect();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var (status, detail, _) = await SendAsync(gateway, method, message);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(StatusCode.ResourceExhausted, status);
        Assert.Contains("Received message exceeds the maximum configured message size", detail, StringComparison.Ordinal);
        Assert.True(allocated < 16L << 20, $"{allocated >> 20} MiB allocated while the gateway took the message");

        // Within the kilobyte, the methods answer as before.
        var small = new ModelMetadataRequest { Name = "echo" }.ToByteArray();
        Assert.True(small.Length < StrictRequests.SmallRequestBytes);
        Assert.Equal(StatusCode.OK, (await SendAsync(gateway, "inference.GRPCInferenceService/ModelMetadata", small)).Status);
        await AssertServesAsync(gateway);
    }

    private static async Task AssertServesAsync(GatewayHost gateway)
    {
        using var channel = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        var answer = await new GRPCInferenceService.GRPCInferenceServiceClient(channel)
            .ModelInferAsync(JsonTensor.Request("echo", "", "after", Encoding.UTF8.GetBytes("""{"text": "after"}""")));
        Assert.True(JsonTensor.TryRead(answer, out _, out var problem), problem);
    }

    /// <summary>One gRPC call of <paramref name="message"/> framed by hand: its status, message and inframind-code.</summary>
    private static async Task<(StatusCode Status, string Detail, string? Code)> SendAsync(GatewayHost gateway, string path, byte[] message)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.GrpcUrl!, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcFrame.Of(message)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        string? Value(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var t) ? t.Single() : response.Headers.TryGetValues(name, out var h) ? h.Single() : null;
        var status = (StatusCode)int.Parse(Value("grpc-status") ?? "-1", CultureInfo.InvariantCulture);
        return (status, Uri.UnescapeDataString(Value("grpc-message") ?? ""), Value(GrpcIngress.CodeTrailer));
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Testing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// A caller's compressed message on the gateway's gRPC ingress: one within the limit is inflated and served as any other
/// (grpc-dotnet clients compress on request), one that inflates past the limit (a gzip bomb: ~0.5 MiB on the wire, 512 MiB
/// inflated) is RESOURCE_EXHAUSTED, having cost the gateway no more than the limit. grpc-aspnetcore (2.85) stops inflating
/// at MaxReceiveMessageSize: these hold that, since a check of the length on the wire alone (what gRPC stacks have
/// shipped: grpc-go, tonic and grpc core each fixed it) would let 1 MiB of a stranger's bytes cost the gateway 1 GiB.
/// </summary>
// Alone (BoundaryCollection): the cases measure the process's allocations around one request, which a test running
// beside them (GrpcDeadlineTests' 100,000-item answers) would add to.
[Collection(BoundaryCollection.Name)]
public sealed class GrpcCompressionTests
{
    private static ModelInferRequest Request(string document) =>
        JsonTensor.Request("echo", "", "c1", Encoding.UTF8.GetBytes(document));

    [Fact]
    public async Task A_compressed_request_within_the_limit_is_inflated_and_served()
    {
        var (gateway, node) = await EchoGateway.StartAsync();
        await using var servedBy = gateway;
        await using var answeredBy = node;
        using var channel = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        // grpc-dotnet's way to ask its client to gzip the request message.
        var headers = new Metadata { { "grpc-internal-encoding-request", "gzip" } };
        var text = new string('z', 50_000);

        var answer = await client.ModelInferAsync(Request($$"""{"text": "{{text}}"}"""), headers);

        Assert.True(JsonTensor.TryRead(answer, out var json, out var problem), problem);
        Assert.Equal("""{"summary":"ok"}""", Encoding.UTF8.GetString(json.Span));
        Assert.Contains(text, Encoding.UTF8.GetString(Assert.Single(node.Jobs).Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compressed_request_that_inflates_past_the_limit_is_resource_exhausted_and_never_inflated_whole()
    {
        var (gateway, node) = await EchoGateway.StartAsync();
        await using var servedBy = gateway;
        await using var answeredBy = node;
        var bomb = GzipBomb.Of(512);
        Assert.True(bomb.Length < 1 << 20, $"{bomb.Length} bytes on the wire");
        Assert.Equal(512L << 20, GzipBomb.Inflated(bomb));

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.GrpcUrl!, "inference.GRPCInferenceService/ModelInfer"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcFrame.Of(bomb, compressed: true)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.ParseAdd("trailers");
        request.Headers.Add("grpc-encoding", "gzip");

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        string? Value(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var t) ? t.Single() : response.Headers.TryGetValues(name, out var h) ? h.Single() : null;
        Assert.Equal(((int)StatusCode.ResourceExhausted).ToString(System.Globalization.CultureInfo.InvariantCulture), Value("grpc-status"));
        var detail = Uri.UnescapeDataString(Value("grpc-message") ?? "");
        Assert.Contains("Received message exceeds the maximum configured message size", detail, StringComparison.Ordinal);
        // The limit and a read buffer, not the 512 MiB the message inflates to (this process also holds the caller).
        Assert.True(allocated < 128L << 20, $"{allocated >> 20} MiB allocated while the gateway read the message");
        Assert.Empty(node.Jobs);

        // The gateway serves on.
        using var channel = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        var answer = await new GRPCInferenceService.GRPCInferenceServiceClient(channel).ModelInferAsync(Request("""{"text": "after"}"""));
        Assert.True(JsonTensor.TryRead(answer, out _, out var problem), problem);
    }
}

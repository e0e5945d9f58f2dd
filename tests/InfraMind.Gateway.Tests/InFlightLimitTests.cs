using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Gateway.Catalog;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The bound on inference requests in flight (InferenceAdmission), on a real gateway with a node whose answers wait
/// for the test: the REST and gRPC faces share it, it is taken before a body or message is read, a refusal names its
/// limit with a stable code and Retry-After, and slots come back when requests end.
/// </summary>
public sealed class InFlightLimitTests
{
    private sealed class Mesh : IAsyncDisposable
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public required GatewayHost Gateway { get; init; }

        public required FakeNode Node { get; init; }

        public required HttpClient Http { get; init; }

        public required GrpcChannel Channel { get; init; }

        public GRPCInferenceService.GRPCInferenceServiceClient Grpc => new(Channel);

        public static async Task<Mesh> StartAsync(int total, int perAddress)
        {
            var catalog = new InMemoryModelCatalog();
            catalog.Publish(MeshStateTests.Served().Published);
            var token = MeshToken.Create();
            var gateway = await GatewayHost.StartAsync(new GatewayOptions
            {
                NodeToken = token, Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0", MaxInferencesInFlight = total, MaxInferencesInFlightPerAddress = perAddress,
            }, catalog, CancellationToken.None);
            var node = new FakeNode(gateway.Url, token);
            var mesh = new Mesh
            {
                Gateway = gateway, Node = node, Http = new HttpClient { BaseAddress = gateway.Url },
                Channel = GrpcChannel.ForAddress(gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } }),
            };
            node.Answer = async (s, ct) =>
            {
                await mesh._open.Task.WaitAsync(ct);
                await FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct);
            };
            using (var r = await node.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            await node.ReadyAsync("n1");
            return mesh;
        }

        /// <summary>Lets every held answer (and every later one) go.</summary>
        public void Open() => _open.TrySetResult();

        public Task<HttpResponseMessage> PostAsync() =>
            Http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), new StringContent("""{"text":"hi"}""", Encoding.UTF8, "application/json"));

        public AsyncUnaryCall<ModelInferResponse> InferAsync()
        {
            var request = new ModelInferRequest { ModelName = "echo" };
            request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor
            {
                Name = JsonTensor.Name, Datatype = JsonTensor.DataType, Shape = { 1 },
                Contents = new InferTensorContents { BytesContents = { Google.Protobuf.ByteString.CopyFromUtf8("""{"text":"hi"}""") } },
            });
            return Grpc.ModelInferAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
        }

        /// <summary>Waits until the node holds <paramref name="jobs"/> jobs (each a request in flight at the gateway).</summary>
        public async Task HoldingAsync(int jobs)
        {
            for (var i = 0; i < 400 && Node.Jobs.Count < jobs; i++) await Task.Delay(25);
            Assert.Equal(jobs, Node.Jobs.Count);
        }

        public async Task<string> ScrapeAsync() => await Http.GetStringAsync(new Uri("metrics", UriKind.Relative));

        public async ValueTask DisposeAsync()
        {
            Open();
            Channel.Dispose();
            Http.Dispose();
            await Node.DisposeAsync();
            await Gateway.DisposeAsync();
        }
    }

    private static async Task<JsonObject> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, ErrorCode code)
    {
        Assert.Equal(status, r.StatusCode);
        Assert.NotNull(r.Headers.RetryAfter);
        var body = JsonNode.Parse(await r.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(code.Value, (string?)body["code"]);
        Assert.Equal(code.DefaultHint, (string?)body["hint"]);
        return body;
    }

    private static async Task RefusedAsync(AsyncUnaryCall<ModelInferResponse> call, StatusCode status, ErrorCode code)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(status, e.StatusCode);
        Assert.Equal(code.Value, e.Trailers.GetValue(Ingress.GrpcIngress.CodeTrailer));
        // Refused before the message is read (a trailers-only answer): the hint all the same, as a binary header.
        Assert.Equal(code.DefaultHint, System.Text.Encoding.UTF8.GetString(e.Trailers.GetValueBytes(Ingress.GrpcIngress.HintTrailer)!));
        Assert.Equal("1", e.Trailers.GetValue("retry-after"));
        Assert.Contains("requests in flight", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_beyond_the_gateways_limit_get_503_on_both_faces_until_slots_come_back()
    {
        await using var mesh = await Mesh.StartAsync(total: 2, perAddress: 2);
        var rest = mesh.PostAsync();
        var grpc = mesh.InferAsync().ResponseAsync;
        await mesh.HoldingAsync(2);
        var during = await mesh.ScrapeAsync();
        Assert.Contains("inframind_gateway_inferences_in_flight 2", during, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_inferences_in_flight_limit{scope=\"all\"} 2", during, StringComparison.Ordinal);

        var body = await ProblemAsync(await mesh.PostAsync(), HttpStatusCode.ServiceUnavailable, MeshErrorCodes.GatewayBusy);
        Assert.Contains("2 requests in flight", (string?)body["detail"], StringComparison.Ordinal);
        await RefusedAsync(mesh.InferAsync(), StatusCode.Unavailable, MeshErrorCodes.GatewayBusy);
        Assert.Equal(2, mesh.Node.Jobs.Count);

        mesh.Open();
        using (var r = await rest) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("echo", (await grpc).ModelName);
        using (var r = await mesh.PostAsync()) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("echo", (await mesh.InferAsync()).ModelName);
        var scrape = await mesh.ScrapeAsync();
        Assert.Contains("inframind_gateway_inferences_in_flight 0", scrape, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_requests_total{model=\"echo\",status=\"503\"} 1", scrape, StringComparison.Ordinal);
        Assert.Contains("inframind_gateway_requests_total{model=\"(unknown)\",status=\"503\"} 1", scrape, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_address_gets_at_most_its_share_and_a_429()
    {
        await using var mesh = await Mesh.StartAsync(total: 8, perAddress: 1);
        var held = mesh.PostAsync();
        await mesh.HoldingAsync(1);
        var body = await ProblemAsync(await mesh.PostAsync(), HttpStatusCode.TooManyRequests, MeshErrorCodes.TooManyFromAddress);
        Assert.Contains("from 127.0.0.1", (string?)body["detail"], StringComparison.Ordinal);
        await RefusedAsync(mesh.InferAsync(), StatusCode.ResourceExhausted, MeshErrorCodes.TooManyFromAddress);
        mesh.Open();
        using (var r = await held) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await mesh.PostAsync()) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Fact]
    public async Task A_body_still_arriving_holds_its_slot_so_bodies_are_read_only_within_the_limit()
    {
        await using var mesh = await Mesh.StartAsync(total: 1, perAddress: 1);

        // REST: the headers and 10 of 1000 declared bytes, then nothing.
        using (var slow = new TcpClient())
        {
            await slow.ConnectAsync(IPAddress.Loopback, mesh.Gateway.Url.Port);
            var stream = slow.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /inference/v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"text\":\"a"));
            await stream.FlushAsync();
            await WaitForAsync(mesh, 1);
            await ProblemAsync(await mesh.PostAsync(), HttpStatusCode.ServiceUnavailable, MeshErrorCodes.GatewayBusy);
            await RefusedAsync(mesh.InferAsync(), StatusCode.Unavailable, MeshErrorCodes.GatewayBusy);
        }

        // The sender left: its slot comes back (the read fails, the request ends).
        await WaitForAsync(mesh, 0);
        using (var r = await OkAsync(mesh)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        // gRPC: a ModelInfer whose message never finishes (5 bytes of its frame header) holds the slot too, whatever
        // the case of its path (ASP.NET Core's routing ignores case).
        foreach (var path in new[] { Ingress.GrpcIngress.ModelInferPath, Ingress.GrpcIngress.ModelInferPath.ToLowerInvariant() })
        {
            var gate = new TaskCompletionSource();
            using var h2 = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var cut = new CancellationTokenSource();
            var content = new PartialContent(gate.Task);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
            var partial = h2.PostAsync(new Uri(mesh.Gateway.GrpcUrl!, path), content, cut.Token);
            await WaitForAsync(mesh, 1);
            await ProblemAsync(await mesh.PostAsync(), HttpStatusCode.ServiceUnavailable, MeshErrorCodes.GatewayBusy);
            await cut.CancelAsync();
            gate.TrySetResult();
            await Assert.ThrowsAnyAsync<Exception>(() => partial);
            await WaitForAsync(mesh, 0);
        }
    }

    private static async Task WaitForAsync(Mesh mesh, int inFlight)
    {
        var line = $"inframind_gateway_inferences_in_flight {inFlight}";
        var seen = false;
        for (var i = 0; i < 400 && !seen; i++)
        {
            seen = (await mesh.ScrapeAsync()).Split('\n').Contains(line);
            if (!seen) await Task.Delay(25);
        }

        Assert.True(seen, $"never saw {line}");
    }

    private static async Task<HttpResponseMessage> OkAsync(Mesh mesh)
    {
        mesh.Open();
        return await mesh.PostAsync();
    }

    /// <summary>A gRPC frame header announcing a 100-byte message, then nothing until <paramref name="gate"/>.</summary>
    private sealed class PartialContent(Task gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(new byte[] { 0, 0, 0, 0, 100 });
            await stream.FlushAsync();
            await gate;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2:ffff:ffff:ffff:1", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::")]
    public void A_client_is_counted_by_its_IPv4_address_or_its_IPv6_64(string address, string counted) =>
        Assert.Equal(IPAddress.Parse(counted), ClientAddress.Group(IPAddress.Parse(address)));

    [Theory]
    [InlineData("gateway busy: 1024 in flight", "gateway busy: 1024 in flight")]
    [InlineData("100% full", "100%25 full")]
    [InlineData("line\nbreak ≥", "line%0Abreak %E2%89%A5")]
    public void A_grpc_message_is_percent_encoded_as_the_protocol_says(string message, string sent) =>
        Assert.Equal(sent, Ingress.GrpcIngress.PercentEncode(message));

    [Fact]
    public void Limits_below_one_are_refused()
    {
        Assert.NotEmpty(new GatewayOptions { MaxInferencesInFlight = 0 }.Validate());
        Assert.NotEmpty(new GatewayOptions { MaxInferencesInFlightPerAddress = 0 }.Validate());
        Assert.Empty(new GatewayOptions { MaxInferencesInFlight = 10, MaxInferencesInFlightPerAddress = 256 }.Validate());
    }
}

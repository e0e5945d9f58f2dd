using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Signing;
using InfraMind.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The direct route to a gRPC model as `infra mesh up` takes it: a node of the gateway's process (here played by the
/// test, registered for real with its credential) hands over the connector of its "container", a real h2c V2 server
/// on Kestrel; the gateway then speaks ModelInfer to it itself and judges the answer by the same rules as on the node's
/// path: output_schema, the json tensor convention, the size cap (MaxResponseBytes), the attempt's time limit, a valid
/// input refused. The fake node's own job API never sees a job.
/// </summary>
// Alone (BoundaryCollection): the cases measure the process's allocations around one request, which a test running
// beside them (GrpcDeadlineTests' 100,000-item answers) would add to.
[Collection(BoundaryCollection.Name)]
public sealed class GrpcDirectRouteTests
{
    private static PublishedModel GrpcEcho()
    {
        var yaml = """
            name: echo
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: grpc
            port: 50051
            resources: {cpu: 1, memory: 256Mi, gpu: false}
            input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
            output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
            """;
        var m = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(yaml)).Manifest!;
        return new PublishedModel(m.Name, m.Version, ManifestCache.Shared.Get(m), "sha256:" + new string('0', 64), [], 1);
    }

    [Theory]
    [InlineData("good", 200, null)]
    [InlineData("invalid-output", 502, "output-schema-violation")]
    [InlineData("no-json", 502, "json-tensor-missing")]
    [InlineData("huge", 502, "response-too-large")]
    [InlineData("gzip", 200, null)]
    [InlineData("huge-gzip", 502, "response-too-large")]
    // A gzip bomb, ~0.5 MiB on the wire and 512 MiB inflated: Grpc.Net.Client (2.85) stops inflating at its
    // MaxReceiveMessageSize, so it is response-too-large and costs the gateway no more than the cap (checked below for
    // every case). Held here because a check of the wire length alone would pass it.
    [InlineData("gzip-bomb", 502, "response-too-large")]
    [InlineData("slow", 502, "request-timeout")]
    [InlineData("invalid-argument", 502, "rejected-valid-input")]
    [InlineData("unimplemented", 502, "grpc-unimplemented")]
    public async Task A_grpc_models_answer_on_the_direct_route_is_judged_as_on_the_nodes_path(string behaviour, int status, string? verdict)
    {
        await using var model = await GrpcModelServer.StartAsync(behaviour);
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(GrpcEcho());
        var token = MeshToken.Create();
        var local = new LocalNodes();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions
        {
            NodeToken = token,
            Replicas = 1,
            MaxAttempts = 1,
            // "slow" answers after 5 s: 3 s times it out. Every other case gets 30 s, so a loaded 2-core machine still
            // reads "huge" to its limit and makes a first h2c call in time (with 1 s a busy run once timed out first:
            // request-timeout instead of response-too-large).
            AttemptTimeout = TimeSpan.FromSeconds(behaviour == "slow" ? 3 : 30),
            // The bomb's message on the wire (~0.5 MiB) is within its cap; what it inflates to is not.
            MaxResponseBytes = behaviour == "gzip-bomb" ? 1 << 20 : 64 * 1024,
            LocalNodes = local,
        }, catalog, CancellationToken.None);
        await using var node = new FakeNode(gateway.Url, token);
        using (var r = await node.RegisterAsync("local")) r.EnsureSuccessStatusCode();
        var localNode = new LocalNode(node, model);
        using var attached = local.Attach("local", localNode);
        await node.ReadyAsync("local");

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(30) };
        using var content = new StringContent("""{"text": "straight over h2c"}""", Encoding.UTF8, "application/json");
        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var answer = await http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        var body = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(status == (int)answer.StatusCode, body.ToJsonString());
        Assert.True(allocated < 128L << 20, $"{allocated >> 20} MiB allocated while the gateway read the answer");
        if (verdict is null)
        {
            Assert.Equal("straight over h2c", (string?)body["summary"]);
            Assert.Equal("local", answer.Headers.GetValues(MeshHeaders.Node).Single());
            Assert.Equal(1, model.Calls);
        }
        else
        {
            Assert.Equal(verdict, (string?)body["attempts"]![0]!["verdict"]);
        }

        // The compressing behaviours' answers came compressed: the gateway accepts gzip, so the cap must hold for what it inflates.
        if (behaviour.EndsWith("gzip", StringComparison.Ordinal)) Assert.Contains("gzip", model.AcceptEncoding, StringComparison.Ordinal);

        // Straight to the container: the node's job API saw nothing, and the node counted the job while it ran (its
        // stop waits for such jobs) and no longer does, whatever the outcome.
        Assert.Empty(node.Jobs);
        Assert.Equal((1, 1, 0), (localNode.Started, localNode.MostAtOnce, localNode.InFlight));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_keyed_local_nodes_receipt_goes_with_the_answer_and_with_none_the_answer_is_not_taken(bool signs)
    {
        await using var model = await GrpcModelServer.StartAsync("good");
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(GrpcEcho());
        var token = MeshToken.Create();
        var local = new LocalNodes();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token, Replicas = 1, MaxAttempts = 1, LocalNodes = local }, catalog, CancellationToken.None);
        using var key = SigningKey.CreateEphemeral("local");
        await using var node = new FakeNode(gateway.Url, token) { Key = key };
        using (var r = await node.RegisterAsync("local")) r.EnsureSuccessStatusCode();
        // A node of the gateway's process signs over the job itself; one that no longer runs the version signs nothing.
        using var attached = local.Attach("local", new LocalNode(node, model, signs ? key : null));
        await node.ReadyAsync("local");

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(30) };
        using var content = new StringContent("""{"text": "signed"}""", Encoding.UTF8, "application/json");
        using var answer = await http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        var bytes = await answer.Content.ReadAsByteArrayAsync();
        var body = JsonNode.Parse(bytes)!;
        if (signs)
        {
            Assert.True(answer.StatusCode == HttpStatusCode.OK, body.ToJsonString());
            var receipt = JobReceipts.Verify(answer.Headers.GetValues(MeshHeaders.Receipt).Single(), key.PublicKey);
            Assert.True(receipt.Valid, receipt.Problem);
            Assert.Equal(("local", "echo", "1.0.0"), (receipt.Receipt!.Node, receipt.Receipt.Model, receipt.Receipt.Version));
            Assert.Equal(JobReceipts.Sha256("""{"text":"signed"}"""u8), receipt.Receipt.InputSha256);
            Assert.Equal(JobReceipts.Sha256(bytes), receipt.Receipt.OutputSha256);
        }
        else
        {
            Assert.True(answer.StatusCode == HttpStatusCode.BadGateway, body.ToJsonString());
            Assert.Equal("receipt-invalid", (string?)body["attempts"]![0]!["verdict"]);
            Assert.False(answer.Headers.Contains(MeshHeaders.Receipt));
        }
    }

    [Fact]
    public async Task A_container_with_all_its_slots_taken_and_its_queue_full_is_busy_the_caller_gets_503_and_the_node_keeps_its_standing()
    {
        // One job at a time, one waiting: the third of a burst is refused before the model sees it (JobGate).
        await using var model = await GrpcModelServer.StartAsync("hold", new JobGate(inFlight: 1, queued: 1));
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(GrpcEcho());
        var token = MeshToken.Create();
        var local = new LocalNodes();
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token, Replicas = 1, MaxAttempts = 1, LocalNodes = local },
            catalog, CancellationToken.None);
        await using var node = new FakeNode(gateway.Url, token);
        using (var r = await node.RegisterAsync("local")) r.EnsureSuccessStatusCode();
        using var attached = local.Attach("local", new LocalNode(node, model));
        await node.ReadyAsync("local");
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway.Url, Timeout = TimeSpan.FromSeconds(60) };
        Task<HttpResponseMessage> Post(string text) =>
            http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), new StringContent($$"""{"text": "{{text}}"}""", Encoding.UTF8, "application/json"));

        var first = Post("first");
        await Until(() => model.Calls == 1);
        var second = Post("second");
        await Until(() => model.Jobs!.Waiting == 1);
        using (var third = await Post("third"))
        {
            var problem = JsonNode.Parse(await third.Content.ReadAsStringAsync())!;
            Assert.True(third.StatusCode == HttpStatusCode.ServiceUnavailable, problem.ToJsonString());
            Assert.Equal(MeshErrorCodes.NodeBusy.Value, (string?)problem["code"]);
            Assert.Contains("busy", (string?)problem["detail"], StringComparison.Ordinal);
            Assert.NotNull(third.Headers.RetryAfter);
        }

        Assert.Equal(1, model.Calls);
        model.Release();
        using (var a = await first) Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        using (var b = await second) Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        Assert.Equal(2, model.Calls);

        // Held against no one: the node is served to again at once, and the busy attempt is in the failures series.
        using (var again = await Post("again")) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Contains("inframind_gateway_failures_total{model=\"echo\",node=\"local\",verdict=\"node-busy\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("inframind_gateway_suspensions_total{", metrics, StringComparison.Ordinal);
    }

    private static async Task Until(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition()) await Task.Delay(20, limit.Token);
    }

    private sealed class LocalNode(FakeNode node, GrpcModelServer model, SigningKey? key = null) : ILocalNode
    {
        public string? Credential => node.Credential;

        public IModelConnector? ConnectorOf(string name, string version) => name == "echo" && version == "1.0.0" ? model : null;

        // Without a key the fake node registered none: the gateway asks for no receipt.
        public string? SignReceipt(string requestId, string name, string version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output) =>
            key is null ? null : JobReceipts.Sign(key, requestId, name, version, "sha256:" + new string('0', 64), input, output, "local", DateTimeOffset.UtcNow);

        private int _inFlight;
        private int _started;
        private int _mostAtOnce;

        public int InFlight => Volatile.Read(ref _inFlight);

        public int Started => Volatile.Read(ref _started);

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public void JobStarted()
        {
            Interlocked.Increment(ref _started);
            var now = Interlocked.Increment(ref _inFlight);
            for (var most = _mostAtOnce; now > most && Interlocked.CompareExchange(ref _mostAtOnce, now, most) != most; most = _mostAtOnce) { }
        }

        public void JobEnded() => Interlocked.Decrement(ref _inFlight);
    }

    /// <summary>A V2 server on Kestrel (h2c, prior knowledge) with one behaviour; its connector opens TCP connections to it.</summary>
    private sealed class GrpcModelServer : IModelConnector, IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Behaviour _behaviour;

        private GrpcModelServer(WebApplication app, Behaviour behaviour, JobGate? jobs) => (_app, _behaviour, Jobs) = (app, behaviour, jobs);

        public int Calls => _behaviour.Calls;

        public string? AcceptEncoding => _behaviour.AcceptEncoding;

        /// <inheritdoc/>
        public JobGate? Jobs { get; }

        /// <summary>Lets the calls a "hold" model keeps waiting answer.</summary>
        public void Release() => _behaviour.Released.TrySetResult();

        public static async Task<GrpcModelServer> StartAsync(string behaviour, JobGate? jobs = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
            builder.Logging.ClearProviders();
            var state = new Behaviour(behaviour);
            builder.Services.AddSingleton(state);
            builder.Services.AddGrpc(o =>
            {
                o.MaxSendMessageSize = null;
                // Answers gzip-compressed, as a server does for a client that accepts gzip (grpc-dotnet's does by default).
                if (behaviour.EndsWith("gzip", StringComparison.Ordinal)) o.ResponseCompressionAlgorithm = "gzip";
            });
            var app = builder.Build();
            if (behaviour == "gzip-bomb")
            {
                // Written by hand: a compressed answer grpc-dotnet's server would never send, 512 MiB of zeros as ~0.5 MiB of gzip.
                var bomb = GrpcFrame.Of(GzipBomb.Of(512), compressed: true);
                app.MapPost("/inference.GRPCInferenceService/ModelInfer", async http =>
                {
                    Interlocked.Increment(ref state.Calls);
                    await http.Request.Body.CopyToAsync(Stream.Null);
                    http.Response.ContentType = "application/grpc";
                    http.Response.Headers["grpc-encoding"] = "gzip";
                    await http.Response.Body.WriteAsync(bomb);
                    http.Response.AppendTrailer("grpc-status", "0");
                });
            }
            else if (behaviour != "unimplemented")
            {
                app.MapGrpcService<Model>();
            }

            await app.StartAsync();
            return new GrpcModelServer(app, state, jobs);
        }

        private int Port => new Uri(_app.Urls.First()).Port;

        public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }

        public async ValueTask DisposeAsync()
        {
            Release();
            Jobs?.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private sealed class Behaviour(string name)
    {
        public string Name { get; } = name;

        public int Calls;

        /// <summary>The grpc-accept-encoding of the last call: a compressing behaviour's answer is compressed only where it names gzip.</summary>
        public string? AcceptEncoding;

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Model(Behaviour behaviour) : GRPCInferenceService.GRPCInferenceServiceBase
    {
        public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref behaviour.Calls);
            behaviour.AcceptEncoding = context.GetHttpContext().Request.Headers["grpc-accept-encoding"].ToString();
            if (!JsonTensor.TryRead(request, out var document, out var problem)) throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
            var text = (string?)JsonNode.Parse(document.Span)!["text"];
            switch (behaviour.Name)
            {
                case "slow":
                    await Task.Delay(TimeSpan.FromSeconds(5), context.CancellationToken);
                    break;
                case "invalid-argument":
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "no"));
                case "hold":
                    await behaviour.Released.Task.WaitAsync(context.CancellationToken);
                    break;
            }

            var answer = behaviour.Name switch
            {
                "invalid-output" => """{"summary": 5}""",
                "huge" or "huge-gzip" => $$"""{"summary": "{{new string('x', 100 * 1024)}}"}""",
                _ => new JsonObject { ["summary"] = text }.ToJsonString(),
            };
            var output = new ModelInferResponse.Types.InferOutputTensor { Name = behaviour.Name == "no-json" ? "output0" : JsonTensor.Name, Datatype = "BYTES", Contents = new() };
            output.Shape.Add(1);
            output.Contents.BytesContents.Add(Google.Protobuf.ByteString.CopyFromUtf8(answer));
            var response = new ModelInferResponse { ModelName = request.ModelName, ModelVersion = request.ModelVersion, Id = request.Id };
            response.Outputs.Add(output);
            return response;
        }
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Health.V1;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>
/// <see cref="ModelChannel.CheckReadyAsync"/> against an h2c server written by hand (each answer framed as gRPC frames
/// it): grpc.health.v1 Check decides; a server without a health service is asked V2's ServerReady; one with neither is
/// named (grpc-unimplemented, the readiness verdict of infra test and a node's pre-flight). The conformance package
/// (tests/packages/grpc-model) always serves grpc.health.v1, so only these hold the fallback.
/// </summary>
public sealed class ModelChannelTests
{
    [Theory]
    [InlineData("serving", true, "grpc.health.v1 Serving", null, 0)]
    [InlineData("not-serving", false, "grpc.health.v1 NotServing", null, 0)]
    [InlineData("ready", true, "ServerReady ready=TRUE (no grpc.health.v1 service)", null, 1)]
    [InlineData("not-ready", false, "ServerReady ready=FALSE (no grpc.health.v1 service)", null, 1)]
    [InlineData("neither", false, "UNIMPLEMENTED for grpc.health.v1.Health/Check and inference.GRPCInferenceService/ServerReady", "grpc-unimplemented", 1)]
    // A health service that fails is an answer: not serving, said as such, and ServerReady is not asked.
    [InlineData("health-internal", false, "grpc.health.v1 Check answered INTERNAL: store offline", null, 0)]
    public async Task Readiness_is_grpc_health_or_without_it_V2s_ServerReady_and_a_server_of_neither_is_named(
        string behaviour, bool serving, string seen, string? verdict, int serverReadyCalls)
    {
        await using var model = await HandWrittenServer.StartAsync(behaviour);
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var check = await channel.CheckReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal((serving, seen, verdict), (check.Serving, check.Seen, check.Verdict?.WireName));
        Assert.Equal(serverReadyCalls, model.ServerReadyCalls);
    }

    [Fact]
    public async Task A_models_own_DEADLINE_EXCEEDED_sent_at_once_is_its_answer_a_server_error_not_a_timeout()
    {
        // Only silence until the time is up is request-timeout, which is the node's: a model that answers
        // DEADLINE_EXCEEDED itself, long before the deadline, has answered, and is judged by the status's HTTP
        // equivalent (504, a server error on a valid input: the model's). Before, grpc-dotnet's
        // ThrowOperationCanceledOnCancellation turned it into the timeout's OperationCanceledException.
        await using var model = await HandWrittenServer.StartAsync("deadline-exceeded");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var answer = await channel.InferAsync("""{"text": "hi"}"""u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal((504, "DEADLINE_EXCEEDED (504): the model's own clock"), (answer.StatusCode, answer.Status));
        // The status itself, apart from its HTTP equivalent: what infra test's case rows show.
        Assert.Equal("DEADLINE_EXCEEDED", answer.GrpcStatus);
        Assert.Same(Verdict.ServerErrorOnValidInput, AnswerJudge.Judge(answer, validInput: true, Models.Echo().OutputSchema).Verdict);
    }

    [Fact]
    public async Task A_model_silent_past_the_time_or_a_caller_that_leaves_is_no_answer()
    {
        // The other side of the rule above: the call's own deadline, and the caller's cancellation, stay the
        // OperationCanceledException every caller reads as no answer in time (request-timeout).
        await using var model = await HandWrittenServer.StartAsync("silent");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
        var timedOut = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.Equal("no answer within 0.3 s (DEADLINE_EXCEEDED)", timedOut.Message);
        using var leaves = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), leaves.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.CheckReadyAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }

    [Fact]
    public async Task An_answer_that_would_parse_into_more_objects_than_allowed_is_not_parsed_and_is_the_models_fault()
    {
        await using var model = await HandWrittenServer.StartAsync("empty-outputs");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);

        var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
        Assert.Same(Verdict.ResponseTooLarge, failure.Verdict);
        Assert.Equal(Fault.Model, failure.Verdict!.Fault);
        Assert.StartsWith("the answer to ModelInfer was not read: it holds more than 65,536 objects", failure.Detail, StringComparison.Ordinal);
        Assert.Same(Verdict.ResponseTooLarge, AnswerJudge.Judge(answer, validInput: true, Models.Echo().OutputSchema).Verdict);
    }

    [Fact]
    public async Task A_readiness_answer_over_the_limits_is_not_serving_and_says_why()
    {
        await using var model = await HandWrittenServer.StartAsync("health-unknown-fields");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var check = await channel.CheckReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.False(check.Serving);
        Assert.StartsWith("grpc.health.v1 Check's answer was not read: it holds more than 65,536 objects", check.Seen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_without_the_json_tensor_names_eight_of_its_outputs_quoted_and_cut_and_counts_the_rest()
    {
        await using var model = await HandWrittenServer.StartAsync("named-outputs");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(("OK", "OK"), (answer.GrpcStatus, answer.Status));

        var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
        Assert.Same(Verdict.JsonTensorMissing, failure.Verdict);
        Assert.Contains("(outputs: 'out0\\u001B[31mnnn", failure.Detail, StringComparison.Ordinal);
        Assert.Contains(", … 20 in all)", failure.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("out8", failure.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', failure.Detail);
        Assert.True(failure.Detail.Length < 1000, failure.Detail);
    }

    [Fact]
    public async Task An_answer_under_the_convention_is_the_models_json_and_each_request_carries_the_document_and_its_own_id()
    {
        await using var model = await HandWrittenServer.StartAsync("echo");
        using var channel = new ModelChannel(model, "summarizer", "1.2.0", ModelAnswer.DefaultBodyLimit);

        var first = await channel.InferAsync("""{"text":"hi"}"""u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
        var second = await channel.InferAsync("""{"text":"again"}"""u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.Equal((200, "OK (200)", "OK", null, ModelAnswer.DefaultBodyLimit), (first.StatusCode, first.Status, first.GrpcStatus, first.ProtocolFailure, first.BodyLimit));
        Assert.Equal("""{"text":"hi"}""", Encoding.UTF8.GetString(first.Body!));
        Assert.Equal("""{"text":"again"}""", Encoding.UTF8.GetString(second.Body!));
        Assert.Equal([("summarizer", "1.2.0", "1"), ("summarizer", "1.2.0", "2")], model.Requests.Select(r => (r.ModelName, r.ModelVersion, r.Id)));
        Assert.All(model.Requests, r => Assert.True(JsonTensor.TryRead(r, out _, out _)));
    }

    [Fact]
    public async Task A_models_own_status_is_its_answer_with_the_http_equivalent_and_the_detail_cut_at_300_characters()
    {
        var cases = new (string Behaviour, int Http, string Status, string Grpc, string Detail)[]
        {
            ("invalid-argument", 400, "INVALID_ARGUMENT (400): text is required", "INVALID_ARGUMENT", "text is required"),
            ("internal-no-detail", 500, "INTERNAL (500)", "INTERNAL", ""),
            // A model's own CANCELLED and UNAVAILABLE are answers too (the caller did not leave; the connection held).
            ("cancelled", 499, "CANCELLED (499): the model gave up", "CANCELLED", "the model gave up"),
            ("unavailable", 503, "UNAVAILABLE (503): warming up", "UNAVAILABLE", "warming up"),
            ("resource-exhausted", 429, "RESOURCE_EXHAUSTED (429): quota", "RESOURCE_EXHAUSTED", "quota"),
            ("detail-300", 400, "INVALID_ARGUMENT (400): " + new string('x', 300), "INVALID_ARGUMENT", new string('x', 300)),
            ("detail-301", 400, "INVALID_ARGUMENT (400): " + new string('x', 300) + "…", "INVALID_ARGUMENT", new string('x', 301)),
        };
        foreach (var (behaviour, http, status, grpc, detail) in cases)
        {
            await using var model = await HandWrittenServer.StartAsync(behaviour);
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

            var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);

            Assert.Equal((http, status, grpc, null), (answer.StatusCode, answer.Status, answer.GrpcStatus, answer.ProtocolFailure));
            // The body a REST caller would have had: the detail whole, and the status.
            using var body = System.Text.Json.JsonDocument.Parse(answer.Body!);
            Assert.Equal((detail, grpc), (body.RootElement.GetProperty("error").GetString(), body.RootElement.GetProperty("grpcStatus").GetString()));
        }
    }

    [Fact]
    public async Task An_answer_that_is_not_the_protocols_is_the_models_fault_named()
    {
        await using (var model = await HandWrittenServer.StartAsync("malformed"))
        {
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
            var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
            var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
            Assert.Same(Verdict.MalformedAnswer, failure.Verdict);
            Assert.StartsWith("the answer to ModelInfer is not a valid inference.ModelInferResponse: ", failure.Detail, StringComparison.Ordinal);
            Assert.Null(answer.Body);
        }

        await using (var model = await HandWrittenServer.StartAsync("infer-unimplemented"))
        {
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
            var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
            var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
            Assert.Same(Verdict.GrpcUnimplemented, failure.Verdict);
            Assert.Equal("the model answered UNIMPLEMENTED to inference.GRPCInferenceService/ModelInfer: it must serve the Open Inference Protocol V2 (no ModelInfer here)",
                failure.Detail);
            Assert.Equal((501, "UNIMPLEMENTED", "UNIMPLEMENTED"), (answer.StatusCode, answer.Status, answer.GrpcStatus));
        }

        await using (var model = await HandWrittenServer.StartAsync("named-outputs"))
        {
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
            var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.Equal((200, "OK", "OK", null), (answer.StatusCode, answer.Status, answer.GrpcStatus, answer.Body));
        }
    }

    [Fact]
    public async Task An_answer_over_the_byte_cap_is_not_read()
    {
        await using var model = await HandWrittenServer.StartAsync("two-kilobytes");
        using var channel = new ModelChannel(model, "m", "1.0.0", 1024);
        var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal((200, "OK (over the size cap)", "OK", null, 1024L), (answer.StatusCode, answer.Status, answer.GrpcStatus, answer.Body, answer.BodyLimit));
        using var roomy = new ModelChannel(model, "m", "1.0.0", 4096);
        Assert.Equal("OK", (await roomy.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None)).Status);
    }

    [Theory]
    // A quarter of the byte cap in numbers, never fewer than 1,024: a cap of 8,192 bytes takes 2,048, one of 2,048 bytes 1,024.
    [InlineData(8192, 2048, null)]
    [InlineData(8192, 2049, "more than 2,048 numbers")]
    [InlineData(2048, 1024, null)]
    [InlineData(2048, 1025, "more than 1,024 numbers")]
    public async Task An_answer_may_hold_as_many_numbers_as_a_quarter_of_its_byte_cap(long cap, int numbers, string? over)
    {
        await using var model = await HandWrittenServer.StartAsync($"numbers-{numbers}");
        using var channel = new ModelChannel(model, "m", "1.0.0", cap);
        var answer = await channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None);
        var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
        if (over is null) Assert.Same(Verdict.JsonTensorMissing, failure.Verdict);
        else
        {
            Assert.Same(Verdict.ResponseTooLarge, failure.Verdict);
            Assert.Contains(over, failure.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Readiness_asks_for_the_server_as_a_whole_and_a_failing_ServerReady_is_named()
    {
        await using (var model = await HandWrittenServer.StartAsync("serving"))
        {
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
            Assert.True((await channel.CheckReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None)).Serving);
            Assert.Equal([""], model.HealthServices);
        }

        await using (var model = await HandWrittenServer.StartAsync("ready-internal"))
        {
            using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
            var check = await channel.CheckReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            Assert.Equal((false, "ServerReady answered INTERNAL: ready store offline", null), (check.Serving, check.Seen, check.Verdict));
        }
    }

    [Fact]
    public async Task A_way_to_the_model_that_fails_is_the_REST_paths_exception_and_a_caller_that_leaves_a_readiness_check_is_told()
    {
        using var refused = new ModelChannel(new Refusing(), "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
        await Assert.ThrowsAsync<HttpRequestException>(() => refused.InferAsync("{}"u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None));
        await Assert.ThrowsAsync<HttpRequestException>(() => refused.CheckReadyAsync(TimeSpan.FromSeconds(30), CancellationToken.None));

        await using var model = await HandWrittenServer.StartAsync("silent");
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);
        using var leaves = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.CheckReadyAsync(TimeSpan.FromSeconds(30), leaves.Token));

        Assert.Throws<ArgumentNullException>(() => new ModelChannel(null!, "m", "1.0.0", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelChannel(model, "m", "1.0.0", 0));
        using var smallest = new ModelChannel(model, "m", "1.0.0", 1);
        Assert.Equal(1, smallest.MaxAnswerBytes);
    }

    /// <summary>
    /// Calls beyond what one HTTP/2 connection's streams take open another connection to the model rather than queue
    /// behind it (<c>EnableMultipleHttp2Connections</c>): a model that allows one stream per connection still has two
    /// calls in hand at once. With the setting off, the second call waited for the first's answer.
    /// </summary>
    [Fact]
    public async Task Calls_beyond_a_connections_stream_limit_open_another_connection_rather_than_queue()
    {
        await using var model = await HandWrittenServer.StartAsync("held", maxStreamsPerConnection: 1);
        using var channel = new ModelChannel(model, "m", "1.0.0", ModelAnswer.DefaultBodyLimit);

        var calls = Enumerable.Range(0, 2).Select(_ => channel.InferAsync("""{"text": "hi"}"""u8.ToArray(), TimeSpan.FromSeconds(30), CancellationToken.None)).ToList();
        // Both reach the model while neither is answered; one connection's single stream would hold the second back.
        await model.BothHeld.Task.WaitAsync(TimeSpan.FromSeconds(10));
        model.Release.TrySetResult();
        foreach (var answer in await Task.WhenAll(calls)) Assert.Equal(200, answer.StatusCode);
        Assert.Equal(2, model.Connections);
    }

    private sealed class Refusing : IModelConnector
    {
        public ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) =>
            ValueTask.FromException<Stream>(new SocketException((int)SocketError.ConnectionRefused));
    }

    /// <summary>An h2c server (prior knowledge) on Kestrel whose readiness methods and ModelInfer answer as <c>behaviour</c> says.</summary>
    private sealed class HandWrittenServer : IModelConnector, IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _serverReadyCalls;
        private int _connections;
        private int _held;

        /// <summary>Behaviour "held": set when two ModelInfer calls are in hand at once; they answer once <see cref="Release"/> is.</summary>
        public TaskCompletionSource BothHeld { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>How many connections the client opened.</summary>
        public int Connections => Volatile.Read(ref _connections);

        public List<ModelInferRequest> Requests { get; } = [];

        public List<string> HealthServices { get; } = [];

        private HandWrittenServer(WebApplication app) => _app = app;

        public int ServerReadyCalls => Volatile.Read(ref _serverReadyCalls);

        public static async Task<HandWrittenServer> StartAsync(string behaviour, int maxStreamsPerConnection = 100)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2);
                k.Limits.Http2.MaxStreamsPerConnection = maxStreamsPerConnection;
            });
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var server = new HandWrittenServer(app);
            app.MapPost("/grpc.health.v1.Health/Check", async http => await (behaviour switch
            {
                "silent" => Task.Delay(Timeout.Infinite, http.RequestAborted),
                "serving" => ServingAsync(http, server),
                "not-serving" => AnswerAsync(http, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.NotServing }),
                "health-internal" => StatusAsync(http, 13, "store offline"),
                // 100,000 unknown fields (field 15, varint 0): a two-byte-a-field answer to a readiness check.
                "health-unknown-fields" => AnswerAsync(http, [.. Enumerable.Range(0, 100_000).SelectMany(_ => new byte[] { 0x78, 0x00 })]),
                _ => StatusAsync(http, 12, "unknown service grpc.health.v1.Health"),
            }));
            app.MapPost("/inference.GRPCInferenceService/ServerReady", http =>
            {
                Interlocked.Increment(ref server._serverReadyCalls);
                return behaviour switch
                {
                    "ready" => AnswerAsync(http, new ServerReadyResponse { Ready = true }),
                    "not-ready" => AnswerAsync(http, new ServerReadyResponse { Ready = false }),
                    "ready-internal" => StatusAsync(http, 13, "ready store offline"),
                    _ => StatusAsync(http, 12, "unknown service inference.GRPCInferenceService"),
                };
            });
            app.MapPost("/inference.GRPCInferenceService/ModelInfer", async http =>
            {
                switch (behaviour)
                {
                    case "silent":
                        await Task.Delay(Timeout.Infinite, http.RequestAborted);
                        break;
                    case "empty-outputs":
                        // 300,000 empty output tensors (field 5, length 0): 600 KB that would parse into ~80 MB.
                        await AnswerAsync(http, [.. Enumerable.Range(0, 300_000).SelectMany(_ => new byte[] { 0x2A, 0x00 })]);
                        break;
                    case "named-outputs":
                        var named = new ModelInferResponse();
                        for (var i = 0; i < 20; i++) named.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = $"out{i}\u001b[31m" + new string('n', 100) });
                        await AnswerAsync(http, named);
                        break;
                    case "held":
                        if (Interlocked.Increment(ref server._held) == 2) server.BothHeld.TrySetResult();
                        await server.Release.Task.WaitAsync(http.RequestAborted);
                        goto case "echo";
                    case "echo":
                        var request = ModelInferRequest.Parser.ParseFrom(await ReadAsync(http));
                        lock (server.Requests) server.Requests.Add(request);
                        JsonTensor.TryRead(request, out var document, out _);
                        var echo = new ModelInferResponse();
                        echo.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json", Datatype = "BYTES", Contents = new InferTensorContents() });
                        echo.Outputs[0].Shape.Add(1);
                        echo.Outputs[0].Contents.BytesContents.Add(ByteString.CopyFrom(document.Span));
                        await AnswerAsync(http, echo);
                        break;
                    case "invalid-argument":
                        await StatusAsync(http, 3, "text is required");
                        break;
                    case "internal-no-detail":
                        await StatusAsync(http, 13, "");
                        break;
                    case "cancelled":
                        await StatusAsync(http, 1, "the model gave up");
                        break;
                    case "unavailable":
                        await StatusAsync(http, 14, "warming up");
                        break;
                    case "resource-exhausted":
                        await StatusAsync(http, 8, "quota");
                        break;
                    case "detail-300":
                        await StatusAsync(http, 3, new string('x', 300));
                        break;
                    case "detail-301":
                        await StatusAsync(http, 3, new string('x', 301));
                        break;
                    case "infer-unimplemented":
                        await StatusAsync(http, 12, "no ModelInfer here");
                        break;
                    case "malformed":
                        // model_name (field 1) of five bytes, of which one came.
                        await AnswerAsync(http, [0x0A, 0x05, 0x41]);
                        break;
                    case "two-kilobytes":
                        await AnswerAsync(http, new ModelInferResponse { ModelName = new string('m', 2048) });
                        break;
                    case var numbers when numbers.StartsWith("numbers-", StringComparison.Ordinal):
                        // One output tensor (not json) whose shape holds that many ones, packed: a byte each.
                        var shaped = new ModelInferResponse();
                        shaped.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor());
                        shaped.Outputs[0].Shape.Add(Enumerable.Repeat(1L, int.Parse(numbers["numbers-".Length..], System.Globalization.CultureInfo.InvariantCulture)));
                        await AnswerAsync(http, shaped);
                        break;
                    default:
                        await StatusAsync(http, 4, "the model's own clock");
                        break;
                }
            });
            await app.StartAsync();
            return server;
        }

        private static async Task ServingAsync(HttpContext http, HandWrittenServer server)
        {
            var request = HealthCheckRequest.Parser.ParseFrom(await ReadAsync(http));
            lock (server.HealthServices) server.HealthServices.Add(request.Service);
            await AnswerAsync(http, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });
        }

        // The one message of a unary call: a gRPC frame's five-byte header, then the message.
        private static async Task<byte[]> ReadAsync(HttpContext http)
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            return body.ToArray()[5..];
        }

        private static Task AnswerAsync(HttpContext http, IMessage message) => AnswerAsync(http, message.ToByteArray());

        private static async Task AnswerAsync(HttpContext http, byte[] message)
        {
            await http.Request.Body.CopyToAsync(Stream.Null);
            http.Response.ContentType = "application/grpc";
            await http.Response.Body.WriteAsync(GrpcFrame.Of(message));
            http.Response.AppendTrailer("grpc-status", "0");
        }

        private static async Task StatusAsync(HttpContext http, int status, string message)
        {
            await http.Request.Body.CopyToAsync(Stream.Null);
            http.Response.ContentType = "application/grpc";
            await http.Response.StartAsync();
            http.Response.AppendTrailer("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            http.Response.AppendTrailer("grpc-message", message);
        }

        public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _connections);
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, new Uri(_app.Urls.First()).Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

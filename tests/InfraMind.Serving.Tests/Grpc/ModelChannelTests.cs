using System.Net;
using System.Net.Sockets;
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
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => channel.InferAsync("{}"u8.ToArray(), TimeSpan.FromMilliseconds(300), CancellationToken.None));
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
        Assert.Equal("OK", answer.GrpcStatus);

        var failure = Assert.IsType<Judgement>(answer.ProtocolFailure);
        Assert.Same(Verdict.JsonTensorMissing, failure.Verdict);
        Assert.Contains("(outputs: 'out0\\u001B[31mnnn", failure.Detail, StringComparison.Ordinal);
        Assert.Contains(", … 20 in all)", failure.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("out8", failure.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', failure.Detail);
        Assert.True(failure.Detail.Length < 1000, failure.Detail);
    }

    /// <summary>An h2c server (prior knowledge) on Kestrel whose readiness methods and ModelInfer answer as <c>behaviour</c> says.</summary>
    private sealed class HandWrittenServer : IModelConnector, IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _serverReadyCalls;

        private HandWrittenServer(WebApplication app) => _app = app;

        public int ServerReadyCalls => Volatile.Read(ref _serverReadyCalls);

        public static async Task<HandWrittenServer> StartAsync(string behaviour)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var server = new HandWrittenServer(app);
            app.MapPost("/grpc.health.v1.Health/Check", async http => await (behaviour switch
            {
                "silent" => Task.Delay(Timeout.Infinite, http.RequestAborted),
                "serving" => AnswerAsync(http, new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving }),
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
                    default:
                        await StatusAsync(http, 4, "the model's own clock");
                        break;
                }
            });
            await app.StartAsync();
            return server;
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

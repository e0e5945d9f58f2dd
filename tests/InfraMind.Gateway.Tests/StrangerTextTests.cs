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
using Microsoft.Extensions.Logging;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// What a caller's own text costs the gateway and comes back in its answers: bounded, whatever the caller sent (found
/// by an audit: an input breaking its schema in 93,000 places took ~30 s of CPU and came back as 7 MB; a long name came
/// back whole in grpc-message, beyond what gRPC clients read as metadata), and what the gateway says of a caller's
/// mistake, in the answer and in its log (found by a walkthrough: the JSON parser's text twice and "the body" for the
/// json tensor, "the answer" for an input, the protobuf parser's text cut mid-word, and each mistake on the gRPC ingress
/// logged again by grpc-aspnetcore with a stack trace).
/// </summary>
public sealed class StrangerTextTests : IAsyncLifetime, IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private readonly CapturingLoggerProvider _logs = new();
    private readonly string _token = MeshToken.Create();
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
        // Logged as `infra mesh up --verbose` and `infra gateway serve --verbose` log (ServingHosts.Logging).
        _gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0" }, _catalog,
            TimeProvider.System, b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
                .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning), CancellationToken.None);
        _http.BaseAddress = _gateway.Url;
        _channel = GrpcChannel.ForAddress(_gateway.GrpcUrl!, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _gateway.DisposeAsync();
    }

    public void Dispose()
    {
        _http.Dispose();
        _logs.Dispose();
    }

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
            Infer("closed", """{"text": "x"}""", t => t.Name = "input0"),
        };
        foreach (var request in requests)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(request).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Equal(MeshErrorCodes.GrpcRequestInvalid.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
            // The convention as it applies to an input (it once said "the answer in inputs[]").
            Assert.Contains("one BYTES input tensor named 'json', shape [1], the document in inputs[0].contents.bytes_contents[0] or in raw_input_contents",
                e.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain("answer", e.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain("output", e.Status.Detail, StringComparison.Ordinal);
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

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>A length past the end: the protobuf parser's longest reason ("… misreported its own length.").</summary>
    private Task<RpcException> TruncatedModelInferAsync() => RawCallFailsAsync("inference.GRPCInferenceService", "ModelInfer", [0x0a, 0x7f, 0x61]);

    [Fact]
    public async Task Malformed_json_in_the_json_tensor_says_the_parsers_reason_once_and_names_the_tensor()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(Infer("closed", """{"text":""")).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
        Assert.StartsWith("malformed JSON: the json tensor is not JSON: ", e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(1, Count(e.Status.Detail, "(line 1, byte 9)"));
        Assert.Equal(1, Count(e.Status.Detail, "is not JSON"));
        Assert.DoesNotContain("the body", e.Status.Detail, StringComparison.Ordinal);

        // A duplicate key names where, once.
        var twice = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(Infer("closed", """{"text": "a", "text": "b"}""")).ResponseAsync);
        Assert.Equal(MeshErrorCodes.DuplicateKey.Value, twice.Trailers.GetValue(GrpcIngress.CodeTrailer));
        Assert.Equal("duplicate key: the key 'text' appears twice in one object (at /text)", twice.Status.Detail);

        // The REST face says "the body", once.
        using var r = await _http.PostAsync(new Uri("inference/v1/closed", UriKind.Relative), new StringContent("""{"text":""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var detail = (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["detail"];
        Assert.StartsWith("the body is not JSON: ", detail, StringComparison.Ordinal);
        Assert.Equal(1, Count(detail!, "(line 1, byte 9)"));
    }

    [Fact]
    public async Task A_request_that_is_not_protobuf_quotes_the_parsers_reason_whole()
    {
        var e = await TruncatedModelInferAsync();
        Assert.Equal(MeshErrorCodes.GrpcMessageMalformed.Value, e.Trailers.GetValue(GrpcIngress.CodeTrailer));
        Assert.Equal(
            "malformed request: the ModelInfer request is not a valid inference.ModelInferRequest message (While parsing a protocol message, the input ended " +
            "unexpectedly in the middle of a field. This could mean either that the input has been truncated or that an embedded message misreported its own " +
            "length); encode it with the Open Inference Protocol V2 .proto (docs/protocols.md)", e.Status.Detail);
    }

    [Fact]
    public void A_reason_beyond_its_bound_is_cut_with_an_ellipsis_never_inside_a_parenthesis()
    {
        // Cut at 256 characters, the aside would be left open.
        var detail = StrictRequests.Malformed("ModelInfer", "inference.ModelInferRequest", new string('x', 240) + " (an aside (nested) that goes on) and more").Status.Detail;
        Assert.Contains("(" + new string('x', 240) + "…); encode it", detail, StringComparison.Ordinal);
        Assert.Equal(Count(detail, "("), Count(detail, ")"));
        var longer = StrictRequests.Malformed("ModelInfer", "inference.ModelInferRequest", new string('x', 400)).Status.Detail;
        Assert.Contains("x…); encode it", longer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_callers_mistake_on_the_grpc_ingress_is_one_log_line_with_its_status_and_code_and_no_stack_trace()
    {
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(_channel);
        await TruncatedModelInferAsync();
        await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(Infer("closed", """{"text":""")).ResponseAsync);

        // A caller that leaves while its node works.
        await using var node = new FakeNode(_gateway.Url, _token) { Answer = (_, ct) => Task.Delay(Timeout.Infinite, ct) };
        using (var r = await node.RegisterAsync("n1")) r.EnsureSuccessStatusCode();
        await node.ReadyAsync("n1", "closed");
        using (var leave = new CancellationTokenSource())
        {
            var call = client.ModelInferAsync(Infer("closed", """{"text": "hi"}"""), cancellationToken: leave.Token).ResponseAsync;
            for (var waited = System.Diagnostics.Stopwatch.StartNew(); node.Jobs.IsEmpty && waited.Elapsed < TimeSpan.FromSeconds(10);) await Task.Delay(20);
            Assert.False(node.Jobs.IsEmpty);
            await leave.CancelAsync();
            Assert.Equal(StatusCode.Cancelled, (await Assert.ThrowsAsync<RpcException>(() => call)).StatusCode);
        }

        // Each request's line is written once its answer has gone out; grpc-aspnetcore's own lines of a call, a moment after it.
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); _logs.Logs.Count(l => l.EventId == 6100) < 3 && waited.Elapsed < TimeSpan.FromSeconds(10);) await Task.Delay(20);
        await Task.Delay(300);
        var logs = _logs.Logs.ToList();
        var lines = logs.Select(l => $"{l.Category}[{l.EventId}] {l.Level}: {l.Message} {l.Exception}").ToList();
        var all = string.Join("\n", lines);
        Assert.All(lines, l => Assert.DoesNotContain("   at ", l, StringComparison.Ordinal));
        Assert.All(lines, l => Assert.DoesNotContain("Exception", l, StringComparison.Ordinal));
        Assert.True(Assert.Single(lines, l => l.Contains("IM6039", StringComparison.Ordinal) || l.Contains("not a valid", StringComparison.Ordinal))
            .Contains(": 400 (code IM6039", StringComparison.Ordinal), all);
        Assert.True(Assert.Single(lines, l => l.Contains("IM6008", StringComparison.Ordinal) || l.Contains("not JSON", StringComparison.Ordinal))
            .Contains(": 400 (code IM6008", StringComparison.Ordinal), all);
        Assert.Single(lines, l => l.Contains(": 499 (code", StringComparison.Ordinal));
        Assert.DoesNotContain(logs, l => l.Category.StartsWith("Grpc.AspNetCore", StringComparison.Ordinal));
    }
}

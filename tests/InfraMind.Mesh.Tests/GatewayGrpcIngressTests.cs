using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using InfraMind.Gateway;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// The gateway's own V2 gRPC ingress in front of a REST model: a .NET client (Grpc.Net.Client) and one that is not .NET
/// (Python grpcio on the host, messages from the descriptor set Python models get) reach the model with the same
/// routing, input check, statuses and limits as POST /inference/v1/&lt;name&gt;. GrpcServingTests calls a gRPC model through it.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class GatewayGrpcIngressTests
{
    internal static ModelInferRequest Infer(string model, string document, string version = "") =>
        JsonTensor.Request(model, version, "id-1", Encoding.UTF8.GetBytes(document));

    /// <summary>The status and the stable code (inframind-code trailer) a call failed with.</summary>
    internal static async Task<RpcException> FailsAsync(StatusCode status, string? code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(status == e.StatusCode, $"expected {status}, got {e.StatusCode}: {e.Status.Detail}");
        if (code is not null) Assert.Equal(code, e.Trailers.GetValue("inframind-code"));
        return e;
    }

    [SkippableFact]
    public async Task Grpc_callers_reach_a_rest_model_through_the_gateway_with_its_checks_and_statuses()
    {
        var python = PythonGrpc();
        // 64 KiB: small enough to test both limits cheaply (the json tensor's, and gRPC's own on the whole message).
        await using var mesh = await LocalMesh.StartAsync("mesh-ingress", new GatewayOptions { Replicas = 1, MaxRequestBytes = 64 * 1024 });
        using var channel = mesh.GrpcChannel();
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var health = new Health.HealthClient(channel);
        Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        // Published but on no node yet: known, not ready.
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest { Service = mesh.Model })).Status);
        Assert.False((await client.ModelReadyAsync(new ModelReadyRequest { Name = mesh.Model })).Ready);

        // A node with a key (straight to its container, as `mesh up` does): its receipt travels in the response headers.
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral("n1");
        await mesh.AddNodeAsync("n1", "good", key: key);
        await mesh.WaitForStateAsync("n1", "ready", TimeSpan.FromSeconds(120));
        Assert.True((await client.ModelReadyAsync(new ModelReadyRequest { Name = mesh.Model, Version = LocalMesh.Version })).Ready);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = mesh.Model })).Status);
        var metadata = await client.ModelMetadataAsync(new ModelMetadataRequest { Name = mesh.Model });
        Assert.Equal([LocalMesh.Version], metadata.Versions);
        Assert.Equal((JsonTensor.Name, JsonTensor.DataType, 1L), (metadata.Inputs.Single().Name, metadata.Inputs.Single().Datatype, metadata.Inputs.Single().Shape.Single()));
        Assert.Equal(JsonTensor.Name, metadata.Outputs.Single().Name);

        for (var i = 0; i < 3; i++)
        {
            using var call = client.ModelInferAsync(Infer(mesh.Model, $$"""{"text": "grpc {{i}}"}""", i == 0 ? LocalMesh.Version : ""));
            var answer = await call.ResponseAsync;
            var headers = await call.ResponseHeadersAsync;
            Assert.Equal("n1", headers.GetValue("inframind-node"));
            var receipt = JobReceipts.Verify(headers.GetValue("inframind-receipt"), key.PublicKey);
            Assert.True(receipt.Valid, receipt.Problem);
            Assert.Equal((mesh.Model, LocalMesh.Version, "id-1"), (answer.ModelName, answer.ModelVersion, answer.Id));
            Assert.True(JsonTensor.TryRead(answer, out var document, out var problem), problem);
            Assert.Equal($"grpc {i}", (string?)JsonNode.Parse(document.Span)!["summary"]);
        }

        // Client mistakes: the statuses of GrpcStatusMap, with the REST problem's detail and code, never forwarded.
        var invalid = await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.InputInvalid.Value, () => client.ModelInferAsync(Infer(mesh.Model, """{"text": 5}""")).ResponseAsync);
        Assert.Contains("input does not match the model's input_schema", invalid.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("/text:", invalid.Status.Detail, StringComparison.Ordinal);
        await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.MalformedJson.Value, () => client.ModelInferAsync(Infer(mesh.Model, """{"text": """)).ResponseAsync);
        var noTensor = new ModelInferRequest { ModelName = mesh.Model };
        noTensor.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input0", Datatype = "BYTES" });
        await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.GrpcRequestInvalid.Value, () => client.ModelInferAsync(noTensor).ResponseAsync);
        await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.GrpcRequestInvalid.Value, () => client.ModelInferAsync(Infer("", "{}")).ResponseAsync);
        await FailsAsync(StatusCode.NotFound, MeshErrorCodes.ModelNotFound.Value, () => client.ModelInferAsync(Infer("no-such-model", """{"text": "x"}""")).ResponseAsync);
        await FailsAsync(StatusCode.NotFound, MeshErrorCodes.ModelNotFound.Value, () => client.ModelInferAsync(Infer(mesh.Model, """{"text": "x"}""", "9.9.9")).ResponseAsync);
        await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.VersionInvalid.Value, () => client.ModelInferAsync(Infer(mesh.Model, """{"text": "x"}""", "one")).ResponseAsync);
        await FailsAsync(StatusCode.NotFound, MeshErrorCodes.ModelNotFound.Value, () => client.ModelReadyAsync(new ModelReadyRequest { Name = "no-such-model" }).ResponseAsync);
        await FailsAsync(StatusCode.NotFound, MeshErrorCodes.ModelNotFound.Value, () => client.ModelMetadataAsync(new ModelMetadataRequest { Name = "no-such-model" }).ResponseAsync);
        await FailsAsync(StatusCode.NotFound, MeshErrorCodes.ModelNotFound.Value, () => health.CheckAsync(new HealthCheckRequest { Service = "no-such-model" }).ResponseAsync);
        // The limits: a json tensor over MaxRequestBytes in a message gRPC takes, and a message over gRPC's own cap.
        var tooLarge = await FailsAsync(StatusCode.InvalidArgument, MeshErrorCodes.BodyTooLarge.Value,
            () => client.ModelInferAsync(Infer(mesh.Model, $$"""{"text": "{{new string('a', 70 * 1024)}}"}""")).ResponseAsync);
        Assert.Contains($"more than {64 * 1024}", tooLarge.Status.Detail, StringComparison.Ordinal);
        await FailsAsync(StatusCode.ResourceExhausted, null, () => client.ModelInferAsync(Infer(mesh.Model, $$"""{"text": "{{new string('a', 200 * 1024)}}"}""")).ResponseAsync);
        Assert.Equal(0, (long)(await mesh.NodeStateAsync("n1"))!["failures"]!);

        // Server reflection, as grpcurl uses it: the services listed, and the file that defines the inference service.
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(channel);
        using (var stream = reflection.ServerReflectionInfo())
        {
            await stream.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            var services = stream.ResponseStream.Current.ListServicesResponse.Service.Select(x => x.Name).ToList();
            Assert.Single(services, s => s == "inference.GRPCInferenceService");
            Assert.Contains("grpc.health.v1.Health", services);
            await stream.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { FileContainingSymbol = "inference.GRPCInferenceService" });
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            var files = stream.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
                .Select(b => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(b)).ToList();
            Assert.Contains(files, f => f.Service.Any(x => x.Name == "GRPCInferenceService" && x.Method.Any(m => m.Name == "ModelInfer")));
            await stream.RequestStream.CompleteAsync();
        }

        // Reflection v1 (what grpcurl asks first) lists each service once too.
        using (var stream = new Grpc.Reflection.V1.ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo())
        {
            await stream.RequestStream.WriteAsync(new Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" });
            Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
            var services = stream.ResponseStream.Current.ListServicesResponse.Service.Select(x => x.Name).ToList();
            Assert.Equal(services.Distinct().Count(), services.Count);
            Assert.Contains("inference.GRPCInferenceService", services);
            Assert.Contains("grpc.health.v1.Health", services);
            await stream.RequestStream.CompleteAsync();
        }

        // A client that is not .NET: Python's grpcio, messages from the descriptor set InfraMind ships to Python models.
        using var dir = new TempDirectory("im-ingress-py");
        File.WriteAllText(dir.Combine(ProtocolDescriptors.FileName), ProtocolDescriptors.Json());
        var result = await RunPythonAsync(python, dir.Combine(ProtocolDescriptors.FileName), $"127.0.0.1:{mesh.Gateway.GrpcUrl!.Port}", mesh.Model,
            """{"text": "from python"}""", """{"text": 5}""");
        Assert.Equal(1, (int)result["serverHealth"]!);
        Assert.Equal(1, (int)result["modelHealth"]!);
        Assert.True((bool)result["ready"]!);
        Assert.Equal(LocalMesh.Version, (string?)result["metadata"]!["versions"]![0]);
        var answers = result["answers"]!.AsArray();
        Assert.Equal("OK", (string?)answers[0]!["code"]);
        Assert.Equal("py-0", (string?)answers[0]!["id"]);
        Assert.Equal("from python", (string?)answers[0]!["answer"]!["summary"]);
        Assert.Equal("INVALID_ARGUMENT", (string?)answers[1]!["code"]);
        Assert.Contains("/text:", (string?)answers[1]!["message"], StringComparison.Ordinal);

        // No node left: UNAVAILABLE, as the REST caller's 503.
        foreach (var n in mesh.Nodes.Values.ToList()) await n.DisposeAsync();
        mesh.Nodes.Clear();
        await FailsAsync(StatusCode.Unavailable, null, () => client.ModelInferAsync(Infer(mesh.Model, """{"text": "x"}""")).ResponseAsync);
        Assert.Equal((0, 0), await mesh.LeftoversAsync());
    }

    /// <summary>
    /// A python3 with grpcio and protobuf (Debian's /usr/bin/python3 first: the Debian packages are its own, whatever
    /// python3 comes first on PATH), or the test fails (CI=true) or is skipped, saying how to install them.
    /// </summary>
    private static string PythonGrpc()
    {
        foreach (var python in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo(python, ["-c", "import grpc, google.protobuf"]) { RedirectStandardError = true })!;
                if (p.WaitForExit(30_000) && p.ExitCode == 0) return python;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not there: the next one.
            }
        }

        throw Peers.Missing("python3 with grpcio and protobuf (Debian python3-grpcio, python3-protobuf) is missing", "run scripts/setup-peers.sh");
    }

    private static async Task<JsonObject> RunPythonAsync(string python, params string[] args)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(TestEngine.RepoRoot, "tests", "peers", "python-grpc", "infer.py"));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = p.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = p.StandardError.ReadToEndAsync(timeout.Token);
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"infer.py exited {p.ExitCode}: {await error}");
        return JsonNode.Parse(await output)!.AsObject();
    }
}

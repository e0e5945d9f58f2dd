using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// `protocol: grpc` conformance against a real Python grpcio server in a container (tests/packages/grpc-model, one
/// behaviour switched on per case): every gRPC verdict, and a port that speaks the other protocol, both ways.
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class GrpcPackageTests
{
    public static TheoryData<string, string, string> Cases() => new()
    {
        // behaviour,        expected verdict,                              text the detail must contain
        { "good", "", "" },
        { "raw", "", "" },
        { "no-json", Verdict.JsonTensorMissing.WireName, "no output tensor named 'json' (outputs: 'output0')" },
        { "unimplemented", Verdict.GrpcUnimplemented.WireName, "UNIMPLEMENTED to inference.GRPCInferenceService/ModelInfer" },
        { "not-serving", Verdict.NoAnswerOnPort.WireName, "did not report SERVING within 10 s; last seen: grpc.health.v1 NotServing. Fix: " },
        // Neither grpc.health.v1 nor V2's ServerReady: named at readiness, not waited out as a model that never says SERVING.
        { "no-v2", Verdict.GrpcUnimplemented.WireName, "answered UNIMPLEMENTED for grpc.health.v1.Health/Check and inference.GRPCInferenceService/ServerReady: not an Open Inference Protocol V2 server" },
        { "internal", Verdict.ServerErrorOnValidInput.WireName, "INTERNAL (500): tokenizer exploded" },
        { "accept-invalid", Verdict.AcceptedInvalidInput.WireName, "OK (200) to an input that input_schema forbids" },
        { "huge", Verdict.ResponseTooLarge.WireName, "larger than 1048576 bytes" },
        // grpcio set to gzip every answer (server-wide compression): read as any other, the cap held on the inflated answer.
        { "gzip", "", "" },
        { "huge-gzip", Verdict.ResponseTooLarge.WireName, "larger than 1048576 bytes" },
        { "malformed", Verdict.MalformedAnswer.WireName, "not a valid inference.ModelInferResponse" },
        { "slow", Verdict.RequestTimeout.WireName, "no answer within 1 s" },
        { "declared-rest", Verdict.WrongProtocol.WireName, "speaks HTTP/2 (h2c, as gRPC servers speak), but model.yaml declares protocol: rest" },
        { "rest-declared-grpc", Verdict.WrongProtocol.WireName, "answered HTTP/1.x (a REST server), but model.yaml declares protocol: grpc" },
    };

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Each_grpc_behaviour_gets_its_precise_verdict(string behaviour, string verdict, string detail)
    {
        using var engine = await TestEngine.ConnectAsync();
        using var package = new TempDirectory("im-grpc-" + behaviour);
        if (behaviour == "rest-declared-grpc")
        {
            BrokenModel.Create(package.Path, "grpc-rest-declared");
            Edit(package.Path, "model.yaml", "protocol: rest", "protocol: grpc");
        }
        else
        {
            GrpcModel.Create(package.Path, $"grpc-{behaviour}", behaviour == "declared-rest" ? "good" : behaviour);
            if (behaviour == "declared-rest") Edit(package.Path, "model.yaml", "protocol: grpc", "protocol: rest");
        }

        var runLabel = Guid.NewGuid().ToString("N");
        var options = new ConformanceOptions
        {
            Cases = 3,
            // Long enough for a loaded machine to start Python's grpcio and answer a health check at all (not-serving
            // waits it out: with 1 s it once read "no answer to the health check in time" instead of its NotServing).
            ReadinessTimeout = TimeSpan.FromSeconds(10),
            RequestTimeout = TimeSpan.FromSeconds(behaviour == "slow" ? 1 : 10),
            MaxResponseBytes = 1 << 20,
            HookTimeout = TimeSpan.FromSeconds(20),
            Labels = new Dictionary<string, string> { ["org.inframind.test"] = runLabel },
        };

        var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, options, CancellationToken.None);

        var said = string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Verdict} {s.Detail}").Concat(report.Cases.Select(c => $"{c.Name} {c.Verdict} {c.Detail}")));
        if (verdict.Length == 0)
        {
            Assert.True(report.Passed, said);
            Assert.Contains(report.Cases, c => !c.Positive);
        }
        else
        {
            Assert.False(report.Passed, said);
            Assert.True(report.Verdicts.Any(v => v.WireName == verdict), said);
            var details = report.Steps.Select(s => s.Detail).Concat(report.Cases.Select(c => c.Detail));
            Assert.True(details.Any(d => d.Contains(detail, StringComparison.Ordinal)), said);
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.test"] = runLabel }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
    }

    private static void Edit(string directory, string file, string from, string to)
    {
        var path = Path.Combine(directory, file);
        var text = File.ReadAllText(path);
        Assert.Contains(from, text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace(from, to, StringComparison.Ordinal));
    }
}

using System.Text.Json.Nodes;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// One case whose connection the model's server drops before any answer, by the REST and the gRPC path of
/// <see cref="CaseRunner"/> (no engine: the "container" is a listener that reads the request and closes). On a valid
/// input that is connection-failed (where it ran); on an invalid one it is the model's, server-error-on-invalid-input
/// (it must answer a 4xx, not drop the request). The engine's tests only show the step's verdict of a crash on an
/// invalid input, which the container's exit decides (<c>crash-invalid</c>), and have no gRPC model that drops one.
/// </summary>
public sealed class DroppedConnectionTests
{
    private static readonly ModelSchema Output = ModelSchema.Create(JsonNode.Parse("""{"type": "object"}""")!);

    [Theory]
    [InlineData(true, "connection-failed")]
    [InlineData(false, "server-error-on-invalid-input")]
    public async Task A_dropped_connection_is_the_models_on_an_invalid_input_and_connection_failed_on_a_valid_one_rest_and_grpc(bool positive, string verdict)
    {
        // Each connection: the first bytes of the request read, then closed without a byte of answer.
        using var model = new RawModel();
        var c = new SyntheticCase(positive ? "valid" : "invalid", positive ? """{"text": "hi"}""" : """{"text": 5}""", positive);

        using var http = JobHttp.CreateClient();
        var rest = await CaseRunner.RunAsync(http, model, c, Output, TimeSpan.FromSeconds(30), 1024, CancellationToken.None);
        Assert.True(rest.Verdict?.WireName == verdict, $"REST: {rest.Verdict} {rest.Detail}");
        Assert.Null(rest.StatusCode);

        using var channel = new ModelChannel(model, "m", "1.0.0", 1024);
        var grpc = await CaseRunner.RunAsync(channel, c, Output, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.True(grpc.Verdict?.WireName == verdict, $"gRPC: {grpc.Verdict} {grpc.Detail}");
        Assert.Null(grpc.StatusCode);
        Assert.True(model.Answered >= 2, $"{model.Answered} connections dropped");
    }
}

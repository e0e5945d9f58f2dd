using System.Text;
using Google.Protobuf;
using Grpc.Core;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>The json tensor convention and the status mapping: the pure logic under every gRPC path.</summary>
public sealed class JsonTensorTests
{
    private static readonly byte[] Document = Encoding.UTF8.GetBytes("""{"text":"hi"}""");

    [Fact]
    public void A_request_carries_the_document_as_one_bytes_tensor_named_json_and_reads_back()
    {
        var request = JsonTensor.Request("m", "1.0.0", "7", Document);
        var input = Assert.Single(request.Inputs);
        Assert.Equal(("json", "BYTES"), (input.Name, input.Datatype));
        Assert.Equal([1L], input.Shape);
        Assert.Equal(("m", "1.0.0", "7"), (request.ModelName, request.ModelVersion, request.Id));
        // Survives the wire: field numbers as the protocol's.
        var back = ModelInferRequest.Parser.ParseFrom(request.ToByteArray());
        Assert.True(JsonTensor.TryRead(back, out var document, out _));
        Assert.Equal(Document, document.ToArray());
    }

    [Fact]
    public void An_answer_is_read_from_bytes_contents_or_from_raw_contents()
    {
        var inline = new ModelInferResponse();
        var tensor = new ModelInferResponse.Types.InferOutputTensor { Name = "json", Datatype = "BYTES", Contents = new InferTensorContents() };
        tensor.Contents.BytesContents.Add(ByteString.CopyFrom(Document));
        inline.Outputs.Add(tensor);
        Assert.True(JsonTensor.TryRead(inline, out var a, out _));
        Assert.Equal(Document, a.ToArray());

        // Raw form, positional: the second output's raw entry.
        var raw = new ModelInferResponse();
        raw.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "other", Datatype = "FP32" });
        raw.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json", Datatype = "BYTES" });
        raw.RawOutputContents.Add(ByteString.CopyFrom(new byte[16]));
        raw.RawOutputContents.Add(JsonTensor.Raw(Document));
        Assert.True(JsonTensor.TryRead(raw, out var b, out _));
        Assert.Equal(Document, b.ToArray());
    }

    [Fact]
    public void A_missing_or_broken_json_tensor_is_named_with_the_convention()
    {
        var none = new ModelInferResponse();
        none.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "output0" });
        Assert.False(JsonTensor.TryRead(none, out _, out var why));
        Assert.Contains("no output tensor named 'json' (outputs: 'output0')", why, StringComparison.Ordinal);
        Assert.Contains("BYTES output tensor named 'json'", why, StringComparison.Ordinal);

        var empty = new ModelInferResponse();
        empty.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json" });
        Assert.False(JsonTensor.TryRead(empty, out _, out why));
        Assert.Contains("carries no bytes", why, StringComparison.Ordinal);

        // A length prefix that lies about what follows (two elements, or a truncated one): refused, never over-read.
        foreach (var bytes in new[] { new byte[] { 1, 2 }, [9, 0, 0, 0, 1], [.. JsonTensor.Raw(Document).ToByteArray(), 1] })
        {
            var lying = new ModelInferResponse();
            lying.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json" });
            lying.RawOutputContents.Add(ByteString.CopyFrom(bytes));
            Assert.False(JsonTensor.TryRead(lying, out _, out why));
            Assert.Contains("raw contents of 'json'", why, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(StatusCode.OK, 200)]
    [InlineData(StatusCode.InvalidArgument, 400)]
    [InlineData(StatusCode.NotFound, 404)]
    [InlineData(StatusCode.ResourceExhausted, 429)]
    [InlineData(StatusCode.Unimplemented, 501)]
    [InlineData(StatusCode.Unavailable, 503)]
    [InlineData(StatusCode.DeadlineExceeded, 504)]
    [InlineData(StatusCode.Internal, 500)]
    public void Statuses_map_both_ways(StatusCode code, int http)
    {
        Assert.Equal(http, GrpcStatusMap.ToHttp(code));
        Assert.Equal(code, GrpcStatusMap.FromHttp(http));
    }

    [Fact]
    public void Every_grpc_status_maps_to_a_client_error_exactly_when_it_is_the_callers()
    {
        var clientErrors = Enum.GetValues<StatusCode>().Where(c => GrpcStatusMap.ToHttp(c) is >= 400 and < 500).Select(GrpcStatusMap.Name).Order().ToList();
        Assert.Equal(["ABORTED", "ALREADY_EXISTS", "CANCELLED", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "NOT_FOUND", "OUT_OF_RANGE",
            "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED"], clientErrors);
        Assert.All(Enum.GetValues<StatusCode>(), c => Assert.Equal(GrpcStatusMap.ToHttp(c), GrpcStatusMap.ToHttp(GrpcStatusMap.FromHttp(GrpcStatusMap.ToHttp(c)))));
    }
}

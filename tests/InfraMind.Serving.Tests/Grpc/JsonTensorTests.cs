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

    [Fact]
    public void A_request_is_read_only_as_one_bytes_tensor_named_json_of_shape_1_anything_else_is_refused_and_named()
    {
        static ModelInferRequest With(Action<ModelInferRequest> change)
        {
            var request = JsonTensor.Request("m", "", "", Document);
            change(request);
            return request;
        }

        var raw = With(r =>
        {
            r.Inputs[0].Contents = null;
            r.RawInputContents.Add(JsonTensor.Raw(Document));
        });
        Assert.True(JsonTensor.TryRead(raw, out var document, out _));
        Assert.Equal(Document, document.ToArray());

        var cases = new (ModelInferRequest Request, string Said)[]
        {
            (With(r => r.Inputs.Clear()), "no input tensor named 'json' (inputs: none)"),
            (With(r => r.Inputs[0].Name = "text"), "no input tensor named 'json' (inputs: 'text')"),
            (With(r => r.Inputs[0].Datatype = "FP32"), "input tensor 'json' is 'FP32', not BYTES"),
            (With(r => r.Inputs[0].Shape.Add(3)), "has shape [1,3], not [1]"),
            (With(r => r.Inputs[0].Shape[0] = -1), "has shape [-1], not [1]"),
            (With(r => r.Inputs[0].Shape.Clear()), "has shape [], not [1]"),
            (With(r => r.Inputs[0].Contents.BytesContents.Add(ByteString.CopyFromUtf8("""{"text":5}"""))), "carries 2 elements in bytes_contents"),
            (With(r => r.Inputs.Add(JsonTensor.Request("m", "", "", """{"text":5}"""u8).Inputs[0])), "2 input tensors ('json', 'json'), where one is taken: 'json'"),
            (With(r => r.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = new string('x', 5000), Datatype = "BYTES" })), "2 input tensors ('json', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…')"),
            (With(r =>
            {
                r.Inputs[0].Contents = null;
                r.RawInputContents.Add(JsonTensor.Raw(Document));
                r.RawInputContents.Add(JsonTensor.Raw(Document));
            }), "raw_input_contents holds 2 entries for one input tensor"),
        };
        foreach (var (request, said) in cases)
        {
            Assert.False(JsonTensor.TryRead(request, out _, out var why), said);
            Assert.Contains(said, why, StringComparison.Ordinal);
            Assert.True(why.Length < 300, why);
        }
    }

    [Fact]
    public void A_request_asks_for_the_json_output_alone()
    {
        var request = JsonTensor.Request("m", "1.0.0", "7", Document);
        Assert.Equal(["json"], request.Outputs.Select(o => o.Name));
        Assert.Empty(request.RawInputContents);
        Assert.Throws<ArgumentNullException>(() => JsonTensor.TryRead((ModelInferRequest)null!, out _, out _));
        Assert.Throws<ArgumentNullException>(() => JsonTensor.TryRead((ModelInferResponse)null!, out _, out _));
    }

    [Fact]
    public void A_request_names_eight_of_its_inputs_and_dimensions_and_marks_the_rest()
    {
        static ModelInferRequest Inputs(int count)
        {
            var request = new ModelInferRequest();
            for (var i = 0; i < count; i++) request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = $"in{i}" });
            return request;
        }

        Assert.False(JsonTensor.TryRead(Inputs(2), out _, out var why));
        Assert.Equal("no input tensor named 'json' (inputs: 'in0', 'in1')", why);
        Assert.False(JsonTensor.TryRead(Inputs(8), out _, out why));
        Assert.Equal("no input tensor named 'json' (inputs: 'in0', 'in1', 'in2', 'in3', 'in4', 'in5', 'in6', 'in7')", why);
        Assert.False(JsonTensor.TryRead(Inputs(9), out _, out why));
        Assert.Equal("no input tensor named 'json' (inputs: 'in0', 'in1', 'in2', 'in3', 'in4', 'in5', 'in6', 'in7', …)", why);

        foreach (var (dimensions, said) in new[] { (8, "[1,1,1,1,1,1,1,1]"), (9, "[1,1,1,1,1,1,1,1,…]") })
        {
            var request = JsonTensor.Request("m", "", "", Document);
            request.Inputs[0].Shape.Clear();
            request.Inputs[0].Shape.Add(Enumerable.Repeat(1L, dimensions));
            Assert.False(JsonTensor.TryRead(request, out _, out why));
            Assert.Equal($"input tensor 'json' has shape {said}, not [1] (one document)", why);
        }

        var empty = JsonTensor.Request("m", "", "", Document);
        empty.Inputs[0].Contents.BytesContents.Clear();
        Assert.False(JsonTensor.TryRead(empty, out var document, out why));
        Assert.Equal(("input tensor 'json' carries no bytes", 0), (why, document.Length));
        empty.Inputs[0].Contents = null;
        Assert.False(JsonTensor.TryRead(empty, out _, out why));
        Assert.Equal("input tensor 'json' carries no bytes", why);
    }

    [Fact]
    public void An_answer_names_eight_of_its_outputs_and_counts_the_rest()
    {
        static ModelInferResponse Outputs(int count)
        {
            var response = new ModelInferResponse();
            for (var i = 0; i < count; i++) response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = $"out{i}" });
            return response;
        }

        Assert.False(JsonTensor.TryRead(Outputs(0), out _, out var why));
        Assert.Equal($"the answer has no output tensor named 'json' (outputs: none); {JsonTensor.Convention}", why);
        Assert.False(JsonTensor.TryRead(Outputs(2), out _, out why));
        Assert.Equal($"the answer has no output tensor named 'json' (outputs: 'out0', 'out1'); {JsonTensor.Convention}", why);
        Assert.False(JsonTensor.TryRead(Outputs(8), out _, out why));
        Assert.EndsWith("'out6', 'out7'); " + JsonTensor.Convention, why, StringComparison.Ordinal);
        Assert.False(JsonTensor.TryRead(Outputs(9), out _, out why));
        Assert.EndsWith("'out6', 'out7', … 9 in all); " + JsonTensor.Convention, why, StringComparison.Ordinal);
        Assert.Equal("InfraMind's JSON convention: one BYTES output tensor named 'json', shape [1], the answer in outputs[].contents.bytes_contents[0] " +
            "or in raw_output_contents (4-byte little-endian length, then the bytes)", JsonTensor.Convention);
    }

    [Fact]
    public void Raw_contents_are_a_four_byte_length_then_exactly_that_many_bytes()
    {
        static ModelInferResponse Raw(params byte[] bytes)
        {
            var response = new ModelInferResponse();
            response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json" });
            response.RawOutputContents.Add(ByteString.CopyFrom(bytes));
            return response;
        }

        Assert.Equal([5, 0, 0, 0, .. "hello"u8], JsonTensor.Raw("hello"u8).ToByteArray());
        Assert.True(JsonTensor.TryRead(Raw(0, 0, 0, 0), out var document, out var why));
        Assert.Equal((0, ""), (document.Length, why));
        Assert.True(JsonTensor.TryRead(Raw(2, 0, 0, 0, 0x7B, 0x7D), out document, out why));
        Assert.Equal(("{}", ""), (Encoding.UTF8.GetString(document.Span), why));
        Assert.False(JsonTensor.TryRead(Raw(0, 0, 0), out document, out why));
        Assert.Equal(("raw contents of 'json' are 3 bytes, shorter than their 4-byte length prefix", 0), (why, document.Length));
        Assert.False(JsonTensor.TryRead(Raw(9, 0, 0, 0, 1), out _, out why));
        Assert.Equal("raw contents of 'json' declare 9 bytes but carry 1 (shape [1]: one element)", why);
        Assert.False(JsonTensor.TryRead(Raw(0xFF, 0xFF, 0xFF, 0xFF, 1), out _, out why));
        Assert.Equal("raw contents of 'json' declare 4294967295 bytes but carry 1 (shape [1]: one element)", why);

        // Positional: the json tensor is the second output, so its entry is the second; one entry alone is the other output's.
        var second = new ModelInferResponse();
        second.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "other" });
        second.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json" });
        second.RawOutputContents.Add(JsonTensor.Raw(Document));
        Assert.False(JsonTensor.TryRead(second, out _, out why));
        Assert.Equal($"the output tensor 'json' carries no bytes; {JsonTensor.Convention}", why);

        // Contents without bytes: the raw entry is read, and without one the tensor carries no bytes.
        var emptyContents = Raw([.. JsonTensor.Raw(Document).ToByteArray()]);
        emptyContents.Outputs[0].Contents = new InferTensorContents();
        Assert.True(JsonTensor.TryRead(emptyContents, out document, out _));
        Assert.Equal(Document, document.ToArray());
        emptyContents.RawOutputContents.Clear();
        Assert.False(JsonTensor.TryRead(emptyContents, out _, out why));
        Assert.Equal($"the output tensor 'json' carries no bytes; {JsonTensor.Convention}", why);

        // Found in bytes_contents: the first element, and no problem said.
        var inline = new ModelInferResponse();
        inline.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = "json", Contents = new InferTensorContents() });
        inline.Outputs[0].Contents.BytesContents.Add(ByteString.CopyFrom(Document));
        inline.Outputs[0].Contents.BytesContents.Add(ByteString.CopyFromUtf8("second"));
        Assert.True(JsonTensor.TryRead(inline, out document, out why));
        Assert.Equal(Document, document.ToArray());
        Assert.Equal("", why);
        // Found in a request, raw or not: no problem said.
        Assert.True(JsonTensor.TryRead(JsonTensor.Request("m", "", "", Document), out _, out why));
        Assert.Equal("", why);
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
    public void Every_http_status_reaches_a_grpc_caller_as_docs_protocols_table_says()
    {
        // HTTP → gRPC, row by row (docs/protocols.md): what the ingress tells a gRPC caller of each problem. The round trip
        // below passes only the statuses ToHttp gives, so the rows it never meets are held here: 502 (every attempt
        // failed, IM6004) is UNAVAILABLE, a 4xx without a row of its own INVALID_ARGUMENT, another 5xx INTERNAL.
        var rows = new (int[] Http, StatusCode Code)[]
        {
            ([200, 201, 204, 299], StatusCode.OK),
            ([400, 413, 422, 405, 408, 410, 415, 431, 451], StatusCode.InvalidArgument),
            ([401], StatusCode.Unauthenticated),
            ([403], StatusCode.PermissionDenied),
            ([404], StatusCode.NotFound),
            ([409], StatusCode.Aborted),
            ([429], StatusCode.ResourceExhausted),
            ([499], StatusCode.Cancelled),
            ([501], StatusCode.Unimplemented),
            ([502, 503], StatusCode.Unavailable),
            ([504], StatusCode.DeadlineExceeded),
            ([500, 505, 507, 599], StatusCode.Internal),
        };
        foreach (var (statuses, code) in rows)
            Assert.All(statuses, http => Assert.True(GrpcStatusMap.FromHttp(http) == code, $"HTTP {http}: {GrpcStatusMap.FromHttp(http)}, expected {code}"));
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

using System.Buffers;
using System.Text;
using Google.Protobuf;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>
/// What a message would make of itself, counted on its wire bytes before it is parsed: honest messages of the protocol
/// pass, whatever their size; a stranger's few bytes that would parse into many objects or numbers are refused, named.
/// </summary>
public sealed class WireBudgetTests
{
    private static readonly WireLimits Small = new(MaxObjects: 1024, MaxValues: 1024);

    [Fact]
    public void A_request_under_the_json_convention_is_within_small_limits_whatever_its_documents_size()
    {
        var request = JsonTensor.Request("summarizer", "1.0.0", "42", Encoding.UTF8.GetBytes("{\"text\":\"" + new string('x', 900_000) + "\"}"));
        request.Parameters["priority"] = new InferParameter { Int64Param = 3 };
        Assert.Null(WireBudget.Exceeds(request.ToByteArray(), ModelInferRequest.Descriptor, Small));
    }

    [Fact]
    public void An_answer_with_a_large_float_tensor_beside_json_is_within_the_answer_limits()
    {
        // A V2 server's honest answer: 1M floats (4 MiB packed) next to the json tensor.
        var response = new ModelInferResponse { ModelName = "m" };
        var floats = new ModelInferResponse.Types.InferOutputTensor { Name = "scores", Datatype = "FP32", Contents = new InferTensorContents() };
        floats.Shape.Add(1_000_000);
        floats.Contents.Fp32Contents.Add(Enumerable.Repeat(0.5f, 1_000_000));
        response.Outputs.Add(floats);
        var json = new ModelInferResponse.Types.InferOutputTensor { Name = "json", Datatype = "BYTES", Contents = new InferTensorContents() };
        json.Contents.BytesContents.Add(ByteString.CopyFromUtf8("{}"));
        response.Outputs.Add(json);
        var bytes = response.ToByteArray();

        Assert.Null(WireBudget.Exceeds(bytes, ModelInferResponse.Descriptor, new WireLimits(ModelChannel.MaxAnswerObjects, (16L << 20) / 4)));
        // The same answer against limits of a quarter of that is refused: the count is of numbers, not bytes.
        Assert.Contains("more than 250,000 numbers in repeated fields", WireBudget.Exceeds(bytes, ModelInferResponse.Descriptor, new WireLimits(1024, 250_000)), StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_tensors_two_bytes_each_are_counted_as_the_objects_they_would_become()
    {
        // inputs (field 5), length 0: two bytes on the wire, an InferInputTensor with its lists and map in memory.
        var bytes = Repeat([0x2A, 0x00], 1025);
        Assert.Equal(
            "it holds more than 1,024 objects (messages, strings, byte strings and unknown fields), the most taken",
            WireBudget.Exceeds(bytes, ModelInferRequest.Descriptor, Small));
        Assert.Null(WireBudget.Exceeds(Repeat([0x2A, 0x00], 1024), ModelInferRequest.Descriptor, Small));
        // Parsed, they are the tensors counted.
        Assert.Equal(1024, ModelInferRequest.Parser.ParseFrom(Repeat([0x2A, 0x00], 1024)).Inputs.Count);
    }

    [Fact]
    public void Unknown_fields_and_known_fields_in_another_wire_type_are_objects_too()
    {
        // Field 15, varint 0: unknown to ModelInferRequest, kept by the parser.
        Assert.NotNull(WireBudget.Exceeds(Repeat([0x78, 0x00], 1025), ModelInferRequest.Descriptor, Small));
        // model_name (field 1, a string) sent as a varint: the parser keeps it as an unknown field.
        Assert.NotNull(WireBudget.Exceeds(Repeat([0x08, 0x00], 1025), ModelInferRequest.Descriptor, Small));
        // ServerLiveRequest has no fields: every field of it is unknown.
        Assert.NotNull(WireBudget.Exceeds(Repeat([0x0A, 0x00], 1025), ServerLiveRequest.Descriptor, Small));
    }

    [Fact]
    public void Packed_numbers_count_one_each_and_so_do_unpacked_ones()
    {
        // An input tensor whose shape (field 3, packed int64) holds 2,000 ones: 2,002 bytes, 16,000 in memory.
        var shape = new byte[] { 0x1A }.Concat(Varint(2000)).Concat(Enumerable.Repeat((byte)1, 2000)).ToArray();
        var tensor = new byte[] { 0x2A }.Concat(Varint(shape.Length)).Concat(shape).ToArray();
        Assert.Equal("it holds more than 1,024 numbers in repeated fields, the most taken", WireBudget.Exceeds(tensor, ModelInferRequest.Descriptor, Small));

        // The same numbers unpacked (tag 0x18 each).
        var unpacked = Repeat([0x18, 0x01], 1025);
        var loose = new byte[] { 0x2A }.Concat(Varint(unpacked.Length)).Concat(unpacked).ToArray();
        Assert.NotNull(WireBudget.Exceeds(loose, ModelInferRequest.Descriptor, Small));
    }

    [Fact]
    public void A_group_is_refused_and_bytes_that_are_not_protobuf_are_left_to_the_parser()
    {
        // Field 15, start group then end group: proto3 has no groups, and an unknown one parses into a tree of its own.
        Assert.Equal("it holds a group (wire type 3), which proto3 messages do not have",
            WireBudget.Exceeds(new byte[] { 0x7B, 0x7C }, ModelInferRequest.Descriptor, Small));
        // A length past the end, a truncated varint, field number 0: not counted, so the parser names the fault.
        Assert.Null(WireBudget.Exceeds(new byte[] { 0x0A, 0x05, 0x41 }, ModelInferRequest.Descriptor, Small));
        Assert.Null(WireBudget.Exceeds(new byte[] { 0x08, 0xFF }, ModelInferRequest.Descriptor, Small));
        Assert.Null(WireBudget.Exceeds(new byte[] { 0x00, 0x00 }, ModelInferRequest.Descriptor, Small));
        Assert.Throws<InvalidProtocolBufferException>(() => ModelInferRequest.Parser.ParseFrom(new byte[] { 0x0A, 0x05, 0x41 }));
    }

    [Fact]
    public void Messages_nested_past_the_depth_are_refused()
    {
        // InferInputTensor.contents (field 5) is a message; InferTensorContents has no message fields, so nesting is
        // bounded by the protocol. A descriptor that nests itself shows the guard: google.protobuf.Struct's Value → Struct …
        var value = Array.Empty<byte>();
        for (var i = 0; i < WireBudget.MaxDepth + 2; i++)
        {
            // Value.struct_value (field 5) holding a Struct whose fields map (field 1) holds an entry with value (field 2).
            var entry = new byte[] { 0x12 }.Concat(Varint(value.Length)).Concat(value).ToArray();
            var structure = new byte[] { 0x0A }.Concat(Varint(entry.Length)).Concat(entry).ToArray();
            value = new byte[] { 0x2A }.Concat(Varint(structure.Length)).Concat(structure).ToArray();
        }

        Assert.Equal($"its messages nest more than {WireBudget.MaxDepth} deep",
            WireBudget.Exceeds(value, Google.Protobuf.WellKnownTypes.Value.Descriptor, new WireLimits(1 << 20, 1 << 20)));
    }

    [Fact]
    public void A_message_in_several_segments_counts_as_in_one()
    {
        var bytes = Repeat([0x2A, 0x00], 1025);
        var first = new Segment(bytes.AsMemory(0, 3));
        var last = first.Append(bytes.AsMemory(3));
        var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.False(sequence.IsSingleSegment);
        Assert.Equal(WireBudget.Exceeds(bytes, ModelInferRequest.Descriptor, Small), WireBudget.Exceeds(sequence, ModelInferRequest.Descriptor, Small));
        Assert.NotNull(WireBudget.Exceeds(sequence, ModelInferRequest.Descriptor, Small));
    }

    private static byte[] Repeat(byte[] unit, int times) => [.. Enumerable.Range(0, times).SelectMany(_ => unit)];

    private static byte[] Varint(int value)
    {
        var bytes = new List<byte>();
        var v = (uint)value;
        while (v >= 0x80)
        {
            bytes.Add((byte)(v | 0x80));
            v >>= 7;
        }

        bytes.Add((byte)v);
        return [.. bytes];
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}

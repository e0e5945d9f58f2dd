using System.Buffers;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
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

    [Fact]
    public void A_tag_or_a_length_with_bits_above_32_is_read_as_the_parser_reads_it_and_the_count_goes_on()
    {
        // The parser reads a tag, and a length, as 32 bits of a varint of up to ten bytes. The count read all 64 bits, so
        // one field number past int.MaxValue, or one length past the message, ended the count with no verdict while the
        // parse read on: a model's answer of any number of empty output tensors behind such a field went by uncounted.
        var highTag = new byte[] { 0xF8, 0x80, 0x80, 0x80, 0x40, 0x00 }; // field 15, varint 0 (bit 34 of the tag set)
        var highLength = new byte[] { 0x7A, 0x80, 0x80, 0x80, 0x80, 0x10 }; // field 15, bytes of length 2^32: 0 in 32 bits
        foreach (var head in new[] { highTag, highLength })
        {
            // The unknown field is an object, and each empty output tensor one: 1,024 in all, then 1,025.
            byte[] within = [.. head, .. Repeat([0x2A, 0x00], 1023)];
            byte[] over = [.. head, .. Repeat([0x2A, 0x00], 1024)];
            var parsed = ModelInferResponse.Parser.ParseFrom(over);
            Assert.Equal(1024, parsed.Outputs.Count);
            Assert.Null(WireBudget.Exceeds(within, ModelInferResponse.Descriptor, Small));
            Assert.Equal("it holds more than 1,024 objects (messages, strings, byte strings and unknown fields), the most taken",
                WireBudget.Exceeds(over, ModelInferResponse.Descriptor, Small));
        }

        // A packed field's negative length (0xFFFFFFFF: -1 in 32 bits) is read as an empty field, and the parse goes on
        // (here with shape's numbers one by one); any other field's is refused by the parser, so the count stops there.
        foreach (var (numbers, said) in new[] { (1024, null), (1025, "it holds more than 1,024 numbers in repeated fields, the most taken") })
        {
            byte[] tensor = [0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, .. Repeat([0x18, 0x01], numbers)];
            byte[] answer = [0x2A, .. Varint(tensor.Length), .. tensor];
            Assert.Equal(numbers, ModelInferResponse.Parser.ParseFrom(answer).Outputs.Single().Shape.Count);
            Assert.Equal(said, WireBudget.Exceeds(answer, ModelInferResponse.Descriptor, Small));
        }

        byte[] negativeName = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, .. Repeat([0x2A, 0x00], 1025)];
        Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(negativeName));
        Assert.Null(WireBudget.Exceeds(negativeName, ModelInferResponse.Descriptor, Small));
        // A tag whose 32 bits hold field number 0 is refused by the parser, whatever the bits above them.
        byte[] zero = [0x80, 0x80, 0x80, 0x80, 0x10, 0x00, .. Repeat([0x2A, 0x00], 1025)];
        Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(zero));
        Assert.Null(WireBudget.Exceeds(zero, ModelInferResponse.Descriptor, Small));
    }

    [Fact]
    public void Messages_nest_16_deep_and_not_17()
    {
        // DescriptorProto.nested_type (field 3) is a DescriptorProto: one level a step. The outermost is the first level.
        static byte[] Nested(int levels)
        {
            var message = Array.Empty<byte>();
            for (var i = 1; i < levels; i++) message = [0x1A, .. Varint(message.Length), .. message];
            return message;
        }

        var limits = new WireLimits(1 << 20, 1 << 20);
        Assert.Null(WireBudget.Exceeds(Nested(WireBudget.MaxDepth), Google.Protobuf.Reflection.DescriptorProto.Descriptor, limits));
        Assert.Equal("its messages nest more than 16 deep",
            WireBudget.Exceeds(Nested(WireBudget.MaxDepth + 1), Google.Protobuf.Reflection.DescriptorProto.Descriptor, limits));
        Assert.Equal(16, WireBudget.MaxDepth);
        // The 16 messages below the outermost, with room for 15: the first problem met is the one said.
        Assert.Equal("it holds more than 15 objects (messages, strings, byte strings and unknown fields), the most taken",
            WireBudget.Exceeds(Nested(WireBudget.MaxDepth + 1), Google.Protobuf.Reflection.DescriptorProto.Descriptor, new WireLimits(15, 1 << 20)));
    }

    [Theory]
    // fp32_contents (field 6, packed fixed32): four bytes a number, a partial one not counted.
    [InlineData(0x32, 4 * 1024, false)]
    [InlineData(0x32, 4 * 1024 + 3, false)]
    [InlineData(0x32, 4 * 1025, true)]
    // fp64_contents (field 7, packed fixed64): eight bytes a number.
    [InlineData(0x3A, 8 * 1024, false)]
    [InlineData(0x3A, 8 * 1024 + 7, false)]
    [InlineData(0x3A, 8 * 1025, true)]
    public void Packed_fixed_size_numbers_count_by_their_size(byte tag, int bytes, bool over)
    {
        byte[] contents = [tag, .. Varint(bytes), .. new byte[bytes]];
        Assert.Equal(over ? "it holds more than 1,024 numbers in repeated fields, the most taken" : null,
            WireBudget.Exceeds(contents, InferTensorContents.Descriptor, Small));
    }

    [Fact]
    public void Packed_varints_count_one_at_each_byte_without_the_continuation_bit()
    {
        // int64_contents (field 3): 0x7F ends a number, 0x80 goes on.
        foreach (var (unit, times, over) in new (byte[], int, bool)[]
                 {
                     ([0x7F], 1024, false), ([0x7F], 1025, true), ([0x80, 0x01], 1024, false), ([0x80, 0x01], 1025, true),
                     ([0xFF, 0xFF, 0x7F], 1024, false),
                 })
        {
            var payload = Repeat(unit, times);
            byte[] contents = [0x1A, .. Varint(payload.Length), .. payload];
            Assert.Equal(times, InferTensorContents.Parser.ParseFrom(contents).Int64Contents.Count);
            Assert.True(over == WireBudget.Exceeds(contents, InferTensorContents.Descriptor, Small) is not null, $"{times} of {Convert.ToHexString(unit)}");
        }
    }

    [Fact]
    public void Unpacked_numbers_of_each_wire_type_count_one_each_and_a_single_number_counts_nothing()
    {
        // int64_contents one by one (varint), fp32_contents (fixed32), fp64_contents (fixed64), the last one ending the message.
        foreach (var unit in new byte[][] { [0x18, 0x01], [0x35, 0, 0, 0, 0], [0x39, 0, 0, 0, 0, 0, 0, 0, 0] })
        {
            var parsed = InferTensorContents.Parser.ParseFrom(Repeat(unit, 1024));
            Assert.Equal(1024, parsed.Int64Contents.Count + parsed.Fp32Contents.Count + parsed.Fp64Contents.Count);
            Assert.Null(WireBudget.Exceeds(Repeat(unit, 1024), InferTensorContents.Descriptor, Small));
            Assert.Equal("it holds more than 1,024 numbers in repeated fields, the most taken",
                WireBudget.Exceeds(Repeat(unit, 1025), InferTensorContents.Descriptor, Small));
        }

        // ServerReadyResponse.ready (field 1, a bool): one value however often it is sent, no object, no number.
        Assert.Null(WireBudget.Exceeds(Repeat([0x08, 0x01], 5000), ServerReadyResponse.Descriptor, Small));
    }

    [Fact]
    public void Unknown_fields_of_each_wire_type_are_an_object_each_and_so_are_known_fields_in_a_wire_type_not_theirs()
    {
        var cases = new (string What, byte[] Unit, Google.Protobuf.Reflection.MessageDescriptor Type)[]
        {
            ("unknown varint", [0x78, 0x00], ModelInferResponse.Descriptor),
            ("unknown fixed64", [0x79, 0, 0, 0, 0, 0, 0, 0, 0], ModelInferResponse.Descriptor),
            ("unknown fixed32", [0x7D, 0, 0, 0, 0], ModelInferResponse.Descriptor),
            ("unknown bytes", [0x7A, 0x01, 0x00], ModelInferResponse.Descriptor),
            ("a string as fixed32", [0x0D, 0, 0, 0, 0], ModelInferResponse.Descriptor),
            ("a message as varint", [0x28, 0x00], ModelInferResponse.Descriptor),
            ("a bool as bytes", [0x0A, 0x00], ServerReadyResponse.Descriptor),
            ("floats as varint", [0x30, 0x00], InferTensorContents.Descriptor),
            ("floats as fixed64", [0x31, 0, 0, 0, 0, 0, 0, 0, 0], InferTensorContents.Descriptor),
            ("doubles as fixed32", [0x3D, 0, 0, 0, 0], InferTensorContents.Descriptor),
            ("doubles as varint", [0x38, 0x00], InferTensorContents.Descriptor),
            ("bytes as varint", [0x40, 0x00], InferTensorContents.Descriptor),
            ("int64s as fixed32", [0x1D, 0, 0, 0, 0], InferTensorContents.Descriptor),
        };
        foreach (var (what, unit, type) in cases)
        {
            Assert.True(WireBudget.Exceeds(Repeat(unit, 1024), type, Small) is null, what);
            Assert.True(WireBudget.Exceeds(Repeat(unit, 1025), type, Small) is { } why && why.Contains("more than 1,024 objects", StringComparison.Ordinal), what);
        }
    }

    [Fact]
    public void A_field_cut_short_or_of_wire_type_4_6_or_7_ends_the_count_for_the_parser_to_refuse()
    {
        // Behind an end-group or a wire type 6 or 7: nothing more is counted.
        var over = Repeat([0x2A, 0x00], 1025);
        foreach (var head in new byte[][] { [0x7C], [0x7E], [0x7F] })
        {
            byte[] bytes = [.. head, .. over];
            Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(bytes));
            Assert.True(WireBudget.Exceeds(bytes, ModelInferResponse.Descriptor, Small) is null, Convert.ToHexString(head));
        }

        // A last field cut short (fixed64, fixed32, varint, bytes) is not counted: 1,024 objects before it, and no more.
        var within = Repeat([0x2A, 0x00], 1024);
        foreach (var tail in new byte[][] { [0x79, 0, 0, 0, 0, 0, 0, 0], [0x7D, 0, 0, 0], [0x78, 0x80], [0x7A, 0x02, 0x00], [0x7A] })
        {
            byte[] bytes = [.. within, .. tail];
            Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(bytes));
            Assert.True(WireBudget.Exceeds(bytes, ModelInferResponse.Descriptor, Small) is null, Convert.ToHexString(tail));
        }

        Assert.Throws<ArgumentNullException>(() => WireBudget.Exceeds(ReadOnlySpan<byte>.Empty, null!, Small));
        Assert.Null(WireBudget.Exceeds(ReadOnlySpan<byte>.Empty, ModelInferResponse.Descriptor, new WireLimits(0, 0)));
    }

    [Fact]
    public void Fixed_size_numbers_of_every_type_count_as_numbers_packed_or_not()
    {
        // No message of the protocol has fixed32, sfixed32, fixed64 or sfixed64 fields: a message made here has one of each.
        var file = new FileDescriptorProto { Name = "fixed.proto", Package = "wirebudget", Syntax = "proto3" };
        var message = new DescriptorProto { Name = "Fixed" };
        foreach (var (name, number, type) in new[]
                 {
                     ("a", 1, FieldDescriptorProto.Types.Type.Fixed32), ("b", 2, FieldDescriptorProto.Types.Type.Sfixed32),
                     ("c", 3, FieldDescriptorProto.Types.Type.Fixed64), ("d", 4, FieldDescriptorProto.Types.Type.Sfixed64),
                 })
            message.Field.Add(new FieldDescriptorProto { Name = name, JsonName = name, Number = number, Type = type, Label = FieldDescriptorProto.Types.Label.Repeated });
        file.MessageType.Add(message);
        var descriptor = FileDescriptor.BuildFromByteStrings([file.ToByteString()]).Single().MessageTypes.Single();

        const string Numbers = "it holds more than 1,024 numbers in repeated fields, the most taken";
        foreach (var (number, size) in new[] { (1, 4), (2, 4), (3, 8), (4, 8) })
        {
            // Packed: a number per `size` bytes of zeros (zeros that, read as varints, would be one number a byte).
            byte[] Packed(int count) => [(byte)((number << 3) | 2), .. Varint(count * size), .. new byte[count * size]];
            Assert.Null(WireBudget.Exceeds(Packed(1024), descriptor, Small));
            Assert.Equal(Numbers, WireBudget.Exceeds(Packed(1025), descriptor, Small));
            // One by one in their own wire type: a number each; in the other fixed size's: an unknown field each.
            var own = (byte)((number << 3) | (size == 4 ? 5 : 1));
            var other = (byte)((number << 3) | (size == 4 ? 1 : 5));
            Assert.Null(WireBudget.Exceeds(Repeat([own, .. new byte[size]], 1024), descriptor, Small));
            Assert.Equal(Numbers, WireBudget.Exceeds(Repeat([own, .. new byte[size]], 1025), descriptor, Small));
            Assert.Contains("more than 1,024 objects", WireBudget.Exceeds(Repeat([other, .. new byte[12 - size]], 1025), descriptor, Small), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_tag_cut_short_longer_than_ten_bytes_or_of_field_0_ends_the_count()
    {
        var within = Repeat([0x2A, 0x00], 1024);
        var over = Repeat([0x2A, 0x00], 1025);
        // Field 0 in any wire type: the parser refuses it.
        foreach (var head in new byte[][] { [0x02, 0x00], [0x00, 0x00], [0x05, 0, 0, 0, 0] })
        {
            byte[] bytes = [.. head, .. over];
            Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(bytes));
            Assert.True(WireBudget.Exceeds(bytes, ModelInferResponse.Descriptor, Small) is null, Convert.ToHexString(head));
        }

        // A tag of ten bytes is read (field 15, varint 0: one more object); one of eleven is not a varint.
        byte[] ten = [0xF8, .. Enumerable.Repeat((byte)0x80, 8), 0x00, 0x00];
        Assert.Equal(1024, ModelInferResponse.Parser.ParseFrom([.. ten, .. Repeat([0x2A, 0x00], 1024)]).Outputs.Count);
        Assert.Null(WireBudget.Exceeds([.. ten, .. Repeat([0x2A, 0x00], 1023)], ModelInferResponse.Descriptor, Small));
        Assert.NotNull(WireBudget.Exceeds([.. ten, .. within], ModelInferResponse.Descriptor, Small));
        byte[] eleven = [0xF8, .. Enumerable.Repeat((byte)0x80, 9), 0x00, 0x00, .. over];
        Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(eleven));
        Assert.Null(WireBudget.Exceeds(eleven, ModelInferResponse.Descriptor, Small));
        // Nor is what follows an eleven-byte tag whose first byte says fixed64: the count does not skip eight bytes into it
        // and read on (field 15 varints, tag and value 0x78, fill every place it could land).
        byte[] elevenFixed = [0xF9, .. Enumerable.Repeat((byte)0x80, 9), .. Repeat([0x78, 0x78], 1025)];
        Assert.Throws<InvalidProtocolBufferException>(() => ModelInferResponse.Parser.ParseFrom(elevenFixed));
        Assert.Null(WireBudget.Exceeds(elevenFixed, ModelInferResponse.Descriptor, Small));
        // A last tag cut short: not counted.
        Assert.Null(WireBudget.Exceeds([.. within, 0xF8], ModelInferResponse.Descriptor, Small));
        Assert.Null(WireBudget.Exceeds([.. within, 0xF8, 0x80], ModelInferResponse.Descriptor, Small));
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

using System.Buffers.Binary;
using Google.Protobuf;
using InfraMind.Serving.Grpc.V2;

namespace InfraMind.Serving.Grpc;

/// <summary>
/// How a JSON document travels over the Open Inference Protocol V2 (docs/protocols.md): one BYTES tensor named
/// <c>json</c>, shape [1]. InfraMind sends it in <c>inputs[0].contents.bytes_contents[0]</c>; a model answers with an
/// output tensor <c>json</c> in <c>contents.bytes_contents[0]</c> or in the matching <c>raw_output_contents</c> entry
/// (V2's raw BYTES form: a 4-byte little-endian length, then the bytes). The one place that knows the convention.
/// </summary>
public static class JsonTensor
{
    public const string Name = "json";

    public const string DataType = "BYTES";

    /// <summary>V2's raw BYTES form of one element, as the convention names it.</summary>
    private const string RawForm = "(4-byte little-endian length, then the bytes)";

    /// <summary>The convention in one line, for verdicts that say what a model must do.</summary>
    public const string Convention =
        "InfraMind's JSON convention: one BYTES output tensor named 'json', shape [1], the answer in outputs[].contents.bytes_contents[0] " +
        "or in raw_output_contents " + RawForm;

    /// <summary>The convention for a request in one line, for a server that says what a caller must send.</summary>
    public const string InputConvention =
        "InfraMind's JSON convention: one BYTES input tensor named 'json', shape [1], the document in inputs[0].contents.bytes_contents[0] " +
        "or in raw_input_contents " + RawForm;

    /// <summary>A ModelInfer request that carries <paramref name="document"/> to <paramref name="model"/>.</summary>
    public static ModelInferRequest Request(string model, string version, string id, ReadOnlySpan<byte> document)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = Name, Datatype = DataType, Contents = new InferTensorContents() };
        input.Shape.Add(1);
        input.Contents.BytesContents.Add(ByteString.CopyFrom(document));
        var request = new ModelInferRequest { ModelName = model, ModelVersion = version, Id = id };
        request.Inputs.Add(input);
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = Name });
        return request;
    }

    /// <summary>
    /// The JSON document of a request, or why it has none (for a server of the protocol): the request must hold exactly
    /// one input tensor, named <c>json</c>, datatype BYTES, shape [1], with one element (in
    /// <c>contents.bytes_contents</c> or in its <c>raw_input_contents</c> entry). Anything else is refused rather than
    /// partly read: a second tensor, another datatype or shape, would otherwise be ignored without the caller knowing.
    /// </summary>
    public static bool TryRead(ModelInferRequest request, out ReadOnlyMemory<byte> document, out string problem)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Inputs.Count != 1)
        {
            var names = request.Inputs.Count == 0 ? "none" : string.Join(", ", request.Inputs.Take(8).Select(i => Quote(i.Name))) + (request.Inputs.Count > 8 ? ", …" : "");
            return Missing(request.Inputs.Count == 0 || request.Inputs.All(i => i.Name != Name)
                ? $"no input tensor named '{Name}' (inputs: {names})"
                : $"{request.Inputs.Count} input tensors ({names}), where one is taken: '{Name}'", out document, out problem);
        }

        var input = request.Inputs[0];
        if (input.Name != Name) return Missing($"no input tensor named '{Name}' (inputs: {Quote(input.Name)})", out document, out problem);
        if (input.Datatype != DataType) return Missing($"input tensor '{Name}' is {Quote(input.Datatype)}, not {DataType}", out document, out problem);
        if (input.Shape.Count != 1 || input.Shape[0] != 1)
            return Missing($"input tensor '{Name}' has shape [{string.Join(",", input.Shape.Take(8))}{(input.Shape.Count > 8 ? ",…" : "")}], not [1] (one document)", out document, out problem);
        var elements = input.Contents?.BytesContents.Count ?? 0;
        if (elements == 1) return Found(input.Contents!.BytesContents[0].Memory, out document, out problem);
        if (elements > 1)
            return Missing($"input tensor '{Name}' carries {elements} elements in bytes_contents, where shape [1] holds one", out document, out problem);

        if (request.RawInputContents.Count == 1) return TryRaw(request.RawInputContents[0], out document, out problem);
        if (request.RawInputContents.Count > 1)
            return Missing($"raw_input_contents holds {request.RawInputContents.Count} entries for one input tensor", out document, out problem);
        return Missing($"input tensor '{Name}' carries no bytes", out document, out problem);
    }

    // A caller's tensor name or datatype in a message: quoted, at most 40 characters of it.
    private static string Quote(string text) => TerminalText.Quote(text, 40);

    /// <summary>The JSON document of an answer, or what is wrong with the answer under the convention.</summary>
    public static bool TryRead(ModelInferResponse response, out ReadOnlyMemory<byte> document, out string problem)
    {
        ArgumentNullException.ThrowIfNull(response);
        for (var i = 0; i < response.Outputs.Count; i++)
        {
            var output = response.Outputs[i];
            if (output.Name != Name) continue;
            if (output.Contents?.BytesContents.Count > 0) return Found(output.Contents.BytesContents[0].Memory, out document, out problem);
            // Raw contents are positional: entry i belongs to output i (all outputs use raw form, or none).
            if (i < response.RawOutputContents.Count) return TryRaw(response.RawOutputContents[i], out document, out problem);
            return Missing($"the output tensor '{Name}' carries no bytes; {Convention}", out document, out problem);
        }

        var names = response.Outputs.Count == 0 ? "none" : string.Join(", ", response.Outputs.Take(8).Select(o => Quote(o.Name))) + (response.Outputs.Count > 8 ? $", … {response.Outputs.Count} in all" : "");
        return Missing($"the answer has no output tensor named '{Name}' (outputs: {names}); {Convention}", out document, out problem);
    }

    /// <summary>The raw BYTES form of one element: its 4-byte little-endian length, then the bytes (nothing after them).</summary>
    public static ByteString Raw(ReadOnlySpan<byte> document)
    {
        var buffer = new byte[4 + document.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)document.Length);
        document.CopyTo(buffer.AsSpan(4));
        return ByteString.CopyFrom(buffer);
    }

    private static bool TryRaw(ByteString raw, out ReadOnlyMemory<byte> document, out string problem)
    {
        var bytes = raw.Memory;
        if (bytes.Length < 4) return Missing($"raw contents of '{Name}' are {bytes.Length} bytes, shorter than their 4-byte length prefix", out document, out problem);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Span);
        if (length != bytes.Length - 4)
            return Missing($"raw contents of '{Name}' declare {length} bytes but carry {bytes.Length - 4} (shape [1]: one element)", out document, out problem);
        return Found(bytes[4..], out document, out problem);
    }

    private static bool Found(ReadOnlyMemory<byte> bytes, out ReadOnlyMemory<byte> document, out string problem)
    {
        document = bytes;
        problem = "";
        return true;
    }

    private static bool Missing(string why, out ReadOnlyMemory<byte> document, out string problem)
    {
        document = default;
        problem = why;
        return false;
    }
}

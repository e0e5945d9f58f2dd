using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>
/// JSON parsing for signed material: duplicate member names are an error, never "last one wins", because two
/// parsers that resolve duplicates differently would see two different statements behind one signature.
/// </summary>
public static class StrictJson
{
    private static readonly JsonDocumentOptions Options = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    /// <summary>Parses or throws <see cref="JsonException"/> (also for duplicate members).</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8Json) => JsonNode.Parse(utf8Json, nodeOptions: null, documentOptions: Options);

    public static JsonNode? Parse(string json) => JsonNode.Parse(json, nodeOptions: null, documentOptions: Options);
}

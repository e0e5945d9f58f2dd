using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using InfraMind.Serving;

namespace InfraMind.Gateway.Inference;

/// <summary>A request body read strictly: the document, the bytes a model gets, or why it is refused.</summary>
internal sealed record StrictBody(JsonDocument? Document, byte[] Canonical, ErrorCode? Code, string? Problem, string Pointer);

/// <summary>
/// Reads a client's JSON so that a model can only ever read what the gateway validated: strict UTF-8, no string that is
/// not Unicode (an unpaired surrogate escape such as <c>"\ud800"</c>), no key twice in one object (a model might read
/// either value), nesting at most a set depth; what is forwarded is the gateway's own serialisation of the validated
/// document (one canonical form: no byte-order mark, no insignificant white space), never the client's bytes.
/// </summary>
internal static class StrictJson
{
    private static readonly JsonWriterOptions Writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>
    /// What the parser found wrong, where (line and byte, from 1), without the parts of its message that speak of
    /// its own API ("Change the reader options", "isFinalBlock", its "LineNumber: 0 | BytePositionInLine: 12" form).
    /// </summary>
    /// <remarks><paramref name="skipped"/>: bytes before the parsed text on its first line (a byte-order mark), counted in the place given.</remarks>
    internal static string Describe(JsonException e, int skipped = 0)
    {
        var text = e.Message;
        var cut = text.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0) text = text[..cut];
        foreach (var api in new[] { " Change the reader options.", " when isFinalBlock is true", " The reader options need to be changed." })
            text = text.Replace(api, "", StringComparison.Ordinal);
        text = text.Replace("which is not supported in this mode", "which JSON does not allow", StringComparison.Ordinal).TrimEnd(' ', '.');
        return e.LineNumber is { } line && e.BytePositionInLine is { } at ? $"{text} (line {line + 1}, byte {at + 1 + (line == 0 ? skipped : 0)})" : text;
    }

    /// <summary>
    /// <paramref name="body"/> read strictly; <paramref name="named"/> is what the caller's protocol calls it in a
    /// message ("the body", "the json tensor").
    /// </summary>
    public static StrictBody Read(byte[] body, int maxDepth, string named)
    {
        // A byte-order mark is allowed and ignored (RFC 8259 §8.1); the model never sees it. Places are still counted
        // in the client's bytes, the mark's among them.
        var skipped = body.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        if (skipped > 0) body = body[skipped..];
        if (!Utf8.IsValid(body))
            return Refuse(MeshErrorCodes.BodyNotUtf8, $"{named} is not UTF-8: the byte at offset {skipped + InvalidOffset(body)} is not valid UTF-8", "");

        if (body.AsSpan().Trim(" \t\r\n"u8).IsEmpty)
            return Refuse(MeshErrorCodes.MalformedJson, $"{named} is empty: send the input as one JSON document", "");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
        }
        catch (JsonException e)
        {
            return Refuse(MeshErrorCodes.MalformedJson, $"{named} is not JSON: {Describe(e, skipped)}", "");
        }

        try
        {
            if (Check(document.RootElement, "") is { } refusal)
            {
                document.Dispose();
                return refusal;
            }

            var canonical = new ArrayBufferWriter<byte>(body.Length + 16);
            using (var writer = new Utf8JsonWriter(canonical, Writer with { MaxDepth = maxDepth + 1 })) document.RootElement.WriteTo(writer);
            return new StrictBody(document, canonical.WrittenSpan.ToArray(), null, null, "");
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    /// <summary>The first place the document breaks a rule, or null.</summary>
    private static StrictBody? Check(JsonElement element, string pointer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    if (!TryText(() => property.Name, out var name))
                        return Refuse(MeshErrorCodes.BodyNotUtf8, "a key is not Unicode text (an unpaired surrogate escape)", pointer);
                    var child = $"{pointer}/{name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}";
                    // Keys compare as text, so "a" and "\u0061" are the same key.
                    if (!names.Add(name)) return Refuse(MeshErrorCodes.DuplicateKey, $"the key {TerminalText.Quote(name, 64)} appears twice in one object", child);
                    if (Check(property.Value, child) is { } inner) return inner;
                }

                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (Check(item, $"{pointer}/{i++}") is { } inner) return inner;
                }

                return null;
            case JsonValueKind.String:
                return TryText(element.GetString, out _) ? null : Refuse(MeshErrorCodes.BodyNotUtf8, "a string is not Unicode text (an unpaired surrogate escape)", pointer);
            default:
                return null;
        }
    }

    private static bool TryText(Func<string?> read, out string text)
    {
        try
        {
            text = read() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            text = "";
            return false;
        }
    }

    private static int InvalidOffset(byte[] body)
    {
        var chars = new char[1024];
        var offset = 0;
        while (offset < body.Length)
        {
            var status = Utf8.ToUtf16(body.AsSpan(offset), chars, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
            if (status == OperationStatus.InvalidData) return offset + read;
            offset += read;
            if (status == OperationStatus.Done) break;
        }

        return offset;
    }

    private static StrictBody Refuse(ErrorCode code, string problem, string pointer) => new(null, [], code, problem, pointer);
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Node;

/// <summary>
/// How a node that lies on purpose (<see cref="NodeOptions.AlterAnswers"/>, fault injection) alters an answer: every
/// string in the JSON document reversed, so the answer keeps its shape, types and lengths — it still passes an
/// output_schema of types and lengths, and only comparing nodes' answers (spot-checks) can tell. An answer that is not
/// JSON is left as it is.
/// </summary>
public static class LyingAnswers
{
    public static byte[] Alter(byte[] answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(answer);
        }
        catch (JsonException)
        {
            return answer;
        }

        return JsonSerializer.SerializeToUtf8Bytes(Reverse(document));
    }

    private static JsonNode? Reverse(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(kv => KeyValuePair.Create(kv.Key, Reverse(kv.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Reverse)]),
        JsonValue v when v.TryGetValue<string>(out var text) => JsonValue.Create(new string([.. text.Reverse()]) + (IsPalindrome(text) ? "~" : "")),
        _ => node?.DeepClone(),
    };

    private static bool IsPalindrome(string text) => text.SequenceEqual(text.Reverse());
}

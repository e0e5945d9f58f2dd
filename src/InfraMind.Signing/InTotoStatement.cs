using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>One in-toto subject; <paramref name="Sha256"/> is lowercase hex without a prefix, as in-toto writes it.</summary>
public sealed record StatementSubject(string Name, string Sha256);

/// <summary>An in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md).</summary>
public sealed record InTotoStatement(IReadOnlyList<StatementSubject> Subjects, string PredicateType, JsonObject Predicate)
{
    public const string StatementType = "https://in-toto.io/Statement/v1";

    public JsonObject ToJson()
    {
        var subjects = new JsonArray();
        foreach (var s in Subjects)
        {
            subjects.Add(new JsonObject { ["name"] = s.Name, ["digest"] = new JsonObject { ["sha256"] = s.Sha256 } });
        }

        return new JsonObject
        {
            ["_type"] = StatementType,
            ["subject"] = subjects,
            ["predicateType"] = PredicateType,
            ["predicate"] = Predicate.DeepClone(),
        };
    }

    /// <summary>The bytes that get signed: RFC 8785 canonical JSON.</summary>
    public byte[] ToCanonicalBytes() => CanonicalJson.Serialize(ToJson());

    /// <summary>Parses and checks the statement layout; every failure names the JSON Pointer at fault (IM5017).</summary>
    public static InTotoStatement Parse(ReadOnlySpan<byte> utf8Json)
    {
        JsonNode? root;
        try
        {
            root = StrictJson.Parse(utf8Json);
        }
        catch (JsonException ex)
        {
            throw Schema("", "payload is not JSON: " + ex.Message);
        }

        return FromJson(root);
    }

    /// <summary>Checks an already parsed statement (parsed with <see cref="StrictJson"/>).</summary>
    internal static InTotoStatement FromJson(JsonNode? root)
    {
        if (root is not JsonObject obj)
        {
            throw Schema("", "statement must be a JSON object");
        }

        var type = RequireString(obj, "_type", "/_type");
        if (type != StatementType)
        {
            throw Schema("/_type", $"expected '{StatementType}', found '{type}'");
        }

        if (obj["subject"] is not JsonArray subjectArray || subjectArray.Count == 0)
        {
            throw Schema("/subject", "must be a non-empty array of {name, digest}");
        }

        var subjects = new List<StatementSubject>();
        for (var i = 0; i < subjectArray.Count; i++)
        {
            var at = $"/subject/{i}";
            if (subjectArray[i] is not JsonObject s)
            {
                throw Schema(at, "must be an object");
            }

            var name = RequireString(s, "name", at + "/name");
            if (s["digest"] is not JsonObject digest)
            {
                throw Schema(at + "/digest", "must be an object such as {\"sha256\": \"<64 hex>\"}");
            }

            var sha = RequireString(digest, "sha256", at + "/digest/sha256");
            if (!IsSha256Hex(sha))
            {
                throw Schema(at + "/digest/sha256", "must be 64 lowercase hex characters");
            }

            subjects.Add(new StatementSubject(name, sha));
        }

        var predicateType = RequireString(obj, "predicateType", "/predicateType");
        if (obj["predicate"] is not JsonObject predicate)
        {
            throw Schema("/predicate", "must be an object");
        }

        return new InTotoStatement(subjects, predicateType, predicate);
    }

    internal static bool IsSha256Hex(string s) =>
        s.Length == 64 && s.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    internal static string RequireString(JsonObject obj, string property, string pointer)
    {
        var node = obj[property];
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            var s = v.GetValue<string>();
            if (s.Length > 0)
            {
                return s;
            }
        }

        throw Schema(pointer, node is null ? "is required (a non-empty string)" : "must be a non-empty string");
    }

    internal static SigningException Schema(string pointer, string message) =>
        new(SigningErrorCodes.StatementSchema, $"statement {(pointer.Length == 0 ? "(root)" : pointer)}: {message}.");
}

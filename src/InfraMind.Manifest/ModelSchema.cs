using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace InfraMind.Manifest;

/// <summary>One way an instance fails a schema: where (JSON Pointer into the instance) and why.</summary>
public sealed record SchemaViolation(string Pointer, string Message)
{
    public override string ToString() => $"{(Pointer.Length == 0 ? "/" : Pointer)}: {Message}";
}

/// <summary>
/// The ways an instance fails a schema, at most <see cref="ModelSchema.MaxViolations"/> of them, each once;
/// <see cref="More"/> when the instance fails in further ways that are not listed.
/// </summary>
public sealed class SchemaViolations(IList<SchemaViolation> listed, bool more) : System.Collections.ObjectModel.ReadOnlyCollection<SchemaViolation>(listed)
{
    public static SchemaViolations None { get; } = new([], false);

    /// <summary>True when the instance breaks the schema in more ways than are listed.</summary>
    public bool More { get; } = more;

    /// <summary>"3 error(s)", or "more than 100 errors, the first 100 listed".</summary>
    public string Summary => More ? $"more than {Count} errors, the first {Count} listed" : $"{Count} error(s)";
}

/// <summary>A draft-07 JSON Schema of a model's input or output, ready to validate documents.</summary>
public sealed class ModelSchema
{
    private static readonly EvaluationOptions Hierarchical = new() { OutputFormat = OutputFormat.Hierarchical };
    private static readonly EvaluationOptions Flag = new() { OutputFormat = OutputFormat.Flag };

    private readonly JsonElement _document;

    private ModelSchema(JsonElement document, JsonSchema schema)
    {
        _document = document;
        Schema = schema;
    }

    /// <summary>
    /// The most values one schema may hold: every object, array and scalar in it, keywords' values included (a property
    /// <c>{type: string, maxLength: 100}</c> is three). Every gateway keeps each served version's manifest parsed and its
    /// schemas compiled, and every node each version it runs: about 480 bytes a value (bench/MeshScale's catalog mode
    /// measured 1.9 MiB per version whose input schema holds 4,096 values, and 70 ms to read it; 3.0 MiB while manifests
    /// were held as several trees), so a schema filling a 1 MiB manifest would cost each of them ~30 MiB and a second of
    /// CPU per version; at this bound a version's two schemas cost at most ~4 MiB. A document with more fields than this
    /// describes repeated shapes once (<c>items</c>, <c>additionalProperties</c>, <c>patternProperties</c>, a
    /// <c>$ref</c> to a definition).
    /// </summary>
    public const int MaxValues = 4096;

    /// <summary>
    /// The schema's JSON document; every read is a tree of the caller's own (which it may change). Made from the element
    /// the schema was built from, which the built schema keeps anyway: a tree held beside it was a second copy of both
    /// schemas of every version a gateway serves or a node runs (bench/MeshScale's catalog mode: ~2.7 KiB a version).
    /// </summary>
    public JsonNode Document => JsonNode.Parse(_document.GetRawText())!;

    /// <summary>How many values <paramref name="document"/> holds (objects, arrays, scalars), counting up to <paramref name="stopAt"/> at most.</summary>
    public static int CountValues(JsonNode? document, int stopAt = MaxValues + 1)
    {
        var count = 0;
        var pending = new Stack<JsonNode?>();
        pending.Push(document);
        while (pending.Count > 0 && count < stopAt)
        {
            var node = pending.Pop();
            count++;
            switch (node)
            {
                case JsonObject o:
                    foreach (var (_, child) in o) pending.Push(child);
                    break;
                case JsonArray a:
                    foreach (var child in a) pending.Push(child);
                    break;
            }
        }

        return count;
    }

    public JsonSchema Schema { get; }

    /// <summary>Builds a schema from its JSON document (draft-07, local <c>$ref</c>s only, patterns by <see cref="SchemaPatterns"/>).</summary>
    /// <exception cref="JsonSchemaException">when the document is not a usable schema.</exception>
    public static ModelSchema Create(JsonNode document)
    {
        // A registry per schema: two models may use the same $id for different schemas.
        // Draft-07 with patterns matched in linear time (SchemaPatterns): no input can make a validation run away.
        var options = new BuildOptions { Dialect = SchemaPatterns.Draft07, SchemaRegistry = new SchemaRegistry() };
        var element = JsonSerializer.SerializeToElement(document);
        var schema = JsonSchema.Build(element, options, new Uri($"urn:inframind:schema:{Guid.NewGuid():N}"));
        return new ModelSchema(element, schema);
    }

    /// <summary>
    /// The most violations one validation lists. A document can break a schema in as many places as it holds values (a
    /// 1 MiB input with 90,000 properties that <c>additionalProperties: false</c> forbids): listing them all made the
    /// list, its de-duplication and the answer naming them grow with what a stranger sends (that input cost a gateway
    /// ~30 s of CPU and a 7 MB answer). The first hundred say what is wrong as well.
    /// </summary>
    public const int MaxViolations = 100;

    public SchemaViolations Validate(JsonElement instance) => Evaluate(Schema, instance);

    /// <summary>Valid or not, without the details: far cheaper, for hot paths that want details only on failure.</summary>
    public bool IsValid(JsonElement instance) => Schema.Evaluate(instance, Flag).IsValid;

    public SchemaViolations Validate(JsonNode? instance) =>
        Validate(JsonSerializer.SerializeToElement(instance));

    /// <summary>Checks a schema document against the draft-07 meta-schema.</summary>
    internal static SchemaViolations CheckAgainstDraft07(JsonNode document) =>
        Evaluate(MetaSchemas.Draft7, JsonSerializer.SerializeToElement(document));

    private static SchemaViolations Evaluate(JsonSchema schema, JsonElement instance)
    {
        var results = schema.Evaluate(instance, Hierarchical);
        if (results.IsValid) return SchemaViolations.None;
        var found = new Found();
        Collect(results, found);
        if (found.Listed.Count == 0) found.Listed.Add(new SchemaViolation("", "does not match the schema"));
        return new SchemaViolations(found.Listed, found.More);
    }

    private sealed class Found
    {
        public List<SchemaViolation> Listed { get; } = [];
        public HashSet<SchemaViolation> Seen { get; } = [];
        public bool More { get; set; }
    }

    // A `false` schema fails with no keyword and the library's "All values fail against the false schema ()", which
    // tells a client sending an extra property nothing: say which property, and which rule refuses it.
    internal const int MaxNameInMessage = 100;

    private static string FalseSchema(EvaluationResults node)
    {
        var rule = node.EvaluationPath.ToString();
        var pointer = node.InstanceLocation.ToString();
        var property = pointer[(pointer.LastIndexOf('/') + 1)..].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
        // The name is a client's: cut, as its pointer already carries it whole.
        return rule.EndsWith("/additionalProperties", StringComparison.Ordinal)
            ? $"property '{TerminalText.Cut(property, MaxNameInMessage)}' is not allowed (additionalProperties: false)"
            : "no value is allowed here (its schema is false)";
    }

    // Walks only failing nodes: a passing anyOf/oneOf keeps its failed branches to itself. Stops at the first
    // violation past MaxViolations: then there are more than are listed, and how many does not matter.
    private static void Collect(EvaluationResults node, Found found)
    {
        if (node.IsValid || found.More) return;
        var pointer = node.InstanceLocation.ToString();
        foreach (var (keyword, message) in node.Errors ?? new Dictionary<string, string>())
        {
            var v = new SchemaViolation(pointer, keyword.Length == 0 ? FalseSchema(node) : $"{message} ({keyword})");
            if (!found.Seen.Add(v)) continue;
            if (found.Listed.Count == MaxViolations)
            {
                found.More = true;
                return;
            }

            found.Listed.Add(v);
        }

        foreach (var child in node.Details ?? [])
        {
            Collect(child, found);
            if (found.More) return;
        }
    }
}

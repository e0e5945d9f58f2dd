using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace InfraMind.Manifest;

/// <summary>One way an instance fails a schema: where (JSON Pointer into the instance) and why.</summary>
public sealed record SchemaViolation(string Pointer, string Message)
{
    public override string ToString() => $"{(Pointer.Length == 0 ? "/" : Pointer)}: {Message}";
}

/// <summary>A draft-07 JSON Schema of a model's input or output, ready to validate documents.</summary>
public sealed class ModelSchema
{
    private static readonly EvaluationOptions Hierarchical = new() { OutputFormat = OutputFormat.Hierarchical };
    private static readonly EvaluationOptions Flag = new() { OutputFormat = OutputFormat.Flag };

    private ModelSchema(JsonNode document, JsonSchema schema)
    {
        Document = document;
        Schema = schema;
    }

    public JsonNode Document { get; }

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
        return new ModelSchema(document.DeepClone(), schema);
    }

    public IReadOnlyList<SchemaViolation> Validate(JsonElement instance) => Evaluate(Schema, instance);

    /// <summary>Valid or not, without the details: far cheaper, for hot paths that want details only on failure.</summary>
    public bool IsValid(JsonElement instance) => Schema.Evaluate(instance, Flag).IsValid;

    public IReadOnlyList<SchemaViolation> Validate(JsonNode? instance) =>
        Validate(JsonSerializer.SerializeToElement(instance));

    /// <summary>Checks a schema document against the draft-07 meta-schema.</summary>
    internal static IReadOnlyList<SchemaViolation> CheckAgainstDraft07(JsonNode document) =>
        Evaluate(MetaSchemas.Draft7, JsonSerializer.SerializeToElement(document));

    private static List<SchemaViolation> Evaluate(JsonSchema schema, JsonElement instance)
    {
        var results = schema.Evaluate(instance, Hierarchical);
        var violations = new List<SchemaViolation>();
        if (results.IsValid) return violations;
        Collect(results, violations);
        if (violations.Count == 0) violations.Add(new SchemaViolation("", "does not match the schema"));
        return violations;
    }

    // Walks only failing nodes: a passing anyOf/oneOf keeps its failed branches to itself.
    private static void Collect(EvaluationResults node, List<SchemaViolation> violations)
    {
        if (node.IsValid) return;
        var pointer = node.InstanceLocation.ToString();
        foreach (var (keyword, message) in node.Errors ?? new Dictionary<string, string>())
        {
            var v = new SchemaViolation(pointer, $"{message} ({keyword})");
            if (!violations.Contains(v)) violations.Add(v);
        }

        foreach (var child in node.Details ?? []) Collect(child, violations);
    }
}

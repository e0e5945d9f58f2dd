using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Manifest.Tests;

/// <summary>What a validation lists: each violation once, at most ModelSchema.MaxViolations, and whether there were more.</summary>
public sealed class SchemaViolationTests
{
    private static readonly ModelSchema Closed = ModelSchema.Create(JsonNode.Parse("""
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}
        """)!);

    private static JsonElement WithExtraKeys(int count)
    {
        var document = new JsonObject { ["text"] = "hi" };
        for (var i = 0; i < count; i++) document[i.ToString("x", System.Globalization.CultureInfo.InvariantCulture)] = 0;
        return JsonSerializer.SerializeToElement(document);
    }

    [Fact]
    public void A_document_breaking_the_schema_in_thousands_of_places_lists_the_first_hundred_and_says_there_are_more()
    {
        // 20,000 properties additionalProperties forbids: listing and de-duplicating them all was quadratic (a 1 MiB
        // input with 93,000 cost a gateway ~30 s of CPU and a 7 MB answer).
        var violations = Closed.Validate(WithExtraKeys(20_000));
        Assert.Equal(ModelSchema.MaxViolations, violations.Count);
        Assert.True(violations.More);
        Assert.Equal($"more than {ModelSchema.MaxViolations} errors, the first {ModelSchema.MaxViolations} listed", violations.Summary);
        Assert.Equal(violations.Count, violations.Distinct().Count());
    }

    [Fact]
    public void A_schemas_document_is_the_one_it_was_built_from_and_each_read_is_the_readers_own()
    {
        var given = JsonNode.Parse("""{"type": "object", "properties": {"text": {"type": "string", "description": "déjà \"vu\""}}, "required": ["text"]}""")!;
        var schema = ModelSchema.Create(given);
        given["required"] = new JsonArray();

        var read = schema.Document;
        Assert.NotSame(read, schema.Document);
        read["required"]!.AsArray().Clear();
        read["properties"]!["text"]!["type"] = "number";

        // Neither the caller's tree nor a reader's changes reach the schema: what it validates, or what the next read says.
        Assert.False(schema.IsValid(JsonSerializer.SerializeToElement(new { other = 1 })));
        Assert.Equal("""{"type":"object","properties":{"text":{"type":"string","description":"déjà \"vu\""}},"required":["text"]}""",
            TextOf(schema.Document));
    }

    /// <summary>The node's JSON text, non-ASCII as it is (the default escapes it), so the expectation reads as written.</summary>
    private static string TextOf(JsonNode node) => node.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    [Fact]
    public void An_extra_property_is_named_with_the_rule_that_refuses_it()
    {
        // Was "All values fail against the false schema ()": the library's words for a `false` schema, no keyword.
        var violation = Assert.Single(Closed.Validate(JsonSerializer.SerializeToElement(new { text = "hi", txt = "x" })));
        Assert.Equal("/txt", violation.Pointer);
        Assert.Equal("property 'txt' is not allowed (additionalProperties: false)", violation.Message);

        // A client's long name is cut in the message (its pointer has it whole): the answer does not carry it twice.
        var name = new string('n', 100_000);
        var longOne = Assert.Single(Closed.Validate(JsonSerializer.SerializeToElement(new Dictionary<string, string> { ["text"] = "hi", [name] = "x" })));
        Assert.Equal("/" + name, longOne.Pointer);
        Assert.True(longOne.Message.Length < ModelSchema.MaxNameInMessage + 60, $"{longOne.Message.Length} characters");
        Assert.StartsWith("property 'nnnn", longOne.Message, StringComparison.Ordinal);

        var noItems = ModelSchema.Create(JsonNode.Parse("""{"type": "object", "properties": {"tags": {"type": "array", "items": false}}}""")!);
        var item = Assert.Single(noItems.Validate(JsonSerializer.SerializeToElement(new { tags = new[] { "a" } })));
        Assert.Equal("/tags/0", item.Pointer);
        Assert.Equal("no value is allowed here (its schema is false)", item.Message);
    }

    [Fact]
    public void A_document_with_a_few_violations_lists_each_once_and_no_more()
    {
        var violations = Closed.Validate(WithExtraKeys(3));
        Assert.False(violations.More);
        Assert.Equal("3 error(s)", violations.Summary);
        Assert.Equal(violations.Count, violations.Distinct().Count());
        Assert.Equal(["/0", "/1", "/2"], violations.Select(v => v.Pointer).Order(StringComparer.Ordinal));

        // Exactly the limit: all listed, none left out.
        var limit = Closed.Validate(WithExtraKeys(ModelSchema.MaxViolations));
        Assert.Equal(ModelSchema.MaxViolations, limit.Count);
        Assert.False(limit.More);

        var valid = Closed.Validate(JsonSerializer.SerializeToElement(new { text = "hi" }));
        Assert.Empty(valid);
        Assert.False(valid.More);
    }
}

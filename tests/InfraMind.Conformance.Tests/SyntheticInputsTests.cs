using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CsCheck;
using InfraMind.Manifest;

namespace InfraMind.Conformance.Tests;

public sealed class SyntheticInputsTests
{
    private const string Rich = """
        {
          "type": "object",
          "definitions": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}
          },
          "properties": {
            "species": {"type": "string", "enum": ["setosa", "versicolor", "virginica"]},
            "length": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 10},
            "count": {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 5},
            "tags": {"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 8}, "minItems": 1, "maxItems": 4, "uniqueItems": true},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
            "email": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "ip": {"type": "string", "format": "ipv4"},
            "origin": {"$ref": "#/definitions/point"},
            "shape": {"oneOf": [{"type": "string", "const": "circle"}, {"type": "integer", "minimum": 3}]},
            "meta": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "boolean"}}}]},
            "kind": {"type": "string", "const": "v1"},
            "note": {"type": "string", "maxLength": 5, "default": "hi"}
          },
          "required": ["species", "length", "origin", "kind"],
          "additionalProperties": false
        }
        """;

    private static ModelSchema Schema(string json) => ModelSchema.Create(JsonNode.Parse(json)!);

    /// <summary>
    /// Property names that spell keywords (default, enum, $ref, properties …) are names: every valid case holds each
    /// required one with a value of its schema, and leaving one out is a negative case.
    /// </summary>
    [Fact]
    public void Properties_named_like_keywords_are_built_as_properties()
    {
        string[] keywords = ["$schema", "$id", "$ref", "$comment", "title", "description", "default", "readOnly", "writeOnly", "examples", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "additionalItems", "items", "maxItems", "minItems", "uniqueItems", "contains", "maxProperties", "minProperties", "required", "additionalProperties", "definitions", "properties", "patternProperties", "dependencies", "propertyNames", "const", "enum", "type", "format", "contentMediaType", "contentEncoding", "if", "then", "else", "allOf", "anyOf", "oneOf", "not"];
        var properties = new JsonObject();
        foreach (var k in keywords) properties[k] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(k + "-value") };
        var schema = Schema(new JsonObject
        {
            ["type"] = "object", ["properties"] = properties, ["required"] = new JsonArray([.. keywords.Select(k => JsonValue.Create(k))]),
            ["additionalProperties"] = false,
        }.ToJsonString());
        var cases = new SyntheticInputs(schema, seed: 3).Generate(10);
        var positives = cases.Where(c => c.Positive).ToList();
        Assert.NotEmpty(positives);
        foreach (var c in positives)
        {
            var body = JsonNode.Parse(c.Body)!.AsObject();
            Assert.Empty(schema.Validate(body));
            Assert.All(keywords, k => Assert.Equal(k + "-value", (string?)body[k]));
        }

        var missing = Assert.Single(cases, c => c.Name.StartsWith("missing-required-", StringComparison.Ordinal));
        Assert.False(JsonNode.Parse(missing.Body)!.AsObject().ContainsKey(missing.Name["missing-required-".Length..]));
        Assert.NotEmpty(schema.Validate(JsonNode.Parse(missing.Body)));
    }

    [Fact]
    public void Every_positive_case_matches_the_schema_and_every_negative_case_does_not()
    {
        var schema = Schema(Rich);
        var cases = new SyntheticInputs(schema, seed: 1).Generate(20);
        var positives = cases.Where(c => c.Positive).ToList();
        Assert.Equal(20, positives.Count);
        Assert.All(positives, c => Assert.Empty(schema.Validate(JsonNode.Parse(c.Body))));
        var negatives = cases.Where(c => !c.Positive).Select(c => c.Name).ToList();
        Assert.Contains("not-json", negatives);
        Assert.Contains("missing-required-species", negatives);
        Assert.Contains(negatives, n => n.StartsWith("wrong-type-", StringComparison.Ordinal));
        Assert.Contains("extra-property", negatives);
        foreach (var c in cases.Where(c => !c.Positive && c.Name != "not-json"))
            Assert.NotEmpty(schema.Validate(JsonNode.Parse(c.Body)));
    }

    /// <summary>
    /// A publisher's schema sizes the inputs every node builds for the version's pre-flight: minimums far beyond what a
    /// request may carry, and nested minimums that multiply, build nothing large — no valid case, at once, no exception —
    /// while the schema's own example still counts.
    /// </summary>
    [Theory]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "string", "minLength": 1000000000}}, "required": ["a"]}""")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "string", "minLength": 1e300}}, "required": ["a"]}""")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": 1000000000}}, "required": ["a"]}""")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": 200, "items": {"type": "array", "minItems": 200, "items": {"type": "array", "minItems": 200, "items": {"type": "string", "minLength": 1000}}}}}, "required": ["a"]}""")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "array", "minItems": 100, "items": {"type": "string", "minLength": 60000}}}, "required": ["a"]}""")]
    [InlineData("""{"type": "object", "properties": {"a": {"type": "string", "minLength": 5000, "maxLength": 6000}, "n": {"type": "integer", "minimum": 10, "maximum": 5}}, "required": ["a", "n"]}""")]
    public void A_schema_whose_smallest_input_is_huge_builds_no_valid_case_and_nothing_large(string json)
    {
        var schema = Schema(json);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var cases = new SyntheticInputs(schema, seed: 1).Generate(20);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.DoesNotContain(cases, c => c.Positive);
        Assert.All(cases, c => Assert.True(c.Body.Length <= SyntheticInputs.MaxChars + (1 << 20), $"{c.Name}: {c.Body.Length} characters"));
        // Bounded by the per-case budget (20,000 values, 512 Ki characters) times the cases tried, not by the schema's numbers.
        Assert.True(allocated < 2L << 30, $"{allocated:N0} bytes allocated");
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"took {clock.Elapsed}");

        // The schema's own valid example is still a case.
        var withExample = JsonNode.Parse(json)!.AsObject();
        withExample["examples"] = new JsonArray(JsonNode.Parse("""{"a": "x"}"""));
        withExample["properties"]!["a"] = JsonNode.Parse("""{"type": "string"}""");
        withExample["required"] = new JsonArray("a");
        var example = new SyntheticInputs(Schema(withExample.ToJsonString()), seed: 1).Generate(5, includeNegative: false);
        Assert.Contains(example, c => c.Name == "example" && c.Positive);
    }

    [Fact]
    public void Minimums_within_the_limits_still_build_valid_cases()
    {
        var schema = Schema("""{"type": "object", "properties": {"a": {"type": "string", "minLength": 60000}, "b": {"type": "array", "minItems": 200, "items": {"type": "integer"}}}, "required": ["a", "b"]}""");
        var positives = new SyntheticInputs(schema, seed: 1).Generate(5, includeNegative: false);
        Assert.NotEmpty(positives);
        Assert.All(positives, c => Assert.Empty(schema.Validate(JsonNode.Parse(c.Body))));
        Assert.Contains(positives, c => JsonNode.Parse(c.Body)!["a"]!.GetValue<string>().Length == 60000);
    }

    [Fact]
    public void Named_cases_cover_required_only_all_properties_and_boundaries()
    {
        var cases = new SyntheticInputs(Schema(Rich), seed: 1).Generate(10, includeNegative: false).ToDictionary(c => c.Name, c => JsonNode.Parse(c.Body) as JsonObject);
        var requiredOnly = cases["required-only"]!;
        Assert.Equal(["kind", "length", "origin", "species"], requiredOnly.Select(p => p.Key).Order().ToArray());
        var all = cases["all-properties"]!;
        Assert.Equal(14, all.Count);
        Assert.Equal("hi", all["note"]!.GetValue<string>());
        Assert.Matches(@"^[A-Z]{3}-\d{4}$", all["code"]!.GetValue<string>());
        Assert.True(Guid.TryParse(all["id"]!.GetValue<string>(), out _));
        var min = cases["boundary-min"]!;
        Assert.Equal(0.5, min["length"]!.GetValue<double>());
        Assert.Equal("setosa", min["species"]!.GetValue<string>());
        var max = cases["boundary-max"]!;
        Assert.True(max["length"]!.GetValue<double>() < 10);
        Assert.Equal("virginica", max["species"]!.GetValue<string>());
    }

    [Fact]
    public void Same_seed_gives_the_same_cases_and_another_seed_differs()
    {
        var a = new SyntheticInputs(Schema(Rich), 42).Generate(15).Select(c => c.Body).ToArray();
        var b = new SyntheticInputs(Schema(Rich), 42).Generate(15).Select(c => c.Body).ToArray();
        var c = new SyntheticInputs(Schema(Rich), 43).Generate(15).Select(c => c.Body).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Spec_schema_gives_text_inputs()
    {
        var schema = Schema("""{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}""");
        var cases = new SyntheticInputs(schema, 1).Generate(5);
        Assert.Equal(5, cases.Count(c => c.Positive));
        Assert.Contains(cases, c => c.Name == "wrong-type-text");
        Assert.DoesNotContain(cases, c => c.Name == "extra-property");
    }

    [Fact]
    public void Examples_are_used_first()
    {
        var schema = Schema("""{"type": "object", "properties": {"q": {"type": "string"}}, "examples": [{"q": "what is InfraMind?"}]}""");
        var first = new SyntheticInputs(schema, 1).Generate(3)[0];
        Assert.Equal("example", first.Name);
        Assert.Equal("""{"q":"what is InfraMind?"}""", first.Body);
    }

    [Theory]
    [InlineData(@"^[a-z]+$")]
    [InlineData(@"^\d{3}-\d{2}$")]
    [InlineData(@"^(cat|dog)s?$")]
    [InlineData(@"^[A-Z][a-z]{2,5}( [A-Z][a-z]+)*$")]
    [InlineData(@"^v[0-9]+\.[0-9]+$")]
    [InlineData(@"^[^\s@]+@[^\s@]+$")]
    [InlineData(@"^(?:ab|cd){2}[xyz]?$")]
    public void Pattern_samples_match_the_pattern(string pattern)
    {
        var random = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            var s = RegexSampler.Sample(pattern, random);
            Assert.NotNull(s);
            Assert.Matches(new Regex(pattern, RegexOptions.ECMAScript), s);
        }
    }

    /// <summary>For random object schemas built from common fragments, the generator always finds valid inputs.</summary>
    [Fact]
    public void Generator_is_productive_on_random_schemas()
    {
        string[] fragments =
        [
            """{"type": "string"}""", """{"type": "string", "minLength": 3, "maxLength": 3}""", """{"type": "integer", "minimum": -5, "maximum": 5}""",
            """{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}""", """{"type": "boolean"}""", """{"enum": ["a", "b", 3]}""",
            """{"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2, "uniqueItems": true}""",
            """{"type": "string", "format": "date"}""", """{"type": "string", "pattern": "^[a-f0-9]{8}$"}""", """{"type": ["string", "null"]}""",
            """{"type": "object", "properties": {"z": {"type": "integer", "multipleOf": 7, "minimum": 1}}, "required": ["z"]}""",
            """{"anyOf": [{"type": "string", "maxLength": 2}, {"type": "number"}]}""", """{"type": "number", "multipleOf": 0.25, "minimum": 1.1, "maximum": 2}""",
        ];
        Gen.Select(Gen.Int[0, fragments.Length - 1].Array[1, 6], Gen.Int[0, 1000]).Sample(t =>
        {
            var (picks, seed) = t;
            var props = new JsonObject();
            var required = new JsonArray();
            for (var i = 0; i < picks.Length; i++)
            {
                props[$"p{i}"] = JsonNode.Parse(fragments[picks[i]]);
                if (i % 2 == 0) required.Add($"p{i}");
            }

            var schema = ModelSchema.Create(new JsonObject { ["type"] = "object", ["properties"] = props, ["required"] = required });
            var cases = new SyntheticInputs(schema, seed).Generate(5);
            Assert.True(cases.Count(c => c.Positive) >= 2, string.Join("\n", cases.Select(c => c.Body)));
        }, iter: 300, threads: 1);
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// Schemas some input satisfies get a valid generated case: numbers far from zero, Unicode classes in a pattern, a
/// format together with a pattern. Every case is still checked against the schema before it is used.
/// </summary>
public sealed class SatisfiableSchemaTests
{
    private static ModelSchema Schema(string json) => ModelSchema.Create(JsonNode.Parse(json)!);

    private static string Field(string property) =>
        $$"""{"type": "object", "properties": {"a": {{property}}}, "required": ["a"], "additionalProperties": false}""";

    public static TheoryData<string> Numbers() =>
    [
        """{"type": "number", "minimum": 1e300}""",
        """{"type": "number", "exclusiveMinimum": 1e300}""",
        """{"type": "number", "maximum": -1e300}""",
        """{"type": "number", "exclusiveMaximum": -1e300}""",
        """{"type": "number", "minimum": 1e300, "maximum": 1e300}""",
        """{"type": "number", "minimum": 1e300, "multipleOf": 7}""",
        """{"type": "number", "exclusiveMinimum": 1e20, "multipleOf": 0.5}""",
        """{"type": "number", "minimum": 1e15, "multipleOf": 0.1}""",
        """{"type": "number", "minimum": 1.7976931348623157e308}""",
        """{"type": "number", "minimum": 5e-324, "maximum": 1e-323}""",
        """{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1e-300}""",
        """{"type": "integer", "minimum": 1e300}""",
        """{"type": "integer", "exclusiveMinimum": 1e300}""",
        """{"type": "integer", "maximum": -1e300}""",
        """{"type": "integer", "minimum": 9223372036854775807}""",
        """{"type": "integer", "minimum": 9223372036854775000, "maximum": 9223372036854775807}""",
        """{"type": "integer", "maximum": -9223372036854775808}""",
        """{"type": "integer", "minimum": 9223372036854775808}""",
        """{"type": "integer", "minimum": 1e19, "multipleOf": 3}""",
        """{"type": "integer", "minimum": 1e300, "multipleOf": 1000}""",
        """{"type": "integer", "minimum": 0.5, "maximum": 1.5}""",
        """{"type": "integer", "exclusiveMinimum": 4, "exclusiveMaximum": 6}""",
    ];

    public static TheoryData<string> Patterns() =>
    [
        """{"type": "string", "pattern": "^\\p{IsCJKUnifiedIdeographs}{5}$"}""",
        """{"type": "string", "pattern": "^\\p{L}+$"}""",
        """{"type": "string", "pattern": "^\\p{Lu}\\p{Ll}{2,4}$"}""",
        """{"type": "string", "pattern": "^\\p{IsGreek}{3}$"}""",
        """{"type": "string", "pattern": "^\\P{L}{4}$"}""",
        """{"type": "string", "pattern": "^[\\p{Lu}\\d]{6}$"}""",
        """{"type": "string", "pattern": "^[^\\p{L}\\s]{3}$"}""",
        """{"type": "string", "pattern": "^\\p{Nd}+-\\p{Sc}$"}""",
        """{"type": "string", "pattern": "^\\p{Zl}$"}""",
        """{"type": "string", "pattern": "^[\\p{IsCyrillic}-[\\p{Lu}]]{4}$"}""",
        """{"type": "string", "pattern": "^[\\u4e00-\\u9fff]{2}\\x41$"}""",
        """{"type": "string", "pattern": "^\\p{IsHiragana}+\\p{IsKatakana}?$", "maxLength": 4}""",
    ];

    public static TheoryData<string> Formats() =>
    [
        """{"type": "string", "format": "email", "pattern": "^[a-z]+@corp\\.example$"}""",
        """{"type": "string", "format": "email", "pattern": "^ops-[0-9]{3}@"}""",
        """{"type": "string", "format": "date-time", "pattern": "^2030-"}""",
        """{"type": "string", "format": "date", "pattern": "^19[0-9]{2}-12-[0-9]{2}$"}""",
        """{"type": "string", "format": "uri", "pattern": "^s3://[a-z]+/[a-z]+$"}""",
        """{"type": "string", "format": "uuid", "pattern": "^0000"}""",
        """{"type": "string", "format": "ipv4", "pattern": "^10\\."}""",
        """{"type": "string", "format": "hostname", "pattern": "\\.internal$"}""",
        """{"type": "string", "format": "time", "pattern": "^23:"}""",
        """{"type": "string", "format": "email", "maxLength": 12}""",
    ];

    [Theory]
    [MemberData(nameof(Numbers))]
    [MemberData(nameof(Patterns))]
    [MemberData(nameof(Formats))]
    public void A_satisfiable_property_gets_valid_cases(string property)
    {
        var schema = Schema(Field(property));
        var positives = new SyntheticInputs(schema, seed: 1).Generate(5, includeNegative: false);
        Assert.NotEmpty(positives);
        Assert.All(positives, c => Assert.Empty(schema.Validate(JsonNode.Parse(c.Body))));
    }

    [Theory]
    [MemberData(nameof(Numbers))]
    [MemberData(nameof(Patterns))]
    [MemberData(nameof(Formats))]
    public void A_satisfiable_property_gets_valid_cases_as_the_root_too(string property)
    {
        // A schema whose root is the value itself (not an object): cases are generated the same way.
        var schema = Schema(property);
        var positives = new SyntheticInputs(schema, seed: 7).Generate(3, includeNegative: false);
        Assert.NotEmpty(positives);
        Assert.All(positives, c => Assert.Empty(schema.Validate(JsonNode.Parse(c.Body))));
    }

    /// <summary>
    /// A stranger's schema is generated for on every node its version is placed on: hundreds of distinct Unicode
    /// classes, repeats at the engine's limits, numbers at the ends of the doubles. Generation stays within its
    /// bounds (classes resolved, sampling steps, characters per case) and its time, and what it builds is valid.
    /// </summary>
    [Fact]
    public void A_hostile_schema_still_generates_within_its_bounds()
    {
        var props = new JsonObject();
        for (var i = 0; i < 300; i++)
        {
            // Each a class of its own (more than RegexSampler.Context.MaxClasses in all), repeated a thousand times.
            props[$"s{i}"] = new JsonObject { ["type"] = "string", ["pattern"] = $"^[\\p{{L}}\\p{{Nd}}-[\\u{i + 0x4e00:x4}]]{{1000}}$" };
            props[$"n{i}"] = new JsonObject { ["type"] = i % 2 == 0 ? "number" : "integer", ["exclusiveMinimum"] = double.Parse($"1e{300 - i}", System.Globalization.CultureInfo.InvariantCulture), ["multipleOf"] = i + 1 };
        }

        props["many"] = JsonNode.Parse("""{"type": "array", "minItems": 256, "items": {"type": "string", "pattern": "^(\\p{L}|\\p{N}|\\p{IsGreek}){1000}$"}}""");
        props["groups"] = JsonNode.Parse("""{"type": "string", "pattern": "^((a|\\p{Lu}){30}(b|\\P{L}){30}){30}$"}""");
        var document = new JsonObject { ["type"] = "object", ["properties"] = props, ["required"] = new JsonArray("many", "groups") };
        Assert.True(ModelSchema.CountValues(document) <= ModelSchema.MaxValues);
        var schema = ModelSchema.Create(document);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var generator = new SyntheticInputs(schema, seed: 1);
        var cases = generator.Generate(20);
        var elapsed = clock.Elapsed;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"took {elapsed}");
        Assert.True(allocated < 4L << 30, $"{allocated:N0} bytes allocated");
        // MaxChars counts the strings' characters; the JSON text writes a non-ASCII one as \uXXXX, six.
        Assert.All(cases, c => Assert.True(c.Body.Length <= (SyntheticInputs.MaxChars * 6) + (1 << 20), $"{c.Name}: {c.Body.Length} characters"));
        Assert.All(cases.Where(c => c.Positive), c => Assert.Empty(schema.Validate(JsonNode.Parse(c.Body))));
        Assert.True(generator.Sampler.Classes <= RegexSampler.Context.MaxClasses);
        Assert.True(generator.Sampler.TotalSteps <= RegexSampler.Context.MaxTotalSteps + RegexSampler.Context.MaxSteps);
    }

    [Theory]
    [InlineData(@"^((x?){100}){100}$")]
    [InlineData(@"^(a{1000}){1000}$")]
    [InlineData(@"^((a|b){100}){100}$")]
    public void A_sample_stops_at_its_step_bound(string pattern)
    {
        var context = new RegexSampler.Context();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 1000 && !context.Spent; i++) _ = RegexSampler.Sample(pattern, new Random(i), context);
        Assert.True(context.Spent, $"{context.TotalSteps} steps");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.True(context.TotalSteps <= RegexSampler.Context.MaxTotalSteps + RegexSampler.Context.MaxSteps, $"{context.TotalSteps} steps");

        // Spent: even a trivial pattern gets no sample from this generator any more.
        Assert.Null(RegexSampler.Sample("^a$", new Random(1), context));
    }

    [Theory]
    [InlineData(@"^\p{Lu}{3}$", @"\p{Lu}")]
    [InlineData(@"^\P{L}{3}$", @"\P{L}")]
    [InlineData(@"^\p{IsCJKUnifiedIdeographs}{5}$", @"\p{IsCJKUnifiedIdeographs}")]
    [InlineData(@"^[\p{Lu}\d]{6}$", @"[\p{Lu}\d]")]
    [InlineData(@"^[^\p{L}\s]{3}$", @"[^\p{L}\s]")]
    [InlineData(@"^[\p{IsCyrillic}-[\p{Lu}]]{4}$", @"[\p{IsCyrillic}-[\p{Lu}]]")]
    [InlineData(@"^[]a]{4}$", @"[]a]")]
    [InlineData(@"^[一-鿿]{2}A$", @"[一-鿿]")]
    public void A_class_samples_only_its_own_characters(string pattern, string cls)
    {
        var member = new System.Text.RegularExpressions.Regex(@"\A" + cls + @"\z");
        var random = new Random(5);
        for (var i = 0; i < 30; i++)
        {
            var sample = RegexSampler.Sample(pattern, random);
            Assert.NotNull(sample);
            Assert.Matches(SchemaPatterns.Create(pattern), sample);
            Assert.Contains(sample, c => member.IsMatch(c.ToString()));
        }
    }

    [Theory]
    [InlineData("""{"type": "string", "format": "email", "pattern": "^[a-z]+@corp\\.example$"}""", "email")]
    [InlineData("""{"type": "string", "format": "date-time", "pattern": "^2030-"}""", "date-time")]
    [InlineData("""{"type": "string", "format": "uuid", "pattern": "^0000"}""", "uuid")]
    [InlineData("""{"type": "string", "format": "hostname", "pattern": "\\.internal$"}""", "hostname")]
    [InlineData("""{"type": "string", "format": "ipv4", "pattern": "^10\\."}""", "ipv4")]
    public void A_format_with_a_pattern_gets_a_value_that_reads_as_the_format(string property, string format)
    {
        var schema = Schema(Field(property));
        var positives = new SyntheticInputs(schema, seed: 1).Generate(5, includeNegative: false);
        Assert.NotEmpty(positives);
        Assert.All(positives, c => Assert.True(SyntheticInputs.ReadsAs(format, JsonNode.Parse(c.Body)!["a"]!.GetValue<string>()), c.Body));
    }

    public static TheoryData<string, string> Unbuildable() => new()
    {
        { Field("""{"type": "string", "pattern": "^\\bfoo\\b$"}"""), "pattern at /properties/a" },
        { Field("""{"type": "string", "minLength": 1000000000}"""), "minLength at /properties/a (over 65,536 characters)" },
        { Field("""{"type": "array", "minItems": 100000}"""), "minItems at /properties/a (over 256 items)" },
        { Field("""{"type": "integer", "minimum": 1.25, "maximum": 1.75}"""), " at /properties/a" },
        { Field("""{"$ref": "#/definitions/code"}""").Replace("\"additionalProperties\"", "\"definitions\": {\"code\": {\"type\": \"string\", \"pattern\": \"^\\\\bx$\"}}, \"additionalProperties\"", StringComparison.Ordinal), "pattern at /definitions/code" },
        { Field("""{"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^\\Bq$"}}"""), "pattern at /properties/a/items" },
        { Field("""{"type": "string", "not": {"type": "string"}}"""), "not at /properties/a" },
        { Field("""{"type": "string"}""").Replace("\"additionalProperties\": false", "\"minProperties\": 3, \"maxProperties\": 1", StringComparison.Ordinal), "(the input's /)" },
        { """{"type": "string", "pattern": "^x\\b-$"}""", "pattern at the root" },
    };

    [Theory]
    [MemberData(nameof(Unbuildable))]
    public void What_the_generator_could_not_satisfy_is_named(string json, string named)
    {
        var generator = new SyntheticInputs(Schema(json), seed: 1);
        Assert.DoesNotContain(generator.Generate(5), c => c.Positive);
        Assert.True(generator.Unsatisfied.Any(u => u.Contains(named, StringComparison.Ordinal)), string.Join(" | ", generator.Unsatisfied));
    }

    [Fact]
    public void The_verdict_says_no_input_was_built_not_that_none_exists()
    {
        var generator = new SyntheticInputs(Schema(Field("""{"type": "string", "pattern": "^x\\by$"}""")), seed: 1);
        Assert.DoesNotContain(generator.Generate(5), c => c.Positive);
        var text = ConformanceRunner.NoValidInput(generator.Unsatisfied);
        Assert.Contains("InfraMind could not build a valid input from input_schema within its bounds", text, StringComparison.Ordinal);
        Assert.Contains("it could not satisfy: pattern at /properties/a,", text, StringComparison.Ordinal);
        Assert.Contains("add one valid input to input_schema's `examples`", text, StringComparison.Ordinal);
        Assert.Contains("may still admit inputs", text, StringComparison.Ordinal);
        Assert.DoesNotContain("admits no input", text, StringComparison.Ordinal);

        // A publisher's property name in the text is escaped and cut: it cannot forge lines or grow the message.
        var name = "a\u001b[2J" + new string('n', 5000);
        var document = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { [name] = JsonNode.Parse("""{"type": "string", "pattern": "^x\\by$"}""") },
            ["required"] = new JsonArray(name),
        };
        var hostile = new SyntheticInputs(ModelSchema.Create(document), seed: 1);
        Assert.DoesNotContain(hostile.Generate(3), c => c.Positive);
        var named = Assert.Single(hostile.Unsatisfied);
        Assert.DoesNotContain('\u001b', named);
        Assert.True(named.Length < 300, named);
    }
}

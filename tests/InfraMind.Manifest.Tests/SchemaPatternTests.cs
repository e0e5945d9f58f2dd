using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Manifest.Tests;

/// <summary>Schema patterns are matched in linear time; what cannot be is refused, wherever a schema is built.</summary>
public sealed class SchemaPatternTests
{
    [Theory]
    [InlineData(@"^(a+)+$")]
    [InlineData(@"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$")]
    [InlineData(@"^\p{L}+$")]
    [InlineData(@"^(?:ab|cd){2}[xyz]?$")]
    public void Accepted_patterns_compile_to_the_linear_engine(string pattern)
    {
        Assert.Null(SchemaPatterns.Problem(pattern));
        Assert.True(SchemaPatterns.Create(pattern).Options.HasFlag(System.Text.RegularExpressions.RegexOptions.NonBacktracking));
    }

    [Theory]
    [InlineData(@"(a)\1", "linear time")]
    [InlineData(@"(?=a)a", "linear time")]
    [InlineData(@"(?<!a)b", "linear time")]
    [InlineData(@"(?>a+)b", "linear time")]
    [InlineData(@"x{0,65535}", "linear time")]
    [InlineData(@"[a-", "not a regular expression")]
    public void Refused_patterns_say_why(string pattern, string why)
    {
        Assert.Contains(why, SchemaPatterns.Problem(pattern), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SchemaPatterns.Create(pattern));
    }

    [Fact]
    public void A_pattern_longer_than_the_limit_is_refused() =>
        Assert.Contains("at most", SchemaPatterns.Problem(new string('a', SchemaPatterns.MaxLength + 1)), StringComparison.Ordinal);

    [Fact]
    public void A_schema_built_directly_matches_patterns_and_pattern_properties_in_linear_time()
    {
        var schema = ModelSchema.Create(JsonNode.Parse("""
            {"type": "object", "properties": {"t": {"type": "string", "pattern": "^(a+)+$"}},
             "patternProperties": {"^(b+)+$": {"type": "integer"}}, "additionalProperties": false}
            """)!);
        // 100,000 characters: a backtracking engine would not finish this in the life of the machine.
        var evil = new string('a', 100_000) + "!";
        Assert.False(schema.IsValid(JsonDocument.Parse($$"""{"t": "{{evil}}"}""").RootElement));
        Assert.False(schema.IsValid(JsonDocument.Parse($$"""{"t": "a", "{{new string('b', 100_000)}}!": 1}""").RootElement));
        Assert.True(schema.IsValid(JsonDocument.Parse("""{"t": "aaa", "bbb": 1}""").RootElement));
        Assert.False(schema.IsValid(JsonDocument.Parse("""{"t": "aaa", "bbb": "x"}""").RootElement));
        Assert.False(schema.IsValid(JsonDocument.Parse("""{"t": "aaa", "c": 1}""").RootElement));
    }

    [Theory]
    [InlineData("""{"type": "object", "properties": {"t": {"type": "string", "pattern": "(a)\\1"}}}""")]
    [InlineData("""{"type": "object", "patternProperties": {"(b)\\1": {"type": "integer"}}}""")]
    public void A_schema_built_directly_with_a_backreference_is_refused(string schema)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelSchema.Create(JsonNode.Parse(schema)!));
        Assert.Contains("linear time", e.Message, StringComparison.Ordinal);
    }
}

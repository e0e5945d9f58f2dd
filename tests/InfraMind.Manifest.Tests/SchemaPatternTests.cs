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

    /// <summary>
    /// IM1045 speaks the publisher's language: the construct, where it is (the character, counted from 1), and what to
    /// write instead; never the matcher's own message, type or option names.
    /// </summary>
    [Theory]
    [InlineData(@"ab*+", "two repeats in a row, as in a*+ at character 4 ('+')", "group the first, (a*)+, or drop one")]
    [InlineData(@"*abc", "a repeat (*, +, ? or {n}) with nothing before it", "at character 1 ('*')")]
    [InlineData(@"[z-a]", "a range [x-y] whose x comes after its y at character 4 ('a')", "write the range from its lower character")]
    [InlineData(@"a{2,1}", "a repeat {x,y} whose x is larger than its y", "at character 6")]
    [InlineData(@"^[a-z", "a [ that is never closed by ]", "at character")]
    [InlineData(@"^(ab", "a ( that is never closed by )", "at character")]
    [InlineData(@"ab)", "a ) with no ( before it", "at character 3")]
    [InlineData(@"\p{NoSuchThing}", "an unknown Unicode category or block", "at character")]
    [InlineData(@"abc\", @"a \ at the end of the pattern", @"write \\ to match a backslash")]
    [InlineData(@"^(a)\1$", @"a backreference '\1' at character 5", "list what the part may be instead")]
    [InlineData(@"^(?<x>a)\k<x>$", @"a backreference '\k' at character 9", "list what the part may be instead")]
    [InlineData(@"^(?=.*\d)[a-z0-9]+$", "a lookahead '(?=' at character 2", "allOf: [{pattern: A}, {pattern: B}]")]
    [InlineData(@"^(?!x)\w+$", "a lookahead '(?!' at character 2", "not: {pattern: B}")]
    [InlineData(@"[(?=]x(?<!a)b", "a lookbehind '(?<!' at character 7", "allOf")]
    [InlineData(@"(?>a+)b", "an atomic group '(?>' at character 1", "write a plain group (?:...)")]
    [InlineData(@"(?(a)b|c)", "a conditional '(?(' at character 1", "if/then/else")]
    [InlineData(@"(?<a>x)(?<b-a>y)", "a balancing group '(?<a-b>' at character 8", "check it in the model itself")]
    [InlineData(@"\Gabc", @"the anchor '\G' at character 1", "write ^")]
    [InlineData(@"^[a-z]{0,65535}$", "its repeat {0,65535} at character 7 would make the matcher larger than InfraMind allows (at most 10,000 states)", "minLength/maxLength")]
    public void A_refused_pattern_is_explained_in_the_publishers_terms(string pattern, string what, string how)
    {
        var problem = SchemaPatterns.Problem(pattern);
        Assert.NotNull(problem);
        Assert.Contains(what, problem, StringComparison.Ordinal);
        Assert.Contains(how, problem, StringComparison.Ordinal);
        foreach (var dotnet in new[] { "RegexOptions", "NonBacktracking", "Invalid pattern", "offset", "automata", ".NET", "Exception", "conjunction" })
            Assert.DoesNotContain(dotnet, problem, StringComparison.OrdinalIgnoreCase);
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
    [Theory]
    [InlineData(@"^[a-z]+$", 1)]
    [InlineData(@"^\d{3}-\d{4}$", 2)]
    [InlineData(@"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$", 5)]
    [InlineData("(一二三|四五六){1,3}", 6)]
    [InlineData(@"\u4E00\u4E01\u4E00", 2)]
    [InlineData(@"\p{L}\p{Lu}x{2,5}[a-z][a-z]", 4)]
    [InlineData(@"a{b}", 4)]
    public void Distinct_characters_and_classes_are_counted_from_the_patterns_text(string pattern, int distinct) =>
        Assert.Equal(distinct, SchemaPatterns.Distinct(pattern));

    /// <summary>
    /// Found by an audit: 181 alternatives of three distinct CJK characters (a 730-character pattern, under the length
    /// bound and linear) took 1–3 s to compile and kept ~178 MB, at the registry and at every gateway and node. Refused
    /// now before anything is compiled; 64 distinct characters (about 4 MB) pass.
    /// </summary>
    [Fact]
    public void A_pattern_naming_more_distinct_characters_than_the_bound_is_refused_before_it_is_compiled()
    {
        static string Words(int distinct) =>
            "(" + string.Join("|", Enumerable.Range(0, distinct / 3).Select(i => new string([(char)(0x4E00 + 3 * i), (char)(0x4E01 + 3 * i), (char)(0x4E02 + 3 * i)]))) + "){1,3}";

        var refused = SchemaPatterns.Problem(Words(543));
        Assert.Equal(@"the pattern names 543 distinct characters and character classes; at most 64 are accepted (what the linear-time matcher builds grows " +
                     @"with the square of their number): match a class or a range, such as [a-z] or \p{L}, instead of listing characters", refused);
        Assert.Null(SchemaPatterns.Problem(Words(63)));
        Assert.NotNull(SchemaPatterns.Problem(Words(66)));
    }
}

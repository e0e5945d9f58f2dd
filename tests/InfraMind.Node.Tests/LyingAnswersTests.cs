using System.Text;
using System.Text.Json.Nodes;

namespace InfraMind.Node.Tests;

/// <summary>The fault a lying node injects (NodeOptions.AlterAnswers): the shape kept, every string different.</summary>
public sealed class LyingAnswersTests
{
    [Fact]
    public void Every_string_is_reversed_and_the_shape_types_and_lengths_stay()
    {
        var honest = """{"summary": "Short text.", "scores": [1, 2.5, true, null], "nested": {"label": "abc", "n": 3}}"""u8.ToArray();
        var lie = JsonNode.Parse(LyingAnswers.Alter(honest))!;
        Assert.Equal(".txet trohS", (string?)lie["summary"]);
        Assert.Equal("cba", (string?)lie["nested"]!["label"]);
        Assert.Equal(3, (int)lie["nested"]!["n"]!);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("[1, 2.5, true, null]"), lie["scores"]));
        Assert.False(JsonNode.DeepEquals(JsonNode.Parse(honest), lie));
    }

    [Theory]
    [InlineData("""{"summary": "abba"}""")]
    [InlineData("""{"summary": ""}""")]
    public void A_palindrome_still_differs(string honest)
    {
        var lie = JsonNode.Parse(LyingAnswers.Alter(Encoding.UTF8.GetBytes(honest)))!;
        Assert.NotEqual((string?)JsonNode.Parse(honest)!["summary"], (string?)lie["summary"]);
    }

    [Fact]
    public void An_answer_that_is_not_json_is_left_as_it_is()
    {
        var bytes = "not json {"u8.ToArray();
        Assert.Same(bytes, LyingAnswers.Alter(bytes));
    }
}

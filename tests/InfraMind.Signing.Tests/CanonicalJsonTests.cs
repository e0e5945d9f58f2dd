using System.Text;
using System.Text.Json.Nodes;

namespace InfraMind.Signing.Tests;

public sealed class CanonicalJsonTests
{
    private static string Canon(string json) => Encoding.UTF8.GetString(CanonicalJson.Canonicalize(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Rfc8785_section_3_2_2_example()
    {
        const string input = """
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """;
        const string expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        Assert.Equal(expected, Canon(input));
    }

    /// <summary>Names and values that exercise escaping, UTF-16 ordering (a surrogate pair sorts before U+FB33) and prefixes.</summary>
    public static TheoryData<string[]> StringObjects() => new()
    {
        new[] { "b", "2", "a", "1" },
        new[] { "payloadType", "x", "payload", "y" },
        new[] { "\u20ac", "Euro", "\r", "\u0000\u001f\"\\/\b\f\n\t", "\ufb33", "\ud83d\ude00", "\ud83d\ude00", "\u0080", "", "" },
        new[] { "only", "\ud800 a lone surrogate" },
        Array.Empty<string>(),
    };

    [Theory]
    [MemberData(nameof(StringObjects))]
    public void An_object_of_strings_serializes_as_its_json_tree_does(string[] pairs)
    {
        var members = new KeyValuePair<string, string>[pairs.Length / 2];
        var tree = new JsonObject();
        for (var i = 0; i < members.Length; i++)
        {
            members[i] = new(pairs[2 * i], pairs[(2 * i) + 1]);
            tree[pairs[2 * i]] = pairs[(2 * i) + 1];
        }

        Assert.Equal(Encoding.UTF8.GetString(CanonicalJson.Serialize(tree)), Encoding.UTF8.GetString(CanonicalJson.SerializeStrings(members)));
    }

    [Fact]
    public void An_object_of_strings_refuses_a_name_twice()
    {
        var e = Assert.Throws<ArgumentException>(() => CanonicalJson.SerializeStrings(new("a", "1"), new("b", "2"), new("a", "3")));
        Assert.Contains("'a' appears twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rfc8785_section_3_2_3_sorting_by_utf16_code_units()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;
        var canon = Canon(input);
        var keys = JsonNode.Parse(canon)!.AsObject().Select(p => p.Key).ToArray();
        Assert.Equal(["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"], keys);
        Assert.StartsWith("{\"\\r\":\"Carriage Return\",\"1\":\"One\"", canon, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1.0, "1")]
    [InlineData(-1.0, "-1")]
    [InlineData(123456789.0, "123456789")]
    [InlineData(9007199254740991.0, "9007199254740991")]
    [InlineData(1e21, "1e+21")]
    [InlineData(1e20, "100000000000000000000")]
    [InlineData(0.000001, "0.000001")]
    [InlineData(0.0000001, "1e-7")]
    [InlineData(1.5e-7, "1.5e-7")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(295147905179352830000.0, "295147905179352830000")]
    [InlineData(-12.5, "-12.5")]
    public void Numbers_follow_ecmascript(double value, string expected) => Assert.Equal(expected, CanonicalJson.FormatNumber(value));

    // RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    [Theory]
    [InlineData("0000000000000000", "0")]
    [InlineData("8000000000000000", "0")]
    [InlineData("0000000000000001", "5e-324")]
    [InlineData("8000000000000001", "-5e-324")]
    [InlineData("7fefffffffffffff", "1.7976931348623157e+308")]
    [InlineData("ffefffffffffffff", "-1.7976931348623157e+308")]
    [InlineData("4340000000000000", "9007199254740992")]
    [InlineData("c340000000000000", "-9007199254740992")]
    [InlineData("4430000000000000", "295147905179352830000")]
    [InlineData("44b52d02c7e14af5", "9.999999999999997e+22")]
    [InlineData("44b52d02c7e14af6", "1e+23")]
    [InlineData("44b52d02c7e14af7", "1.0000000000000001e+23")]
    [InlineData("444b1ae4d6e2ef4e", "999999999999999700000")]
    [InlineData("444b1ae4d6e2ef4f", "999999999999999900000")]
    [InlineData("444b1ae4d6e2ef50", "1e+21")]
    [InlineData("3eb0c6f7a0b5ed8c", "9.999999999999997e-7")]
    [InlineData("3eb0c6f7a0b5ed8d", "0.000001")]
    [InlineData("41b3de4355555553", "333333333.3333332")]
    [InlineData("41b3de4355555554", "333333333.33333325")]
    [InlineData("41b3de4355555555", "333333333.3333333")]
    [InlineData("41b3de4355555556", "333333333.3333334")]
    [InlineData("41b3de4355555557", "333333333.33333343")]
    [InlineData("becbf647612f3696", "-0.0000033333333333333333")]
    [InlineData("43143ff3c1cb0959", "1424953923781206.2")]
    public void Rfc8785_appendix_b_numbers(string bits, string expected) =>
        Assert.Equal(expected, CanonicalJson.FormatNumber(BitConverter.Int64BitsToDouble(Convert.ToInt64(bits, 16))));

    [Fact]
    public void Edges_the_rfc_examples_leave_out()
    {
        // A value below 1 whose first digit follows the point at once (n = 0 in ES2015 7.1.12.1): no exponent.
        Assert.Equal("0.5", CanonicalJson.FormatNumber(0.5));
        Assert.Equal("-0.25", CanonicalJson.FormatNumber(-0.25));
        Assert.Equal("0.1", CanonicalJson.FormatNumber(0.1));
        // Control characters: the short escapes where JSON has one, \u00xx (lowercase) for the rest (RFC 8785 §3.2.2.2).
        Assert.Equal("\"\\b\\f\\t\\n\\r\\u0000\\u001f \"", CanonicalJson.SerializeToString(JsonValue.Create("\b\f\t\n\r\0\u001f ")));
        // A null held as a value node writes as the missing one does.
        var nullValue = JsonValue.Create(System.Text.Json.JsonDocument.Parse("null").RootElement);
        Assert.Equal("{\"a\":null,\"b\":null}", CanonicalJson.SerializeToString(new JsonObject { ["b"] = nullValue, ["a"] = null }));
        // NaN and the infinities have no JSON form (§3.2.2.3): refused, never written.
        foreach (var d in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            Assert.Throws<ArgumentException>(() => CanonicalJson.FormatNumber(d));
        }
    }

    [Fact]
    public void Formatting_does_not_change_the_canonical_bytes()
    {
        var a = Canon("{ \"b\" : [1, 2, {\"y\":1,\"x\":2}], \"a\": \"t\\u0065xt\" }");
        var b = Canon("{\"a\":\"text\",\"b\":[1.0,2e0,{\"x\":2,\"y\":1}]}");
        Assert.Equal("{\"a\":\"text\",\"b\":[1,2,{\"x\":2,\"y\":1}]}", a);
        Assert.Equal(a, b);
    }
}

using System.Text;
using InfraMind.Gateway.Inference;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The strict read of a client's input (<see cref="StrictJson"/>), in process: each rule's code, its words and the
/// place it names, and the canonical form a model gets. The gateway tests over sockets (BoundaryTests) hold the same
/// rules end to end; these pin each message whole, which they do not.
/// </summary>
public sealed class StrictJsonTests
{
    private static StrictBody Read(string text, int maxDepth = 64) => StrictJson.Read(Encoding.UTF8.GetBytes(text), maxDepth, "the body");

    private static void Refused(StrictBody read, ErrorCode code, string problem, string pointer)
    {
        Assert.Null(read.Document);
        Assert.Empty(read.Canonical);
        Assert.Equal((code.Value, problem, pointer), (read.Code?.Value, read.Problem, read.Pointer));
    }

    [Fact]
    public void A_valid_document_is_forwarded_in_the_gateways_own_form()
    {
        var read = Read("\uFEFF { \"text\" :\t\"\\u0061b\\/é\\n\" , \"n\": 1.50e0, \"a\": [ true, null, {} ] }  \r\n");
        Assert.Null(read.Code);
        Assert.Null(read.Problem);
        Assert.Equal("", read.Pointer);
        Assert.Equal("{\"text\":\"ab/é\\n\",\"n\":1.50e0,\"a\":[true,null,{}]}", Encoding.UTF8.GetString(read.Canonical));
        using var document = read.Document!;
        Assert.Equal("ab/é\n", document.RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public void Nesting_to_the_depth_limit_is_taken_and_one_level_more_is_not()
    {
        var read = Read("[[[1]]]", maxDepth: 3);
        Assert.Null(read.Code);
        Assert.Equal("[[[1]]]", Encoding.UTF8.GetString(read.Canonical));
        read.Document!.Dispose();

        var deeper = Read("[[[[1]]]]", maxDepth: 3);
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, deeper.Code?.Value);
        Assert.StartsWith("the body is not JSON: ", deeper.Problem, StringComparison.Ordinal);
        Assert.Contains("depth of 3", deeper.Problem, StringComparison.Ordinal);
        Assert.EndsWith("(line 1, byte 4)", deeper.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \t\r\n")]
    [InlineData("\uFEFF")]
    public void An_empty_body_is_said_to_be_empty(string text) =>
        Refused(Read(text), MeshErrorCodes.MalformedJson, "the body is empty: send the input as one JSON document", "");

    [Theory]
    [InlineData("{\"text\":\"a\",}", "the body is not JSON: The JSON object contains a trailing comma at the end which JSON does not allow (line 1, byte 13)")]
    [InlineData("\uFEFF{\"text\":\"a\",}", "the body is not JSON: The JSON object contains a trailing comma at the end which JSON does not allow (line 1, byte 16)")]
    [InlineData("{\"text\":\n \"a\" \"b\"}", "the body is not JSON: '\"' is invalid after a value. Expected either ',', '}', or ']' (line 2, byte 6)")]
    [InlineData("{\"text\": 1} // a comment", "the body is not JSON: '/' is invalid after a single JSON value. Expected end of data (line 1, byte 13)")]
    [InlineData("{\"text\": tru}", "the body is not JSON: 'tru}' is an invalid JSON literal. Expected the literal 'true' (line 1, byte 13)")]
    public void Malformed_json_is_said_in_the_gateways_words_and_placed_in_the_clients_bytes(string text, string problem)
    {
        var read = Read(text);
        Assert.Equal(MeshErrorCodes.MalformedJson.Value, read.Code?.Value);
        Assert.Equal(problem, read.Problem);
        Assert.Equal("", read.Pointer);
        Assert.Null(read.Document);
    }

    [Fact]
    public void A_bad_byte_is_placed_by_its_offset_in_the_clients_bytes_however_far_in()
    {
        // Far past the 1,024 characters the search converts at a time, after multi-byte characters, and after a mark.
        var before = "{\"text\":\"" + string.Concat(Enumerable.Repeat("é€a", 700));
        var bytes = Encoding.UTF8.GetBytes(before);
        byte[] body = [.. bytes, 0xC3, (byte)'"', (byte)'}'];
        Refused(StrictJson.Read(body, 64, "the json tensor"), MeshErrorCodes.BodyNotUtf8, $"the json tensor is not UTF-8: the byte at offset {bytes.Length} is not valid UTF-8", "");
        Refused(StrictJson.Read([0xEF, 0xBB, 0xBF, .. body], 64, "the body"), MeshErrorCodes.BodyNotUtf8, $"the body is not UTF-8: the byte at offset {bytes.Length + 3} is not valid UTF-8", "");
        Refused(StrictJson.Read([0xFF], 64, "the body"), MeshErrorCodes.BodyNotUtf8, "the body is not UTF-8: the byte at offset 0 is not valid UTF-8", "");
        // A character cut short by the end of the body: its first byte is the bad one.
        Refused(StrictJson.Read([(byte)'"', (byte)'a', 0xE2, 0x82], 64, "the body"), MeshErrorCodes.BodyNotUtf8, "the body is not UTF-8: the byte at offset 2 is not valid UTF-8", "");
        // An encoded surrogate (ED A0 80) is not UTF-8 either.
        Refused(StrictJson.Read([(byte)'"', 0xED, 0xA0, 0x80, (byte)'"'], 64, "the body"), MeshErrorCodes.BodyNotUtf8, "the body is not UTF-8: the byte at offset 1 is not valid UTF-8", "");
    }

    [Theory]
    [InlineData("{\"text\": \"a\", \"text\": \"b\"}", "the key 'text' appears twice in one object", "/text")]
    [InlineData("{\"text\": \"a\", \"\\u0074ext\": \"b\"}", "the key 'text' appears twice in one object", "/text")]
    [InlineData("{\"x\": {\"a/b~c\": 1, \"a\\/b~c\": 2}}", "the key 'a/b~c' appears twice in one object", "/x/a~1b~0c")]
    [InlineData("{\"x\": [0, {\"k\": 1}, {\"k\": 1, \"k\": 2}]}", "the key 'k' appears twice in one object", "/x/2/k")]
    public void A_key_twice_in_one_object_is_refused_where_it_is(string text, string problem, string pointer) =>
        Refused(Read(text), MeshErrorCodes.DuplicateKey, problem, pointer);

    [Fact]
    public void The_same_key_in_two_objects_is_no_duplicate()
    {
        var read = Read("{\"a\": {\"k\": 1}, \"b\": {\"k\": 1}, \"c\": [{\"k\": 1}, {\"k\": 2}]}");
        Assert.Null(read.Code);
        read.Document!.Dispose();
    }

    [Theory]
    [InlineData("{\"text\": \"\\ud800\"}", "a string is not Unicode text (an unpaired surrogate escape)", "/text")]
    [InlineData("{\"a\": [1, \"x\", \"\\udc00\"]}", "a string is not Unicode text (an unpaired surrogate escape)", "/a/2")]
    [InlineData("\"\\ud800x\"", "a string is not Unicode text (an unpaired surrogate escape)", "")]
    [InlineData("{\"o\": {\"\\ud800\": 1}}", "a key is not Unicode text (an unpaired surrogate escape)", "/o")]
    public void An_unpaired_surrogate_escape_is_refused_where_it_is(string text, string problem, string pointer) =>
        Refused(Read(text), MeshErrorCodes.BodyNotUtf8, problem, pointer);

    [Fact]
    public void A_surrogate_pair_escaped_is_text()
    {
        var read = Read("{\"t\": \"\\ud83d\\ude00\"}");
        Assert.Null(read.Code);
        // Written as the pair's escapes (the writer escapes what lies past the Basic Multilingual Plane): the same text.
        Assert.Equal("{\"t\":\"\\uD83D\\uDE00\"}", Encoding.UTF8.GetString(read.Canonical));
        Assert.Equal("😀", read.Document!.RootElement.GetProperty("t").GetString());
        read.Document!.Dispose();
    }
}

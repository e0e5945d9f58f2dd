using System.Text;
using System.Text.Json;

namespace InfraMind.Oci.Tests;

/// <summary>Descriptors a stranger writes (<see cref="Descriptor.Read"/>) and the canonical form we write.</summary>
public sealed class DescriptorTests
{
    private const string Sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private static Descriptor Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Descriptor.Read(doc.RootElement, "index.json/manifests/3");
    }

    [Fact]
    public void A_descriptor_reads_its_media_type_digest_size_and_string_annotations()
    {
        var d = Read($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":0,\"annotations\":{{\"b\":\"2\",\"a\":\"1\",\"n\":3}}}}");
        Assert.Equal("m", d.MediaType);
        Assert.Equal(Sha, d.Digest.Value);
        Assert.Equal(0, d.Size);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, d.Annotations);
        Assert.Equal(long.MaxValue, Read($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":{long.MaxValue}}}").Size);
        Assert.Null(Read($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":1,\"annotations\":[]}}").Annotations);
        Assert.Null(Read($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":1}}").Annotations);
    }

    [Theory]
    [InlineData("[]", "IM4011", "index.json/manifests/3 is not a JSON object")]
    [InlineData("{\"digest\":\"" + Sha + "\",\"size\":1}", "IM4011", "index.json/manifests/3/mediaType is missing or not a string.")]
    [InlineData("{\"mediaType\":1,\"digest\":\"" + Sha + "\",\"size\":1}", "IM4011", "index.json/manifests/3/mediaType is missing or not a string.")]
    [InlineData("{\"mediaType\":\"m\",\"size\":1}", "IM4011", "index.json/manifests/3/digest is missing or not a string.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":5,\"size\":1}", "IM4011", "index.json/manifests/3/digest is missing or not a string.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"" + Sha + "\"}", "IM4011", "index.json/manifests/3/size is missing or not a non-negative integer.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"" + Sha + "\",\"size\":\"1\"}", "IM4011", "index.json/manifests/3/size is missing or not a non-negative integer.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"" + Sha + "\",\"size\":-1}", "IM4011", "index.json/manifests/3/size is missing or not a non-negative integer.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"" + Sha + "\",\"size\":1.5}", "IM4011", "index.json/manifests/3/size is missing or not a non-negative integer.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"" + Sha + "\",\"size\":9223372036854775808}", "IM4011", "index.json/manifests/3/size is missing or not a non-negative integer.")]
    [InlineData("{\"mediaType\":\"m\",\"digest\":\"sha256:abc\",\"size\":1}", "IM4001", "index.json/manifests/3/digest: 'sha256:abc' has 3 hex digits")]
    public void A_descriptor_missing_a_field_or_with_a_wrong_one_is_refused_naming_where(string json, string code, string words)
    {
        var e = Assert.Throws<OciException>(() => Read(json));
        Assert.Equal(code, e.Code);
        Assert.StartsWith(words, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_descriptor_is_written_in_a_fixed_order_with_annotations_sorted_and_none_when_empty()
    {
        string Write(Descriptor d)
        {
            var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                d.WriteTo(w);
            }

            return Encoding.UTF8.GetString(ms.ToArray());
        }

        var digest = Digest.Parse(Sha);
        Assert.Equal($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":7,\"annotations\":{{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}}}",
            Write(new Descriptor("m", digest, 7, new Dictionary<string, string> { ["c"] = "3", ["a"] = "1", ["b"] = "2" })));
        Assert.Equal($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":7}}", Write(new Descriptor("m", digest, 7, new Dictionary<string, string>())));
        Assert.Equal($"{{\"mediaType\":\"m\",\"digest\":\"{Sha}\",\"size\":7}}", Write(new Descriptor("m", digest, 7)));
    }
}

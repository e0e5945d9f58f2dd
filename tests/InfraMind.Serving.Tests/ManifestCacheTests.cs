using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Serving.Tests;

public sealed class ManifestCacheTests
{
    [Fact]
    public void One_content_is_parsed_once_whatever_object_carries_it()
    {
        var cache = new ManifestCache();
        var json = Models.Echo().ToJson();
        var first = cache.Get(json);
        Assert.Equal(1, cache.Parses);
        // The same content as a node receives it: serialised, sent, parsed into a new object.
        var overTheWire = JsonSerializer.Deserialize<JsonObject>(JsonSerializer.Serialize(json, MeshJson.Options), MeshJson.Options)!;
        for (var i = 0; i < 10; i++) Assert.Same(first, cache.Get(overTheWire));
        Assert.Same(first, cache.Get(json));
        Assert.Equal(1, cache.Parses);
        Assert.Equal("echo", first.Manifest.Name);
        Assert.StartsWith("sha256:", first.ContentDigest, StringComparison.Ordinal);
    }

    [Fact]
    public void A_typed_manifest_is_published_without_parsing_and_its_json_finds_it()
    {
        var cache = new ManifestCache();
        var manifest = Models.Echo();
        var published = cache.Get(manifest);
        Assert.Same(manifest, published.Manifest);
        Assert.Same(published, cache.Get(manifest.ToJson()));
        Assert.Same(published, cache.Get(manifest));
        Assert.Equal(0, cache.Parses);
    }

    [Fact]
    public void Other_content_is_another_entry_even_under_the_same_manifest_digest()
    {
        var cache = new ManifestCache();
        var json = Models.Echo().ToJson();
        var a = cache.Get(json);
        // Same model.yaml digest claimed, another schema (as a $ref'd schema file would change it): not the cached one.
        var changed = (JsonObject)json.DeepClone();
        changed["output_schema"] = new JsonObject { ["type"] = "object" };
        var b = cache.Get(changed);
        Assert.NotSame(a, b);
        Assert.Equal(a.Manifest.ManifestDigest, b.Manifest.ManifestDigest);
        Assert.NotEqual(a.ContentDigest, b.ContentDigest);
        Assert.Equal(2, cache.Parses);
    }

    [Fact]
    public void The_cache_keeps_its_own_copy_a_caller_may_change_theirs()
    {
        var cache = new ManifestCache();
        var json = Models.Echo().ToJson();
        var published = cache.Get(json);
        json["port"] = 1;
        Assert.Equal(9000, (int)published.Json["port"]!);
        Assert.Equal(9000, published.Manifest.Port);
        Assert.NotSame(json, published.Json);
    }

    [Fact]
    public void An_invalid_manifest_throws_every_time_and_is_not_kept()
    {
        var cache = new ManifestCache();
        var json = Models.Echo().ToJson();
        json["port"] = "not a port";
        Assert.Throws<FormatException>(() => cache.Get(json));
        Assert.Throws<FormatException>(() => cache.Get(json));
        Assert.Equal(2, cache.Parses);
        var wrongKind = Models.Echo().ToJson();
        wrongKind["manifestDigest"] = 5;
        Assert.Throws<FormatException>(() => cache.Get(wrongKind));
        Assert.Throws<FormatException>(() => cache.Get(new JsonObject { ["name"] = "x" }));
        // A member named twice, as a gateway's reply may carry it (a JsonObject takes it and throws only when read):
        // invalid like the rest, not an ArgumentException of the JSON library.
        var twice = JsonSerializer.Deserialize<JsonObject>("""{"name": "echo", "name": "echo"}""", MeshJson.Options)!;
        Assert.Contains("Duplicate property 'name'", Assert.Throws<FormatException>(() => cache.Get(twice)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cache_is_bounded_and_lets_the_least_recently_used_go()
    {
        var cache = new ManifestCache(capacity: 2);
        var v1 = Models.Echo("1.0.0").ToJson();
        var v2 = Models.Echo("2.0.0").ToJson();
        var v3 = Models.Echo("3.0.0").ToJson();
        var first = cache.Get(v1);
        cache.Get(v2);
        Assert.Same(first, cache.Get(v1));
        cache.Get(v3);
        Assert.Equal(3, cache.Parses);
        Assert.Same(first, cache.Get(v1));
        Assert.Equal(3, cache.Parses);
        cache.Get(v2);
        Assert.Equal(4, cache.Parses);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ManifestCache(0));
    }

    [Fact]
    public async Task Concurrent_first_requests_parse_once()
    {
        var cache = new ManifestCache();
        var json = Models.Echo().ToJson().ToJsonString();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => cache.Get(JsonNode.Parse(json)!.AsObject()))));
        Assert.All(results, r => Assert.Same(results[0], r));
        Assert.Equal(1, cache.Parses);
    }
}

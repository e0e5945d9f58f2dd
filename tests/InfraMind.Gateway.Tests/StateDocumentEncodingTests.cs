using System.IO.Compression;
using System.Net;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using Microsoft.Extensions.Primitives;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// GET /inference/v1's state document (which the dashboard polls every 2 s) goes gzipped to a client that accepts gzip:
/// about 500 bytes a version as it is (2.5 MB at 5,000 versions), about a sixth gzipped. It is compressed once per
/// build, not once per client, and a client that does not ask for gzip gets it as it was.
/// </summary>
public sealed class StateDocumentEncodingTests
{
    [Fact]
    public async Task The_state_document_goes_gzipped_to_a_client_that_accepts_gzip_and_as_it_is_to_one_that_does_not()
    {
        var catalog = new InMemoryModelCatalog();
        for (var i = 0; i < 300; i++) catalog.Publish(MeshStateTests.Served(name: $"model-{i:D3}").Published);
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = MeshToken.Create() }, catalog, CancellationToken.None);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = gateway.Url };

        var (plain, plainEncoding) = await GetAsync(http, null);
        Assert.Null(plainEncoding);
        var identity = Parse(plain);
        Assert.Equal(300, identity["models"]!.AsArray().Count);

        foreach (var accepted in new[] { "gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "GZIP", "x-gzip" })
        {
            var (bytes, encoding) = await GetAsync(http, accepted);
            Assert.True(encoding == "gzip", $"Accept-Encoding: {accepted} got Content-Encoding {encoding ?? "(none)"}");
            var inflated = Inflate(bytes);
            Assert.True(bytes.Length * 5 < inflated.Length, $"{bytes.Length} bytes gzipped of {inflated.Length}");
            var document = Parse(inflated);
            // Built after the request arrived, so its time differs; the rest is the same mesh.
            Assert.True(JsonNode.DeepEquals(Without(identity, "at"), Without(document, "at")), $"Accept-Encoding: {accepted}: another document");
        }

        // gzip refused, or only codings the gateway does not make: as it is.
        foreach (var refused in new[] { "identity", "br", "gzip;q=0", "*;q=0", "gzip;q=0, *", "deflate;q=1, *;q=0" })
        {
            var (bytes, encoding) = await GetAsync(http, refused);
            Assert.True(encoding is null, $"Accept-Encoding: {refused} got Content-Encoding {encoding}");
            Assert.Equal(300, Parse(bytes)["models"]!.AsArray().Count);
        }
    }

    [Fact]
    public async Task A_small_state_document_goes_as_it_is_whatever_the_client_accepts()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = MeshToken.Create() }, new InMemoryModelCatalog(), CancellationToken.None);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = gateway.Url };
        var (bytes, encoding) = await GetAsync(http, "gzip");
        Assert.Null(encoding);
        Assert.True(bytes.Length < BuiltDocument.MinGzipBytes, $"{bytes.Length} bytes");
        Assert.Empty(Parse(bytes)["models"]!.AsArray());
    }

    [Fact]
    public void A_build_is_gzipped_once_however_many_ask_and_inflates_to_its_bytes()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("""{"name":"echo","version":"1.0.0"},""", 200)));
        var built = new BuiltDocument(bytes);
        var gzipped = Enumerable.Range(0, 8).AsParallel().Select(_ => built.Gzipped).ToList();
        Assert.All(gzipped, g => Assert.Same(gzipped[0], g));
        Assert.Equal(bytes, Inflate(gzipped[0]));
    }

    [Theory]
    [InlineData("gzip", true)]
    [InlineData("x-gzip", true)]
    [InlineData("deflate, gzip;q=0.001", true)]
    [InlineData("*", true)]
    [InlineData("br, *;q=0.1", true)]
    [InlineData("gzip;q=0, *", false)]
    [InlineData("*;q=0", false)]
    [InlineData("gzip;q=0", false)]
    [InlineData("identity", false)]
    [InlineData("", false)]
    [InlineData("gzip;q=oops", false)]
    [InlineData(";;;,,,", false)]
    public void Accept_encoding_is_read_as_http_says(string header, bool gzip) =>
        Assert.Equal(gzip, BuiltDocument.AcceptsGzip(new StringValues(header)));

    private static async Task<(byte[] Bytes, string? Encoding)> GetAsync(HttpClient http, string? acceptEncoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("inference/v1", UriKind.Relative));
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // A cache between client and gateway must keep the codings apart.
        Assert.Contains("Accept-Encoding", response.Headers.Vary);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadAsByteArrayAsync(), response.Content.Headers.ContentEncoding.SingleOrDefault());
    }

    private static byte[] Inflate(byte[] gzipped)
    {
        using var inflated = new MemoryStream();
        using (var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress)) gzip.CopyTo(inflated);
        return inflated.ToArray();
    }

    private static JsonObject Parse(byte[] bytes) => JsonNode.Parse(bytes)!.AsObject();

    private static JsonObject Without(JsonObject o, string property)
    {
        var copy = o.DeepClone().AsObject();
        copy.Remove(property);
        return copy;
    }
}

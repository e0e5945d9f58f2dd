using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// A hostile publisher's image in a real registry (Debian docker-registry), uploaded by hand as a publisher can:
/// a gzip bomb layer, and a layer whose tar is not the config's diff_id. A pull refuses both with their codes and
/// stores nothing.
/// </summary>
public sealed class HostileLayerPullTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-hostile-layer");
    private readonly HttpClient _http = new();
    private RegistryPeer _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_registry is not null) await _registry.DisposeAsync();
    }

    public void Dispose()
    {
        _http.Dispose();
        _dir.Dispose();
    }

    private static byte[] Gzip(byte[] content)
    {
        var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(content);
        }

        return ms.ToArray();
    }

    private async Task UploadBlobAsync(string repo, byte[] blob)
    {
        using var start = await _http.PostAsync(new Uri(_registry.BaseUri, $"v2/{repo}/blobs/uploads/"), null);
        Assert.True(start.IsSuccessStatusCode, $"upload start: {start.StatusCode}");
        var location = start.Headers.Location!;
        var uri = new UriBuilder(location.IsAbsoluteUri ? location : new Uri(_registry.BaseUri, location));
        uri.Query = (uri.Query.TrimStart('?') is { Length: > 0 } q ? q + "&" : string.Empty) + "digest=" + Uri.EscapeDataString(Digest.Compute(blob).Value);
        using var body = new ByteArrayContent(blob);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await _http.PutAsync(uri.Uri, body);
        Assert.True(put.IsSuccessStatusCode, $"upload: {put.StatusCode}");
    }

    /// <summary>Publishes an OCI image of one gzip layer whose config names <paramref name="diffId"/>.</summary>
    private async Task<OciReference> PublishAsync(string repo, byte[] layer, Digest diffId)
    {
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{diffId}\"]}}}}");
        await UploadBlobAsync(repo, config);
        await UploadBlobAsync(repo, layer);
        string manifest = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\"," +
            $"\"config\":{{\"mediaType\":\"{MediaTypes.OciConfig}\",\"digest\":\"{Digest.Compute(config)}\",\"size\":{config.Length}}}," +
            $"\"layers\":[{{\"mediaType\":\"{MediaTypes.OciLayerTarGzip}\",\"digest\":\"{Digest.Compute(layer)}\",\"size\":{layer.Length}}}]}}";
        byte[] bytes = Encoding.UTF8.GetBytes(manifest);
        using var body = new ByteArrayContent(bytes);
        body.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciManifest);
        using var put = await _http.PutAsync(new Uri(_registry.BaseUri, $"v2/{repo}/manifests/1.0"), body);
        Assert.True(put.IsSuccessStatusCode, $"manifest: {put.StatusCode}");
        return (OciReference)ContentReference.Parse($"oci://{_registry.HostPort}/{repo}:1.0@{Digest.Compute(bytes)}");
    }

    [SkippableFact]
    public async Task A_gzip_bomb_layer_is_refused_while_it_is_read_and_nothing_is_stored()
    {
        // 300 gzip members of 8 MiB of zeros: 2.5 MB in the registry, 2.5 GB inflated.
        byte[] member = Gzip(new byte[8 << 20]);
        var bomb = new byte[member.Length * 300];
        for (int i = 0; i < 300; i++)
        {
            member.CopyTo(bomb, i * member.Length);
        }

        var reference = await PublishAsync("bomb", bomb, Digest.Compute(Encoding.UTF8.GetBytes("whatever")));
        var store = new LocalContentStore(_dir.Combine("store"));
        var e = await Assert.ThrowsAsync<OciException>(() => new ContentResolver(store).ResolveAsync(reference, null, CancellationToken.None));
        Assert.Equal("IM4012", e.Code);
        Assert.Contains("decompression bomb", e.Message);
        Assert.Contains($"{ArchiveLimits.MinDecompressedLayerAllowance}", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [SkippableFact]
    public async Task A_layer_that_is_not_its_diff_id_is_refused_and_nothing_is_stored()
    {
        byte[] tar = Encoding.UTF8.GetBytes(new string('x', 10_000));
        var reference = await PublishAsync("swapped", Gzip(tar), Digest.Compute(Encoding.UTF8.GetBytes("another tar")));
        var store = new LocalContentStore(_dir.Combine("store"));
        var e = await Assert.ThrowsAsync<OciException>(() => new ContentResolver(store).ResolveAsync(reference, null, CancellationToken.None));
        Assert.Equal("IM4013", e.Code);
        Assert.Contains(Digest.Compute(tar).Value, e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }
}

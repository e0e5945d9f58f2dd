using System.Net;
using System.Text;
using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// A hostile registry's manifest whose layer sizes, each a valid non-negative integer, add up past what a 64-bit
/// count holds: the pull refuses it with the archive-limit code, before any blob is asked for (a fake registry on
/// 127.0.0.1, since a real one would not hold such blobs).
/// </summary>
public sealed class HostileManifestSizeTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-manifest-size");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Layer_sizes_that_overflow_their_sum_are_IM4012_and_no_blob_is_asked_for()
    {
        string zero = Digest.Compute([]).Value;
        string manifest = $$"""
            {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
             "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{zero}}","size":0},
             "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{zero}}","size":{{long.MaxValue}}},
                       {"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{{zero}}","size":{{long.MaxValue}}}]}
            """;
        int blobRequests = 0;
        await using var server = new ListenerServer((context, _) =>
        {
            string path = context.Request.Url!.AbsolutePath;
            if (path.Contains("/blobs/", StringComparison.Ordinal)) Interlocked.Increment(ref blobRequests);
            byte[] body = Encoding.UTF8.GetBytes(path.Contains("/manifests/", StringComparison.Ordinal) ? manifest : "{}");
            context.Response.StatusCode = path is "/v2/" || path.Contains("/manifests/", StringComparison.Ordinal) ? 200 : 404;
            context.Response.ContentType = path.Contains("/manifests/", StringComparison.Ordinal) ? "application/vnd.oci.image.manifest.v1+json" : "application/json";
            context.Response.ContentLength64 = body.Length;
            context.Response.OutputStream.Write(body);
            context.Response.Close();
            return Task.CompletedTask;
        });
        var store = new LocalContentStore(_dir.Combine("s"));
        var e = await Assert.ThrowsAnyAsync<InfraMindException>(() =>
            new RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), store, null, CancellationToken.None));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains("layers", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, blobRequests);
    }
}

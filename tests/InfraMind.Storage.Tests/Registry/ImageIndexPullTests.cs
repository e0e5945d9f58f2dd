using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// A multi-platform image index in the real docker-registry (#18): the pull takes this machine's platform, as docker
/// and skopeo do (skopeo, an independent implementation, is asked which manifest it picks), and an index without it is
/// IM4209 naming what it offers.
/// </summary>
public sealed class ImageIndexPullTests : IAsyncLifetime, IDisposable
{
    private static readonly JsonSerializerOptions WithoutNulls = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
    private readonly TempDirectory _dir = new("im-index");
    private RegistryPeer _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_registry is not null) await _registry.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>This machine's platform, written out independently of the code under test.</summary>
    private static string HostArchitecture => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        var other => throw new InvalidOperationException($"no test platform pair for {other}"),
    };

    private static string OtherArchitecture => HostArchitecture == "amd64" ? "arm64" : "amd64";

    private async Task<(Digest Digest, long Size, IReadOnlyList<string> Layers)> PushImageAsync(string seed)
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine(seed)), seed);
        await new RegistryBackend(new PeerOptions()).PushAsync(image, ContentReference.ParseTarget($"oci://{_registry.HostPort}/multi:{seed}"), null, CancellationToken.None);
        return (image.ManifestDigest, (await image.ReadManifestAsync(CancellationToken.None)).Length, image.LayerDigests.Select(d => d.Value).ToList());
    }

    private static object Entry((Digest Digest, long Size, IReadOnlyList<string> Layers) m, string os, string arch, string? variant = null, Dictionary<string, string>? annotations = null) => new
    {
        mediaType = MediaTypes.OciManifest,
        digest = m.Digest.Value,
        size = m.Size,
        annotations,
        platform = variant is null ? (object)new { os, architecture = arch } : new { os, architecture = arch, variant },
    };

    /// <summary>PUTs an OCI image index under <paramref name="tag"/>; returns its digest.</summary>
    private async Task<Digest> PutIndexAsync(string tag, params object[] entries)
    {
        byte[] index = JsonSerializer.SerializeToUtf8Bytes(new { schemaVersion = 2, mediaType = MediaTypes.OciIndex, manifests = entries }, WithoutNulls);
        using var http = new HttpClient();
        var body = new ByteArrayContent(index);
        body.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.OciIndex);
        using var response = await http.PutAsync(new Uri(_registry.BaseUri, $"v2/multi/manifests/{tag}"), body);
        Assert.True(response.IsSuccessStatusCode, $"the registry refused the index: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return Digest.Compute(index);
    }

    [SkippableFact]
    public async Task An_index_resolves_to_this_machines_platform_by_tag_and_by_digest_as_skopeo_resolves_it()
    {
        var host = await PushImageAsync("host");
        var other = await PushImageAsync("other");
        // An attestation manifest (unknown/unknown) first, another platform, then ours.
        var indexDigest = await PutIndexAsync("all",
            Entry(other, "unknown", "unknown", annotations: new() { ["vnd.docker.reference.type"] = "attestation-manifest", ["vnd.docker.reference.digest"] = host.Digest.Value }),
            Entry(other, "linux", OtherArchitecture, OtherArchitecture == "arm64" ? "v8" : null),
            Entry(host, "linux", HostArchitecture));

        var backend = new RegistryBackend(new PeerOptions());
        var byTag = await backend.PullAsync(ContentReference.Parse($"oci://{_registry.HostPort}/multi:all"), new LocalContentStore(_dir.Combine("t")), null, CancellationToken.None);
        Assert.Equal(host.Digest, byTag.ManifestDigest);
        Assert.Equal([$"{_registry.HostPort}/multi:all"], byTag.Names);
        var byDigest = await backend.PullAsync(ContentReference.Parse($"oci://{_registry.HostPort}/multi@{indexDigest}"), new LocalContentStore(_dir.Combine("d")), null, CancellationToken.None);
        Assert.Equal(host.Digest, byDigest.ManifestDigest);

        Assert.Equal(host.Layers, await SkopeoPicksAsync("all", null));
        Assert.Equal(other.Layers, await SkopeoPicksAsync("all", OtherArchitecture)); // the index really offers both
    }

    [SkippableFact]
    public async Task An_index_without_this_machines_platform_is_IM4209_naming_what_it_offers_and_a_lying_entry_is_refused()
    {
        var other = await PushImageAsync("only-other");
        await PutIndexAsync("foreign", Entry(other, "linux", OtherArchitecture, "v8"), Entry(other, "windows", HostArchitecture));
        var e = await Assert.ThrowsAsync<StorageException>(() => new RegistryBackend(new PeerOptions())
            .PullAsync(ContentReference.Parse($"oci://{_registry.HostPort}/multi:foreign"), new LocalContentStore(_dir.Combine("f")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.UnsupportedManifest, e.Code);
        Assert.Contains($"platform linux/{HostArchitecture}", e.Message);
        Assert.Contains($"linux/{OtherArchitecture}/v8, windows/{HostArchitecture}", e.Message);

        // An index whose entry misstates the manifest's size: the manifest fetched is checked against the entry.
        await PutIndexAsync("lying", Entry((other.Digest, other.Size + 1, other.Layers), "linux", HostArchitecture));
        await Assert.ThrowsAsync<DigestMismatchException>(() => new RegistryBackend(new PeerOptions())
            .PullAsync(ContentReference.Parse($"oci://{_registry.HostPort}/multi:lying"), new LocalContentStore(_dir.Combine("l")), null, CancellationToken.None));
    }

    /// <summary>The layers of the manifest skopeo picks from the index for this machine (or <paramref name="arch"/>); its "Digest" is the index's.</summary>
    private async Task<IReadOnlyList<string>> SkopeoPicksAsync(string tag, string? arch)
    {
        string exe = PeerProcess.FindExecutable("skopeo", "tests/peers/oci/install.sh", "/usr/bin/skopeo");
        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (arch is not null)
        {
            info.ArgumentList.Add("--override-arch");
            info.ArgumentList.Add(arch);
        }

        foreach (var a in new[] { "inspect", "--tls-verify=false", "--no-tags", $"docker://{_registry.HostPort}/multi:{tag}" }) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, "skopeo inspect failed: " + await stderr);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetBytes(await stdout));
        return doc.RootElement.GetProperty("Layers").EnumerateArray().Select(l => l.GetString()!).ToList();
    }
}

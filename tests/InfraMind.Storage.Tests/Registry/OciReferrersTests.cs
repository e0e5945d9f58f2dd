using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// OCI 1.1 referrers (#18): against the real docker-registry (no referrers API), an attach maintains the
/// sha256-&lt;digest&gt; tag index without losing entries and reading finds only the type asked for; against a hostile
/// registry in the test, every read is bounded (index, manifest, artifact, count) and every mismatch is named.
/// </summary>
public sealed class OciReferrersTests : IDisposable
{
    private const string BundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";
    private const string OtherType = "application/vnd.example.sbom+json";
    private readonly TempDirectory _dir = new("im-referrers");

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public async Task Attaching_keeps_every_entry_of_the_tag_index_and_reading_finds_only_the_asked_type()
    {
        await using var registry = await RegistryPeer.StartAsync();
        var (target, subject) = await PushImageAsync(registry, "model");
        var referrers = new OciReferrers(new PeerOptions());

        var other = await referrers.AttachAsync(target, subject, OtherType, "{\"sbom\":1}"u8.ToArray(), null, CancellationToken.None);
        var first = await referrers.AttachAsync(target, subject, BundleType, "{\"bundle\":1}"u8.ToArray(), null, CancellationToken.None);
        var second = await referrers.AttachAsync(target, subject, BundleType, "{\"bundle\":2}"u8.ToArray(), new Dictionary<string, string> { ["k"] = "v" }, CancellationToken.None);
        var repeated = await referrers.AttachAsync(target, subject, BundleType, "{\"bundle\":1}"u8.ToArray(), null, CancellationToken.None);
        Assert.False(first.RegistryIndexed); // docker-registry 2.8 has no referrers API: the tag schema is used
        Assert.Equal(OciReferrers.FallbackTag(subject.Digest), first.FallbackTag);
        Assert.Equal(first.Referrer, repeated.Referrer); // no timestamp in the referrer: the same artifact, the same manifest

        var index = await ManifestAsync(registry, "model", first.FallbackTag!, MediaTypes.OciIndex);
        var entries = index.GetProperty("manifests").EnumerateArray()
            .Select(e => (e.GetProperty("digest").GetString(), e.GetProperty("artifactType").GetString())).ToList();
        Assert.Equal([(other.Referrer.Value, OtherType), (first.Referrer.Value, BundleType), (second.Referrer.Value, BundleType)], entries);

        var found = await referrers.FindAsync(target, subject.Digest, BundleType, CancellationToken.None);
        Assert.Equal(["{\"bundle\":1}", "{\"bundle\":2}"], found.Select(f => Encoding.UTF8.GetString(f.Content)).ToArray());
        Assert.Equal([first.Referrer, second.Referrer], found.Select(f => f.Referrer).ToArray());
        Assert.Empty(await referrers.FindAsync(target, Digest.Compute("another image"u8), BundleType, CancellationToken.None));

        // The referrer is what the OCI 1.1 spec describes: the empty config, one layer, the image as subject.
        var root = await ManifestAsync(registry, "model", first.Referrer.Value, MediaTypes.OciManifest);
        Assert.Equal(BundleType, root.GetProperty("artifactType").GetString());
        Assert.Equal(OciReferrers.EmptyMediaType, root.GetProperty("config").GetProperty("mediaType").GetString());
        Assert.Equal("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", root.GetProperty("config").GetProperty("digest").GetString());
        Assert.Equal(subject.Digest.Value, root.GetProperty("subject").GetProperty("digest").GetString());
        Assert.Equal(subject.Size, root.GetProperty("subject").GetProperty("size").GetInt64());
    }

    [SkippableFact]
    public async Task Attaches_to_one_image_at_the_same_moment_are_all_found_though_the_tag_index_has_no_compare_and_swap()
    {
        await using var registry = await RegistryPeer.StartAsync();
        var (target, subject) = await PushImageAsync(registry, "contended");

        // Eight publishers attach their bundles at once: each reads the tag index, adds its entry and writes it back, so
        // the last writer's index drops entries written in between; each referrer's own tag keeps it findable.
        const int Writers = 8;
        using var start = new SemaphoreSlim(0, Writers);
        var attaches = Enumerable.Range(0, Writers).Select(async i =>
        {
            await start.WaitAsync();
            return await new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, Encoding.UTF8.GetBytes($"{{\"bundle\":{i}}}"),
                new Dictionary<string, string> { ["writer"] = $"{i}" }, CancellationToken.None);
        }).ToList();
        start.Release(Writers);
        var attached = await Task.WhenAll(attaches);

        var found = await new OciReferrers(new PeerOptions()).FindAsync(target, subject.Digest, BundleType, CancellationToken.None);
        Assert.Equal(attached.Select(a => a.Referrer.Value).Order(StringComparer.Ordinal), found.Select(f => f.Referrer.Value).Order(StringComparer.Ordinal));
        Assert.Equal(Enumerable.Range(0, Writers).Select(i => $"{{\"bundle\":{i}}}").Order(StringComparer.Ordinal), found.Select(f => Encoding.UTF8.GetString(f.Content)).Order(StringComparer.Ordinal));

        // The next attach (sequential now) writes an index holding every entry the tags hold, its own included.
        var next = await new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, "{\"bundle\":\"next\"}"u8.ToArray(), null, CancellationToken.None);
        Assert.Equal(Writers + 1, (await new OciReferrers(new PeerOptions()).FindAsync(target, subject.Digest, BundleType, CancellationToken.None)).Count);
        var index = (await ManifestAsync(registry, "contended", next.FallbackTag!, MediaTypes.OciIndex)).GetProperty("manifests").EnumerateArray()
            .Select(e => (Digest: e.GetProperty("digest").GetString()!, Writer: e.TryGetProperty("annotations", out var a) && a.TryGetProperty("writer", out var w) ? w.GetString() : null))
            .ToList();
        Assert.Equal(found.Select(f => f.Referrer.Value).Append(next.Referrer.Value).Order(StringComparer.Ordinal), index.Select(e => e.Digest).Order(StringComparer.Ordinal));
        // Entries put back from their tags carry their manifests' annotations, as written.
        Assert.Equal(Enumerable.Range(0, Writers).Select(i => $"{i}").Append(null).Order(StringComparer.Ordinal), index.Select(e => e.Writer).Order(StringComparer.Ordinal));
    }

    /// <summary>A small image pushed to <c>ref/<paramref name="repository"/>:1</c> of the real registry: where to attach, and what to.</summary>
    private async Task<(OciReference Target, Descriptor Subject)> PushImageAsync(RegistryPeer registry, string repository)
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("store-" + repository)), repository);
        var target = (OciReference)ContentReference.ParseTarget($"oci://{registry.HostPort}/ref/{repository}:1");
        await new RegistryBackend(new PeerOptions()).PushAsync(image, target, null, CancellationToken.None);
        return (target, image.Image.Manifest);
    }

    /// <summary>A manifest or index of <c>ref/<paramref name="repository"/></c> as the registry serves it, read straight over HTTP.</summary>
    private static async Task<JsonElement> ManifestAsync(RegistryPeer registry, string repository, string reference, string accept)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(registry.BaseUri, $"v2/ref/{repository}/manifests/{reference}"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        using var response = await http.SendAsync(request);
        using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync());
        return document.RootElement.Clone();
    }

    private static readonly Digest Subject = Digest.Compute("the image"u8);

    /// <summary>A referrer manifest for <paramref name="subject"/> whose one layer is <paramref name="layer"/>.</summary>
    private static byte[] Referrer(Digest subject, Digest layer, long layerSize, string artifactType = BundleType) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        schemaVersion = 2,
        mediaType = MediaTypes.OciManifest,
        artifactType,
        config = new { mediaType = OciReferrers.EmptyMediaType, digest = Digest.Compute("{}"u8).Value, size = 2 },
        layers = new[] { new { mediaType = BundleType, digest = layer.Value, size = layerSize } },
        subject = new { mediaType = MediaTypes.OciManifest, digest = subject.Value, size = 100 },
    });

    private static byte[] Index(IEnumerable<(Digest Digest, long Size)> entries) => JsonSerializer.SerializeToUtf8Bytes(new
    {
        schemaVersion = 2,
        mediaType = MediaTypes.OciIndex,
        manifests = entries.Select(e => new { mediaType = MediaTypes.OciManifest, digest = e.Digest.Value, size = e.Size, artifactType = BundleType }),
    });

    /// <summary>
    /// A registry with a referrers API that answers <paramref name="index"/>, then serves <paramref name="documents"/>
    /// by path (manifests/DIGEST, blobs/DIGEST). A null index body is streamed chunked: <paramref name="streamed"/> bytes, no length.
    /// </summary>
    private static ListenerServer Hostile(byte[]? index, Dictionary<string, byte[]> documents, ConcurrentBag<string> asked, long streamed = 0, bool noReferrersApi = false, bool forbidTags = false) => new(async (context, ct) =>
    {
        var path = context.Request.Url!.AbsolutePath;
        asked.Add(path);
        var r = context.Response;
        if (path == "/v2/")
        {
            r.StatusCode = 200;
        }
        else if (path == "/v2/r/tags/list" && forbidTags)
        {
            r.StatusCode = 403;
        }
        else if (path.StartsWith("/v2/r/referrers/", StringComparison.Ordinal) && !noReferrersApi)
        {
            r.ContentType = MediaTypes.OciIndex;
            if (index is null)
            {
                r.SendChunked = true;
                var chunk = new byte[64 << 10];
                chunk.AsSpan().Fill((byte)' ');
                for (long sent = 0; sent < streamed; sent += chunk.Length) await r.OutputStream.WriteAsync(chunk, ct);
            }
            else
            {
                await r.OutputStream.WriteAsync(index, ct);
            }
        }
        else if (documents.TryGetValue(path["/v2/r/".Length..], out var body))
        {
            await r.OutputStream.WriteAsync(body, ct);
        }
        else
        {
            r.StatusCode = 404;
        }

        r.Close();
    });

    private static async Task<StorageException> FindFailsAsync(ListenerServer server)
    {
        var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
        return await Assert.ThrowsAsync<StorageException>(() => new OciReferrers(new PeerOptions()).FindAsync(reference, Subject, BundleType, CancellationToken.None));
    }

    [Fact]
    public async Task Bundles_are_read_one_at_a_time_and_all_of_them_together_within_their_cap()
    {
        // 17 referrers, each carrying a bundle of the most one may have: 16 of them are the cap in all.
        var bundle = new byte[OciReferrers.MaxArtifactBytes];
        Random.Shared.NextBytes(bundle);
        var layer = Digest.Compute(bundle);
        var referrers = Enumerable.Range(0, 17).Select(i => JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2,
            mediaType = MediaTypes.OciManifest,
            artifactType = BundleType,
            config = new { mediaType = OciReferrers.EmptyMediaType, digest = Digest.Compute("{}"u8).Value, size = 2 },
            layers = new[] { new { mediaType = BundleType, digest = layer.Value, size = (long)bundle.Length } },
            subject = new { mediaType = MediaTypes.OciManifest, digest = Subject.Value, size = 100 },
            annotations = new Dictionary<string, string> { ["n"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        })).ToList();
        var documents = referrers.ToDictionary(r => $"manifests/{Digest.Compute(r)}", r => r);
        documents[$"blobs/{layer}"] = bundle;
        var asked = new ConcurrentBag<string>();
        await using var server = Hostile(Index(referrers.Select(r => (Digest.Compute(r), (long)r.Length))), documents, asked);
        var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");

        // A reader that stops at the first bundle has fetched that one only.
        using (var listing = await new OciReferrers(new PeerOptions()).ListAsync(reference, Subject, BundleType, CancellationToken.None))
        {
            Assert.Equal(17, listing.Count);
            await foreach (var artifact in listing.ReadAsync(CancellationToken.None))
            {
                Assert.Equal(Digest.Compute(referrers[0]), artifact.Referrer);
                break;
            }
        }

        Assert.Equal(1, asked.Count(p => p.Contains("/blobs/", StringComparison.Ordinal)));

        // Reading them all stops at the cap in all: IM4240, the 17th bundle never asked for.
        asked.Clear();
        var e = await FindFailsAsync(server);
        Assert.Equal(StorageErrorCodes.ReferrerTooLarge, e.Code);
        Assert.Contains($"over the {OciReferrers.MaxArtifactBytesInAll}-byte cap in all; 16 of 17 were read", e.Message, StringComparison.Ordinal);
        Assert.Equal(16, asked.Count(p => p.Contains("/blobs/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task More_referrers_than_the_cap_is_IM4241_and_none_is_fetched()
    {
        var asked = new ConcurrentBag<string>();
        var entries = Enumerable.Range(0, OciReferrers.MaxReferrers + 1).Select(i => (Digest.Compute(BitConverter.GetBytes(i)), 500L));
        await using var server = Hostile(Index(entries), [], asked);
        var e = await FindFailsAsync(server);
        Assert.Equal(StorageErrorCodes.TooManyReferrers, e.Code);
        Assert.Contains("1025", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(asked, p => p.Contains("/manifests/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_the_referrers_API_the_tag_listing_is_read_against_its_caps()
    {
        // Over the byte cap on the one listing read: IM4240, the rest not read.
        var padding = new string('x', 100);
        var listing = JsonSerializer.SerializeToUtf8Bytes(new { name = "r", tags = Enumerable.Range(0, OciReferrers.MaxTagListBytes / 100 + 1).Select(i => $"{padding}{i}") });
        await using (var server = Hostile(null, new() { ["tags/list"] = listing }, [], noReferrersApi: true))
        {
            Assert.Equal(StorageErrorCodes.ReferrerTooLarge, (await FindFailsAsync(server)).Code);
        }

        // More referrer tags than the cap: IM4241 before a single manifest is asked for.
        var asked = new ConcurrentBag<string>();
        var tags = Enumerable.Range(0, OciReferrers.MaxReferrers + 1).Select(i => OciReferrers.ReferrerTag(Subject, Digest.Compute(BitConverter.GetBytes(i))));
        await using (var server = Hostile(null, new() { ["tags/list"] = JsonSerializer.SerializeToUtf8Bytes(new { name = "r", tags }) }, asked, noReferrersApi: true))
        {
            var e = await FindFailsAsync(server);
            Assert.Equal(StorageErrorCodes.TooManyReferrers, e.Code);
            Assert.DoesNotContain(asked, p => p.Contains("/manifests/sha256-" + Subject.Hex + ".", StringComparison.Ordinal));
        }

        // A tag whose manifest is not what its name says is not taken for a referrer; a true one is, and reads back.
        var bundle = "{\"bundle\":true}"u8.ToArray();
        var layer = Digest.Compute(bundle);
        var right = Referrer(Subject, layer, bundle.Length);
        var liar = OciReferrers.ReferrerTag(Subject, Digest.Compute("not this manifest"u8));
        var honest = OciReferrers.ReferrerTag(Subject, Digest.Compute(right));
        await using (var server = Hostile(null, new()
        {
            ["tags/list"] = JsonSerializer.SerializeToUtf8Bytes(new { name = "r", tags = new[] { "latest", liar, honest } }),
            [$"manifests/{liar}"] = right, [$"manifests/{honest}"] = right, [$"manifests/{Digest.Compute(right)}"] = right, [$"blobs/{layer}"] = bundle,
        }, [], noReferrersApi: true))
        {
            var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var found = Assert.Single(await new OciReferrers(new PeerOptions()).FindAsync(reference, Subject, BundleType, CancellationToken.None));
            Assert.Equal(Digest.Compute(right), found.Referrer);
        }

        // A registry that lets a client pull but not list tags: the tag index is read alone, and its referrer found.
        await using (var server = Hostile(null, new()
        {
            [$"manifests/{OciReferrers.FallbackTag(Subject)}"] = Index([(Digest.Compute(right), right.Length)]),
            [$"manifests/{Digest.Compute(right)}"] = right, [$"blobs/{layer}"] = bundle,
        }, [], noReferrersApi: true, forbidTags: true))
        {
            var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var found = Assert.Single(await new OciReferrers(new PeerOptions()).FindAsync(reference, Subject, BundleType, CancellationToken.None));
            Assert.Equal(bundle, found.Content);
        }
    }

    /// <summary>
    /// A referrers API that pages its answer (the distribution spec's <c>Link: &lt;URL&gt;; rel="next"</c>): page N
    /// lists <paramref name="pages"/>[N-1] and links page N+1 (or <paramref name="link"/>(N), when given) while there is one.
    /// </summary>
    private static ListenerServer Paged(IReadOnlyList<byte[]> pages, Dictionary<string, byte[]> documents, ConcurrentBag<string> asked, Func<int, int, string>? link = null) => new(async (context, ct) =>
    {
        var url = context.Request.Url!;
        asked.Add(url.PathAndQuery);
        var r = context.Response;
        if (url.AbsolutePath == "/v2/")
        {
            r.StatusCode = 200;
        }
        else if (url.AbsolutePath == $"/v2/r/referrers/{Subject}")
        {
            var query = System.Web.HttpUtility.ParseQueryString(url.Query);
            var page = int.Parse(query["page"] ?? "1", System.Globalization.CultureInfo.InvariantCulture);
            r.ContentType = MediaTypes.OciIndex;
            var next = link?.Invoke(page, url.Port) ?? (page < pages.Count ? $"/v2/r/referrers/{Subject}?artifactType={Uri.EscapeDataString(BundleType)}&page={page + 1}" : null);
            if (next is not null) r.AddHeader("Link", $"<{next}>; rel=\"next\"");
            await r.OutputStream.WriteAsync(pages[Math.Min(page, pages.Count) - 1], ct);
        }
        else if (documents.TryGetValue(url.AbsolutePath["/v2/r/".Length..], out var body))
        {
            await r.OutputStream.WriteAsync(body, ct);
        }
        else
        {
            r.StatusCode = 404;
        }

        r.Close();
    });

    [Fact]
    public async Task A_paged_referrers_answer_is_read_page_by_page_on_its_own_host_and_within_its_caps()
    {
        var bundle = "{\"bundle\":true}"u8.ToArray();
        var layer = Digest.Compute(bundle);
        var right = Referrer(Subject, layer, bundle.Length);
        var other = Referrer(Subject, Digest.Compute("other"u8), 5, "application/vnd.example.other");
        var first = JsonSerializer.SerializeToUtf8Bytes(new
        {
            schemaVersion = 2, mediaType = MediaTypes.OciIndex,
            manifests = new[] { new { mediaType = MediaTypes.OciManifest, digest = Digest.Compute(other).Value, size = (long)other.Length, artifactType = "application/vnd.example.other" } },
        });
        var documents = new Dictionary<string, byte[]> { [$"manifests/{Digest.Compute(right)}"] = right, [$"blobs/{layer}"] = bundle };

        // The signature is on the second page: found.
        var asked = new ConcurrentBag<string>();
        await using (var server = Paged([first, Index([(Digest.Compute(right), right.Length)])], documents, asked))
        {
            var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var found = Assert.Single(await new OciReferrers(new PeerOptions()).FindAsync(reference, Subject, BundleType, CancellationToken.None));
            Assert.Equal(bundle, found.Content);
            Assert.Contains(asked, p => p.EndsWith("&page=2", StringComparison.Ordinal));
        }

        // A next page on another host (the loopback's other address): not followed, IM4243.
        await using (var server = Paged([first], documents, [], (_, port) => $"http://127.0.0.2:{port}/v2/r/referrers/{Subject}?page=2"))
        {
            var e = await FindFailsAsync(server);
            Assert.Equal(StorageErrorCodes.ReferrerMalformed, e.Code);
            Assert.Contains("127.0.0.2", e.Message, StringComparison.Ordinal);
        }

        // A page that links to itself for ever: read up to the page cap, then IM4243.
        asked = [];
        await using (var server = Paged([first], documents, asked, (page, _) => $"/v2/r/referrers/{Subject}?page={page}"))
        {
            var e = await FindFailsAsync(server);
            Assert.Equal(StorageErrorCodes.ReferrerMalformed, e.Code);
            Assert.Contains($"more than {OciReferrers.MaxReferrerPages} pages", e.Message, StringComparison.Ordinal);
            Assert.Equal(OciReferrers.MaxReferrerPages, asked.Count(p => p.Contains("/referrers/", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task An_endless_referrers_answer_is_IM4240_at_the_index_cap()
    {
        await using var server = Hostile(null, [], [], streamed: OciReferrers.MaxIndexBytes + (1 << 20));
        Assert.Equal(StorageErrorCodes.ReferrerTooLarge, (await FindFailsAsync(server)).Code);
    }

    [Fact]
    public async Task A_referrer_manifest_over_its_cap_is_IM4240_declared_or_counted()
    {
        var big = new byte[OciReferrers.MaxManifestBytes + 1];
        var bigDigest = Digest.Compute(big);
        await using (var declared = Hostile(Index([(bigDigest, big.Length)]), new() { [$"manifests/{bigDigest}"] = big }, []))
        {
            Assert.Equal(StorageErrorCodes.ReferrerTooLarge, (await FindFailsAsync(declared)).Code);
        }

        // The index lies about the size: the body is counted against the cap all the same.
        await using var lying = Hostile(Index([(bigDigest, 300)]), new() { [$"manifests/{bigDigest}"] = big }, []);
        Assert.Equal(StorageErrorCodes.ReferrerTooLarge, (await FindFailsAsync(lying)).Code);
    }

    [Fact]
    public async Task A_bundle_declared_over_its_cap_is_IM4240_before_its_blob_is_asked_for()
    {
        var asked = new ConcurrentBag<string>();
        var layer = Digest.Compute("huge"u8);
        var manifest = Referrer(Subject, layer, OciReferrers.MaxArtifactBytes + 1L);
        await using var server = Hostile(Index([(Digest.Compute(manifest), manifest.Length)]), new() { [$"manifests/{Digest.Compute(manifest)}"] = manifest }, asked);
        Assert.Equal(StorageErrorCodes.ReferrerTooLarge, (await FindFailsAsync(server)).Code);
        Assert.DoesNotContain(asked, p => p.Contains("/blobs/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_referrer_of_another_image_or_bytes_that_miss_their_digest_are_IM4243()
    {
        var bundle = "{\"bundle\":true}"u8.ToArray();
        var layer = Digest.Compute(bundle);

        // Its subject names another image.
        var elsewhere = Referrer(Digest.Compute("another image"u8), layer, bundle.Length);
        await using (var server = Hostile(Index([(Digest.Compute(elsewhere), elsewhere.Length)]), new() { [$"manifests/{Digest.Compute(elsewhere)}"] = elsewhere, [$"blobs/{layer}"] = bundle }, []))
        {
            var e = await FindFailsAsync(server);
            Assert.Equal(StorageErrorCodes.ReferrerMalformed, e.Code);
            Assert.Contains("another image", e.Message, StringComparison.Ordinal);
        }

        // The manifest served is not the one the index names.
        var right = Referrer(Subject, layer, bundle.Length);
        var named = Digest.Compute("named"u8);
        await using (var server = Hostile(Index([(named, right.Length)]), new() { [$"manifests/{named}"] = right, [$"blobs/{layer}"] = bundle }, []))
        {
            Assert.Equal(StorageErrorCodes.ReferrerMalformed, (await FindFailsAsync(server)).Code);
        }

        // The blob served is not the layer the manifest names.
        await using (var server = Hostile(Index([(Digest.Compute(right), right.Length)]), new() { [$"manifests/{Digest.Compute(right)}"] = right, [$"blobs/{layer}"] = "{\"bundle\":false}"u8.ToArray() }, []))
        {
            Assert.Equal(StorageErrorCodes.ReferrerMalformed, (await FindFailsAsync(server)).Code);
        }

        // And the honest one reads back.
        await using (var server = Hostile(Index([(Digest.Compute(right), right.Length)]), new() { [$"manifests/{Digest.Compute(right)}"] = right, [$"blobs/{layer}"] = bundle }, []))
        {
            var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var found = Assert.Single(await new OciReferrers(new PeerOptions()).FindAsync(reference, Subject, BundleType, CancellationToken.None));
            Assert.Equal(bundle, found.Content);
        }
    }

    /// <summary>
    /// A registry whose blobs all exist and whose manifest PUT answers <paramref name="refusal"/> (status, body) the
    /// first <paramref name="refusals"/> times, then 201 with OCI-Subject (it indexes referrers itself); the first
    /// <paramref name="failedHeads"/> HEADs of a blob answer 500.
    /// </summary>
    private static ListenerServer RefusingManifests(int refusals, (int Status, string Body) refusal, ConcurrentBag<string> puts, int failedHeads = 0, ConcurrentBag<string>? heads = null) => new(async (context, ct) =>
    {
        var path = context.Request.Url!.AbsolutePath;
        var r = context.Response;
        if (context.Request.HttpMethod == "HEAD" && path.StartsWith("/v2/r/blobs/", StringComparison.Ordinal) && heads is not null)
        {
            heads.Add(path);
            r.StatusCode = heads.Count <= failedHeads ? 500 : 200;
        }
        else if (context.Request.HttpMethod == "PUT" && path.StartsWith("/v2/r/manifests/", StringComparison.Ordinal))
        {
            puts.Add(path);
            if (puts.Count <= refusals)
            {
                r.StatusCode = refusal.Status;
                r.ContentType = "application/json";
                await r.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(refusal.Body), ct);
            }
            else
            {
                r.StatusCode = 201;
                r.AddHeader("Docker-Content-Digest", path["/v2/r/manifests/".Length..]);
                r.AddHeader("OCI-Subject", Subject.Value);
            }
        }
        else
        {
            r.StatusCode = 200; // /v2/ and HEAD of every blob: there already
        }

        r.Close();
    });

    [Fact]
    public async Task A_manifest_refused_for_a_blob_another_upload_is_rewriting_is_put_again_and_a_missing_blob_still_fails()
    {
        // docker-registry refuses a manifest checked against a blob link another client's upload of the same blob is
        // rewriting, and answers a HEAD of that blob 500 (the CI failures this test stands for: eight attaches at once,
        // all sharing the empty config).
        var subject = new Descriptor(MediaTypes.OciManifest, Subject, 100);
        const string BlobUnknown = "{\"errors\":[{\"code\":\"DIGEST_INVALID\"},{\"code\":\"MANIFEST_BLOB_UNKNOWN\"}]}";
        var puts = new ConcurrentBag<string>();
        await using (var server = RefusingManifests(2, (400, BlobUnknown), puts))
        {
            var target = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var attached = await new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, "{}"u8.ToArray(), null, CancellationToken.None);
            Assert.True(attached.RegistryIndexed);
            Assert.Equal(3, puts.Count);
        }

        // A HEAD answered 500 is asked again; one answered 500 every time is reported after the bounded attempts.
        foreach (var (failed, succeeds) in new[] { (2, true), (int.MaxValue, false) })
        {
            puts.Clear();
            var heads = new ConcurrentBag<string>();
            await using var server = RefusingManifests(0, (400, BlobUnknown), puts, failed, heads);
            var target = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var attach = new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, "{}"u8.ToArray(), null, CancellationToken.None);
            if (succeeds)
            {
                Assert.True((await attach).RegistryIndexed);
                Assert.Equal(4, heads.Count); // the config's HEAD three times, the layer's once
            }
            else
            {
                var e = await Assert.ThrowsAsync<StorageException>(() => attach);
                Assert.Equal(500, e.PeerStatus);
                Assert.Equal(RegistryClient.MaxRaceAttempts, heads.Count);
                Assert.Empty(puts);
            }
        }

        // Refused every time: the blob is really missing; the refusal is reported after the bounded attempts.
        puts.Clear();
        await using (var server = RefusingManifests(int.MaxValue, (400, BlobUnknown), puts))
        {
            var target = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var e = await Assert.ThrowsAsync<StorageException>(() => new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, "{}"u8.ToArray(), null, CancellationToken.None));
            Assert.Equal(StorageErrorCodes.PeerRejected, e.Code);
            Assert.Equal(["DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN"], e.PeerCodes);
            Assert.Contains("(DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN)", e.Message, StringComparison.Ordinal);
            Assert.Equal(RegistryClient.MaxRaceAttempts, puts.Count);
        }

        // Any other refusal is not retried; an error document that is not an object is no error codes, not a crash.
        foreach (var body in new[] { "{\"errors\":[{\"code\":\"MANIFEST_INVALID\"}]}", "[1]", "\"x\"" })
        {
            puts.Clear();
            await using var server = RefusingManifests(int.MaxValue, (400, body), puts);
            var target = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{server.Port}/r@{Subject}");
            var e = await Assert.ThrowsAsync<StorageException>(() => new OciReferrers(new PeerOptions()).AttachAsync(target, subject, BundleType, "{}"u8.ToArray(), null, CancellationToken.None));
            Assert.Equal(StorageErrorCodes.PeerRejected, e.Code);
            Assert.Single(puts);
        }
    }
}

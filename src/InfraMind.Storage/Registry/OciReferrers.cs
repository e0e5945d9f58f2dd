using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>An artifact attached to an image: the referrer manifest that carries it, and its one layer's bytes (verified).</summary>
public sealed record AttachedArtifact(Digest Referrer, byte[] Content);

/// <summary>
/// Where an attach went: the referrer manifest's digest, and whether the registry indexes it itself (OCI 1.1 referrers
/// API) or the <c>sha256-&lt;hex&gt;</c> tag index was updated (the spec's fallback for registries without the API).
/// </summary>
public sealed record AttachResult(Digest Referrer, bool RegistryIndexed, string? FallbackTag);

/// <summary>
/// OCI 1.1 referrers (image-spec 1.1 "subject", distribution-spec 1.1 "Listing Referrers"): attaches an artifact to an
/// image as an image manifest whose <c>subject</c> is the image, whose config is the empty descriptor and whose one
/// layer is the artifact; lists an image's referrers through the referrers API, or, where the registry has none (404),
/// through the referrers tag schema (<c>sha256-&lt;hex of the subject digest&gt;</c> → an image index), which an attach
/// then maintains: read, add, write back, every entry already there kept.
/// Everything read is bounded: the index (4 MiB), a referrer manifest (64 KiB), the artifact (4 MiB), the artifacts of
/// one listing together (<see cref="MaxArtifactBytesInAll"/>) and the number of referrers (1,024); anything over is
/// IM4240/IM4241 and the rest is not read. A listing's artifacts are read one at a time (<see cref="ReferrerListing"/>),
/// so a reader that stops at the first it accepts holds one artifact, not all of them.
/// The tag index has no compare-and-swap in the distribution API: two attaches to one image at the same moment can
/// each write an index without the other's entry. So, where the tag schema is used, each referrer manifest is also
/// tagged on its own (<see cref="ReferrerTag"/>: the index's tag, a dot, 32 hex digits of the referrer's digest), a
/// write no other attach touches; reading adds the referrers found under those tags (one tag listing from the index's
/// tag on, bounded like the index) to the index's. The index stays what other tools read, and a lost entry is
/// restored by the next attach, or by attaching again.
/// </summary>
public sealed class OciReferrers(PeerOptions options)
{
    public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";
    public const int MaxIndexBytes = 4 << 20;
    public const int MaxManifestBytes = 64 << 10;
    public const int MaxArtifactBytes = 4 << 20;
    public const int MaxReferrers = 1024;

    /// <summary>Most bytes of artifacts read from one image's referrers in all: many large artifacts attached by whoever can push there cost a reader this much at most.</summary>
    public const long MaxArtifactBytesInAll = 64L << 20;

    /// <summary>Most pages of a paginated referrers API answer read for one image.</summary>
    public const int MaxReferrerPages = 64;

    /// <summary>Tries at the tag index (read, add, write) when the registry fails one: concurrent attaches make some fail.</summary>
    public const int MaxIndexAttempts = 4;

    private static readonly byte[] EmptyConfig = "{}"u8.ToArray();

    /// <summary>The tag the referrers tag schema uses for <paramref name="subject"/>.</summary>
    public static string FallbackTag(Digest subject) => "sha256-" + subject.Hex;

    /// <summary>The tag of one referrer of <paramref name="subject"/> where the tag schema is used (104 characters, under the 128 a tag may have).</summary>
    public static string ReferrerTag(Digest subject, Digest referrer) => FallbackTag(subject) + "." + referrer.Hex[..32];

    /// <summary>The most bytes of the one tag listing read (1,024 tags of at most 128 characters, quoted).</summary>
    public const int MaxTagListBytes = 160 << 10;

    /// <summary>
    /// Attaches <paramref name="content"/> (one layer of <paramref name="artifactType"/>) to the image <paramref name="subject"/>
    /// in the repository of <paramref name="repository"/>. The referrer manifest has no timestamp, so attaching the same
    /// content again writes the same manifest and adds nothing to the index.
    /// </summary>
    public async Task<AttachResult> AttachAsync(OciReference repository, Descriptor subject, string artifactType, byte[] content,
        IReadOnlyDictionary<string, string>? annotations, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(content);
        if (content.Length > MaxArtifactBytes)
        {
            throw new StorageException(StorageErrorCodes.ReferrerTooLarge, $"the artifact to attach is {content.Length} bytes, over the {MaxArtifactBytes}-byte cap on what is read back.");
        }

        using var client = new RegistryClient(repository, options);
        await client.AuthenticateAsync("pull,push", cancellationToken).ConfigureAwait(false);
        var config = new Descriptor(EmptyMediaType, Digest.Compute(EmptyConfig), EmptyConfig.Length);
        var layer = new Descriptor(artifactType, Digest.Compute(content), content.Length);
        await PutBlobAsync(client, config, EmptyConfig, cancellationToken).ConfigureAwait(false);
        await PutBlobAsync(client, layer, content, cancellationToken).ConfigureAwait(false);

        var manifest = ReferrerManifest(subject, artifactType, config, layer, annotations);
        var digest = Digest.Compute(manifest);
        var (stored, indexed) = await client.PutManifestWithSubjectAsync(digest.Value, MediaTypes.OciManifest, manifest, cancellationToken).ConfigureAwait(false);
        if (stored is { } s && s != digest)
        {
            throw new StorageException(StorageErrorCodes.PeerRejected, $"{repository.Registry} stored the referrer manifest under {s}, not {digest}; it rewrote the manifest.");
        }

        if (indexed)
        {
            return new AttachResult(digest, true, null);
        }

        // Its own tag first: written by this attach alone, it cannot be lost to another attach's index write.
        await client.PutManifestAsync(ReferrerTag(subject.Digest, digest), MediaTypes.OciManifest, manifest, cancellationToken).ConfigureAwait(false);
        var tag = FallbackTag(subject.Digest);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var entries = await ReadTagIndexAsync(client, subject.Digest, cancellationToken).ConfigureAwait(false);
                // Entries another attach's index write dropped come back from their tags: the index is repaired as it is written.
                var dropped = await TaggedReferrersAsync(client, subject.Digest, null, entries, cancellationToken).ConfigureAwait(false);
                if (dropped.Count == 0 && entries.Exists(e => e.Digest == digest))
                {
                    return new AttachResult(digest, false, tag);
                }

                entries.AddRange(dropped.Where(d => d.Digest != digest));
                if (entries.Exists(e => e.Digest == digest))
                {
                    await client.PutManifestAsync(tag, MediaTypes.OciIndex, ReferrersIndex(entries), cancellationToken).ConfigureAwait(false);
                    return new AttachResult(digest, false, tag);
                }

                if (entries.Count >= MaxReferrers)
                {
                    throw TooMany(repository, subject.Digest, entries.Count + 1);
                }

                entries.Add(new Referrer(new Descriptor(MediaTypes.OciManifest, digest, manifest.Length, annotations), artifactType));
                await client.PutManifestAsync(tag, MediaTypes.OciIndex, ReferrersIndex(entries), cancellationToken).ConfigureAwait(false);
                return new AttachResult(digest, false, tag);
            }
            catch (StorageException e) when (e.Code == StorageErrorCodes.PeerRejected && attempt < MaxIndexAttempts)
            {
                // docker-registry's filesystem driver answers 500 to a read of a tag another attach is rewriting: a moment later it reads.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 80) * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The artifacts of <paramref name="artifactType"/> attached to <paramref name="subject"/>: each referrer manifest
    /// read (bounded), checked against its digest, its subject, its artifact type and its one layer, and that layer read
    /// (bounded) and checked against its digest. Empty when nothing is attached.
    /// </summary>
    public async Task<IReadOnlyList<AttachedArtifact>> FindAsync(OciReference repository, Digest subject, string artifactType, CancellationToken cancellationToken)
    {
        using var listing = await ListAsync(repository, subject, artifactType, cancellationToken).ConfigureAwait(false);
        var found = new List<AttachedArtifact>();
        await foreach (var artifact in listing.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(artifact);
        }

        return found;
    }

    /// <summary>
    /// The referrers of <paramref name="subject"/> whose artifactType is <paramref name="artifactType"/> (the referrers
    /// API with every page, or the tag index and the referrer tags), listed; their artifacts are read when the listing
    /// is enumerated, one at a time. Dispose the listing when done.
    /// </summary>
    public async Task<ReferrerListing> ListAsync(OciReference repository, Digest subject, string artifactType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repository);
        var client = new RegistryClient(repository, options);
        try
        {
            await client.AuthenticateAsync("pull", cancellationToken).ConfigureAwait(false);
            var entries = await ListEntriesAsync(client, repository, subject, artifactType, cancellationToken).ConfigureAwait(false);
            return new ReferrerListing(client, repository, subject, artifactType, [.. entries.Where(e => e.ArtifactType == artifactType).Select(e => e.Descriptor)]);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<List<Referrer>> ListEntriesAsync(RegistryClient client, OciReference repository, Digest subject, string artifactType, CancellationToken cancellationToken)
    {
        var api = await client.TryGetDocumentAsync($"referrers/{subject}?artifactType={Uri.EscapeDataString(artifactType)}", MediaTypes.OciIndex, MaxIndexBytes,
            () => IndexTooLarge(repository, subject), $"listing the referrers of {subject}", cancellationToken).ConfigureAwait(false);
        var entries = api is { } answer
            ? await ReadApiPagesAsync(client, answer, repository, subject, cancellationToken).ConfigureAwait(false)
            : await ReadTagIndexAsync(client, subject, cancellationToken).ConfigureAwait(false);
        if (api is null)
        {
            // Bounded with the index: TaggedReferrersAsync refuses more than MaxReferrers in all.
            entries.AddRange(await TaggedReferrersAsync(client, subject, artifactType, entries, cancellationToken).ConfigureAwait(false));
        }

        return entries;
    }

    /// <summary>
    /// An image's referrers of one artifact type (<see cref="ListAsync"/>): how many, and their artifacts read in the
    /// listing's order, one per step of <see cref="ReadAsync"/>, each bounded by <see cref="MaxArtifactBytes"/> and all
    /// together by <see cref="MaxArtifactBytesInAll"/> (IM4240 past it, the rest not read).
    /// A referrer found only under its own tag is fetched again here: the listing keeps descriptors, not 64 KiB manifests.
    /// </summary>
    public sealed class ReferrerListing : IDisposable
    {
        private readonly RegistryClient _client;
        private readonly OciReference _repository;
        private readonly Digest _subject;
        private readonly string _artifactType;
        private readonly IReadOnlyList<Descriptor> _referrers;

        internal ReferrerListing(RegistryClient client, OciReference repository, Digest subject, string artifactType, IReadOnlyList<Descriptor> referrers)
        {
            _client = client;
            _repository = repository;
            _subject = subject;
            _artifactType = artifactType;
            _referrers = referrers;
        }

        /// <summary>The referrers listed.</summary>
        public int Count => _referrers.Count;

        public async IAsyncEnumerable<AttachedArtifact> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            long left = MaxArtifactBytesInAll;
            var read = 0;
            foreach (var referrer in _referrers)
            {
                var artifact = await ReadArtifactAsync(_client, _repository, referrer, _subject, _artifactType, left,
                    () => new StorageException(StorageErrorCodes.ReferrerTooLarge,
                        $"the {_artifactType} artifacts attached to {_repository.Registry}/{_repository.Repository}@{_subject} are over the {MaxArtifactBytesInAll}-byte cap in all; " +
                        $"{read} of {_referrers.Count} were read, the rest was not"),
                    cancellationToken).ConfigureAwait(false);
                left -= artifact.Content.Length;
                read++;
                yield return artifact;
            }
        }

        public void Dispose() => _client.Dispose();
    }

    /// <summary>
    /// The referrers API's answer and every next page it links to (<c>Link: rel="next"</c>, same host and repository):
    /// at most <see cref="MaxReferrerPages"/> pages and <see cref="MaxReferrers"/> referrers in all, each page bounded as
    /// the first; a referrer listed twice counts once.
    /// </summary>
    private static async Task<List<Referrer>> ReadApiPagesAsync(RegistryClient client, RegistryDocument first, OciReference repository, Digest subject, CancellationToken cancellationToken)
    {
        var entries = ParseIndex(first.Bytes, first.MediaType, repository, subject, "the referrers API answer");
        var next = first.Next;
        for (var page = 2; next is not null; page++)
        {
            if (page > MaxReferrerPages)
                throw Malformed($"the referrers API of {repository.Registry}/{repository.Repository} links more than {MaxReferrerPages} pages for {subject}; the rest was not read.");
            var answer = await client.TryGetDocumentAsync(client.PathOf(next), MediaTypes.OciIndex, MaxIndexBytes, () => IndexTooLarge(repository, subject),
                $"listing the referrers of {subject} (page {page})", cancellationToken).ConfigureAwait(false)
                ?? throw Malformed($"the referrers API of {repository.Registry}/{repository.Repository} links a page it does not serve ({next}).");
            entries = [.. entries.Concat(ParseIndex(answer.Bytes, answer.MediaType, repository, subject, $"page {page} of the referrers API answer")).DistinctBy(e => e.Digest)];
            if (entries.Count > MaxReferrers) throw TooMany(repository, subject, entries.Count);
            next = answer.Next;
        }

        return entries;
    }

    private sealed record Referrer(Descriptor Descriptor, string? ArtifactType)
    {
        public Digest Digest => Descriptor.Digest;
    }

    private static async Task PutBlobAsync(RegistryClient client, Descriptor blob, byte[] content, CancellationToken cancellationToken)
    {
        if (await client.BlobExistsAsync(blob.Digest, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var location = await client.StartUploadAsync(blob.Digest, null, cancellationToken).ConfigureAwait(false);
        using var stream = new MemoryStream(content, writable: false);
        await client.UploadMonolithicAsync(location!, blob, stream, null, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<Referrer>> ReadTagIndexAsync(RegistryClient client, Digest subject, CancellationToken cancellationToken)
    {
        var tag = FallbackTag(subject);
        var document = await client.TryGetDocumentAsync($"manifests/{tag}", MediaTypes.OciIndex, MaxIndexBytes,
            () => IndexTooLarge(client.Reference, subject), $"fetching the referrers tag {tag}", cancellationToken).ConfigureAwait(false);
        return document is { } d ? ParseIndex(d.Bytes, d.MediaType, client.Reference, subject, $"the referrers tag index {tag}") : [];
    }

    /// <summary>
    /// The referrers of <paramref name="artifactType"/> (null: of any type) tagged <see cref="ReferrerTag"/> that <paramref name="known"/>
    /// lacks (an index write of another attach dropped them): one tag listing that starts after the index's tag (the
    /// distribution API's <c>last</c>), at most <see cref="MaxReferrers"/> tags; each manifest read (bounded) and kept
    /// only when its bytes hash to the digest its tag names. The rest of the checks are the index entries' own.
    /// </summary>
    private static async Task<List<Referrer>> TaggedReferrersAsync(RegistryClient client, Digest subject, string? artifactType, List<Referrer> known, CancellationToken cancellationToken)
    {
        var prefix = FallbackTag(subject) + ".";
        var where = $"the tags of {client.Reference.Registry}/{client.Reference.Repository}";
        RegistryDocument? listing;
        try
        {
            listing = await client.TryGetDocumentAsync($"tags/list?n={MaxReferrers}&last={Uri.EscapeDataString(FallbackTag(subject))}", "application/json", MaxTagListBytes,
                () => new StorageException(StorageErrorCodes.ReferrerTooLarge, $"{where} listed from {FallbackTag(subject)} are over the {MaxTagListBytes}-byte cap; the rest was not read."),
                $"listing {where}", cancellationToken).ConfigureAwait(false);
        }
        catch (StorageException e) when (e.Code == StorageErrorCodes.AuthenticationFailed || e.Code == StorageErrorCodes.PeerRejected)
        {
            // A registry that lets this client pull but not list tags: the index is all there is to read.
            return [];
        }

        if (listing is not { } list)
        {
            return [];
        }

        using var doc = ParseJson(list.Bytes, where);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("tags", out var tags) || tags.ValueKind != JsonValueKind.Array)
        {
            return []; // "tags": null, an empty repository
        }

        // A registry that ignores `last` lists from the start: every tag is looked at, only the referrer tags kept.
        var missing = tags.EnumerateArray()
            .Select(t => t.ValueKind == JsonValueKind.String ? t.GetString() : null)
            .Where(t => t is not null && t.StartsWith(prefix, StringComparison.Ordinal) && t.Length == prefix.Length + 32)
            .Select(t => t!)
            .Where(t => !known.Exists(e => e.Digest.Hex.StartsWith(t[prefix.Length..], StringComparison.Ordinal)))
            .ToList();
        if (known.Count + missing.Count > MaxReferrers)
        {
            throw TooMany(client.Reference, subject, known.Count + missing.Count);
        }

        var found = new List<Referrer>();
        foreach (var tag in missing)
        {
            var named = tag[prefix.Length..];
            var manifest = await client.TryGetDocumentAsync($"manifests/{tag}", MediaTypes.OciManifest, MaxManifestBytes,
                () => new StorageException(StorageErrorCodes.ReferrerTooLarge, $"the manifest tagged {tag} is over the {MaxManifestBytes}-byte cap on a referrer manifest; the rest was not read."),
                $"fetching the referrer tagged {tag}", cancellationToken).ConfigureAwait(false);
            if (manifest is not { } m || Digest.Compute(m.Bytes) is var digest && !digest.Hex.StartsWith(named, StringComparison.Ordinal))
            {
                continue; // gone since the listing, or not what its name says: not a referrer InfraMind wrote
            }

            using var referrer = ParseJson(m.Bytes, $"the manifest tagged {tag}");
            if (referrer.RootElement.ValueKind == JsonValueKind.Object && referrer.RootElement.TryGetProperty("artifactType", out var at)
                && at.ValueKind == JsonValueKind.String && at.GetString() is { } type && (artifactType is null || type == artifactType))
            {
                // The index entry carries the manifest's annotations, as the referrers API's entries do.
                var annotations = Descriptor.ReadAnnotations(referrer.RootElement);
                found.Add(new Referrer(new Descriptor(MediaTypes.OciManifest, digest, m.Bytes.Length, annotations is { Count: > 0 } ? annotations : null), type));
            }
        }

        return found;
    }

    private static List<Referrer> ParseIndex(byte[] bytes, string? mediaType, OciReference repository, Digest subject, string where)
    {
        where = $"{where} of {repository.Registry}/{repository.Repository}";
        using var doc = ParseJson(bytes, where);
        var root = doc.RootElement;
        var declared = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : mediaType;
        if (declared != MediaTypes.OciIndex || !root.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
        {
            throw Malformed($"{where} is not an OCI image index ({MediaTypes.OciIndex} with a manifests array).");
        }

        if (manifests.GetArrayLength() > MaxReferrers)
        {
            throw TooMany(repository, subject, manifests.GetArrayLength());
        }

        var entries = new List<Referrer>();
        var i = 0;
        foreach (var m in manifests.EnumerateArray())
        {
            Descriptor descriptor;
            try
            {
                descriptor = Descriptor.Read(m, $"{where} /manifests/{i}");
            }
            catch (OciException e)
            {
                throw Malformed(e.Message);
            }

            var artifactType = m.TryGetProperty("artifactType", out var at) && at.ValueKind == JsonValueKind.String ? at.GetString() : null;
            entries.Add(new Referrer(descriptor, artifactType));
            i++;
        }

        return entries;
    }

    /// <summary>One referrer's artifact, read and checked; its layer is bounded by <see cref="MaxArtifactBytes"/>, and by <paramref name="left"/> with <paramref name="overAll"/> as the error.</summary>
    private static async Task<AttachedArtifact> ReadArtifactAsync(RegistryClient client, OciReference repository, Descriptor referrer, Digest subject, string artifactType,
        long left, Func<StorageException> overAll, CancellationToken cancellationToken)
    {
        var where = $"referrer {referrer.Digest} of {repository.Registry}/{repository.Repository}@{subject}";
        if (referrer.Size > MaxManifestBytes)
        {
            throw new StorageException(StorageErrorCodes.ReferrerTooLarge, $"{where} declares {referrer.Size} bytes, over the {MaxManifestBytes}-byte cap on a referrer manifest; it was not read.");
        }

        var document = await client.TryGetDocumentAsync($"manifests/{referrer.Digest}", MediaTypes.OciManifest, MaxManifestBytes,
            () => new StorageException(StorageErrorCodes.ReferrerTooLarge, $"{where} is over the {MaxManifestBytes}-byte cap on a referrer manifest; the rest was not read."),
            $"fetching {where}", cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException(StorageErrorCodes.NotFound, $"{where} is listed in the referrers index but the registry does not have it.");
        if (Digest.Compute(document.Bytes) != referrer.Digest)
        {
            throw Malformed($"{where}: the registry's bytes hash to {Digest.Compute(document.Bytes)}, not the digest that names them.");
        }

        using var doc = ParseJson(document.Bytes, where);
        var root = doc.RootElement;
        Descriptor layer;
        try
        {
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("mediaType", out var mt) || mt.ValueKind != JsonValueKind.String || mt.GetString() != MediaTypes.OciManifest)
            {
                throw Malformed($"{where} is not an OCI image manifest ({MediaTypes.OciManifest}).");
            }

            if (!root.TryGetProperty("artifactType", out var at) || at.ValueKind != JsonValueKind.String || at.GetString() != artifactType)
            {
                throw Malformed($"{where} has artifactType {(root.TryGetProperty("artifactType", out var a) ? a.ToString() : "(none)")}, not {artifactType}.");
            }

            if (!root.TryGetProperty("subject", out var s) || Descriptor.Read(s, $"{where} /subject").Digest != subject)
            {
                throw Malformed($"{where} does not name {subject} as its subject: it is attached to another image.");
            }

            if (!root.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array || layers.GetArrayLength() != 1)
            {
                throw Malformed($"{where} must have exactly one layer, the {artifactType}.");
            }

            layer = Descriptor.Read(layers[0], $"{where} /layers/0");
        }
        catch (OciException e)
        {
            throw Malformed(e.Message);
        }

        if (layer.MediaType != artifactType)
        {
            throw Malformed($"{where}: its layer is {layer.MediaType}, not {artifactType}.");
        }

        var tooLarge = () => new StorageException(StorageErrorCodes.ReferrerTooLarge, $"{where}: its layer {layer.Digest} is over the {MaxArtifactBytes}-byte cap; the rest was not read.");
        var cap = (int)Math.Min(MaxArtifactBytes, left);
        Func<StorageException> over = cap < MaxArtifactBytes ? overAll : tooLarge;
        if (layer.Size > cap)
        {
            throw over();
        }

        var content = await client.ReadBlobAsync(layer.Digest, cap, over, cancellationToken).ConfigureAwait(false);
        if (Digest.Compute(content) != layer.Digest || content.Length != layer.Size)
        {
            throw Malformed($"{where}: the registry's layer bytes ({content.Length}) hash to {Digest.Compute(content)}, not {layer.Digest} ({layer.Size} bytes).");
        }

        return new AttachedArtifact(referrer.Digest, content);
    }

    /// <summary>The referrer manifest: fixed field order, no timestamp, so the same artifact always has the same digest.</summary>
    private static byte[] ReferrerManifest(Descriptor subject, string artifactType, Descriptor config, Descriptor layer, IReadOnlyDictionary<string, string>? annotations)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", MediaTypes.OciManifest);
            w.WriteString("artifactType", artifactType);
            w.WritePropertyName("config");
            config.WriteTo(w);
            w.WriteStartArray("layers");
            layer.WriteTo(w);
            w.WriteEndArray();
            w.WritePropertyName("subject");
            (subject with { Annotations = null }).WriteTo(w);
            Descriptor.WriteAnnotations(w, annotations);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static byte[] ReferrersIndex(IEnumerable<Referrer> entries)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", 2);
            w.WriteString("mediaType", MediaTypes.OciIndex);
            w.WriteStartArray("manifests");
            foreach (var e in entries)
            {
                // Descriptor.WriteTo knows no artifactType; a referrers index entry carries it, so it is written here.
                w.WriteStartObject();
                w.WriteString("mediaType", e.Descriptor.MediaType);
                w.WriteString("digest", e.Descriptor.Digest.Value);
                w.WriteNumber("size", e.Descriptor.Size);
                if (e.ArtifactType is { } type)
                {
                    w.WriteString("artifactType", type);
                }

                Descriptor.WriteAnnotations(w, e.Descriptor.Annotations);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static JsonDocument ParseJson(byte[] bytes, string where)
    {
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw new StorageException(StorageErrorCodes.ReferrerMalformed, $"{where} is not JSON: {e.Message}", e);
        }
    }

    private static StorageException Malformed(string message) => new(StorageErrorCodes.ReferrerMalformed, message);

    private static StorageException IndexTooLarge(OciReference repository, Digest subject) =>
        new(StorageErrorCodes.ReferrerTooLarge, $"the referrers index of {repository.Registry}/{repository.Repository}@{subject} is over the {MaxIndexBytes}-byte cap; the rest was not read.");

    private static StorageException TooMany(OciReference repository, Digest subject, int count) =>
        new(StorageErrorCodes.TooManyReferrers, $"{repository.Registry}/{repository.Repository}@{subject} has {count} referrers, over the cap of {MaxReferrers}.");
}

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
public sealed partial class OciReferrers(PeerOptions options)
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

    /// <summary>The tag the referrers tag schema uses for <paramref name="subject"/>.</summary>
    public static string FallbackTag(Digest subject) => "sha256-" + subject.Hex;

    /// <summary>The tag of one referrer of <paramref name="subject"/> where the tag schema is used (104 characters, under the 128 a tag may have).</summary>
    public static string ReferrerTag(Digest subject, Digest referrer) => FallbackTag(subject) + "." + referrer.Hex[..32];

    /// <summary>The most bytes of the one tag listing read (1,024 tags of at most 128 characters, quoted).</summary>
    public const int MaxTagListBytes = 160 << 10;

    private sealed record Referrer(Descriptor Descriptor, string? ArtifactType)
    {
        public Digest Digest => Descriptor.Digest;
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

using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>Reading an image's referrers: the listing (referrers API pages, or the tag index and the referrer tags) and the artifacts, one at a time.</summary>
public sealed partial class OciReferrers
{
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
            ?? throw new StorageException(StorageErrorCodes.NotFound, $"{where} is listed in the referrers index but the registry does not have it.",
                hint: "the registry lost a referrer it lists: publish again to attach a fresh one");
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
}

using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>Attaching an artifact: the referrer manifest, its blobs, and the tag index where the registry has no referrers API.</summary>
public sealed partial class OciReferrers
{
    private static readonly byte[] EmptyConfig = "{}"u8.ToArray();

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
            throw new StorageException(StorageErrorCodes.PeerRejected, $"{repository.Registry} stored the referrer manifest under {s}, not {digest}; it rewrote the manifest",
                hint: "use a registry that stores manifests as sent");
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
                await RegistryClient.RaceBackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
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
}

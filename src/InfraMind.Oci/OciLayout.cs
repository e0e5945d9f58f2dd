namespace InfraMind.Oci;

/// <summary>One image of an OCI image layout: its manifest (whose digest is "the container hash"), config and layers.</summary>
/// <param name="Manifest">Descriptor of the image manifest, with the index.json annotations (ref name).</param>
/// <param name="RepoTags">Names such as <c>model:1.0</c> that <c>docker load</c> gives the image.</param>
public sealed record OciImage(Descriptor Manifest, Descriptor Config, IReadOnlyList<Descriptor> Layers, IReadOnlyList<string> RepoTags)
{
    /// <summary>The image manifest digest, InfraMind's container hash.</summary>
    public Digest ManifestDigest => Manifest.Digest;
}

/// <summary>An OCI image layout on disk (oci-layout, index.json, blobs/sha256/…) whose blobs were verified.</summary>
public sealed record OciLayout(string Directory, IReadOnlyList<OciImage> Images)
{
    public string BlobPath(Digest digest) => Path.Combine(Directory, "blobs", "sha256", digest.Hex);
}

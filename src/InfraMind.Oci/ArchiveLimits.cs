namespace InfraMind.Oci;

/// <summary>
/// What an archive or layout may ask of its reader. Archives come from strangers (a publisher's https:// or ipfs://
/// reference, a file someone sent): without bounds an index that lists one large manifest hundreds of times, or
/// indexes nested deep, cost minutes of CPU and gigabytes of memory. Each bound is far above what a real image needs
/// (Docker itself stops at 127 layers); crossing one is <see cref="OciErrorCodes.ArchiveLimit"/>, naming the bound.
/// Descriptors are also deduplicated: one manifest listed twice is read once.
/// </summary>
public static class ArchiveLimits
{
    /// <summary>Descriptors one index document may list.</summary>
    public const int MaxIndexEntries = 64;

    /// <summary>Distinct image manifests one archive may hold (after deduplication).</summary>
    public const int MaxImages = 16;

    /// <summary>Indexes nested in indexes below index.json.</summary>
    public const int MaxIndexDepth = 4;

    /// <summary>Layers one image may have.</summary>
    public const int MaxLayers = 256;

    /// <summary>Bytes of one manifest or index document (a 256-layer manifest is about 40 KiB).</summary>
    public const long MaxManifestBytes = 4L << 20;

    /// <summary>Bytes of an image config, which carries the build history.</summary>
    public const long MaxConfigBytes = 16L << 20;

    /// <summary>Entries (files, directories, links) one archive may hold.</summary>
    public const int MaxTarEntries = 8192;

    /// <summary>
    /// How many times its compressed size a compressed layer may decompress to (past the allowance below). Real layer
    /// tars compress 1-10 times; deflate's ceiling is about 1032 and zstd's is far higher, which is what a bomb uses.
    /// </summary>
    public const long MaxLayerExpansion = 100;

    /// <summary>Decompressed bytes every compressed layer may have whatever its compressed size (small layers of text compress well).</summary>
    public const long MinDecompressedLayerAllowance = 256L << 20;

    /// <summary>
    /// Decompressed bytes a layer of <paramref name="compressedSize"/> bytes may give: the larger of
    /// <see cref="MinDecompressedLayerAllowance"/> and <see cref="MaxLayerExpansion"/> times the compressed size.
    /// Counted on every read inside a layer, so a bomb costs at most that much reading, never memory.
    /// </summary>
    public static long MaxDecompressedLayerBytes(long compressedSize) =>
        Math.Max(MinDecompressedLayerAllowance, compressedSize > long.MaxValue / MaxLayerExpansion ? long.MaxValue : compressedSize * MaxLayerExpansion);
}

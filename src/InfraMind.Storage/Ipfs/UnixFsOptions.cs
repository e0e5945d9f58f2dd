namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Import settings of <c>ipfs add</c>. The defaults are kubo's (CIDv0, dag-pb leaves, 256 KiB fixed chunks,
/// balanced layout with 174 links per node). A CID can only be reproduced with the settings it was made with,
/// so record them beside it.
/// </summary>
public sealed record UnixFsOptions
{
    public const int DefaultChunkSize = 262144;
    public const int DefaultMaxLinks = 174;

    // kubo refuses blocks above 1 MiB on the wire (bitswap), so a larger chunk could not be shared anyway.
    public const int MaxChunkSize = 1 << 20;

    /// <summary><c>ipfs add</c> with no flags.</summary>
    public static UnixFsOptions KuboDefault { get; } = new();

    /// <summary><c>ipfs add --cid-version 1</c> (which implies <c>--raw-leaves</c>).</summary>
    public static UnixFsOptions KuboCidV1 { get; } = new() { CidVersion = 1 };

    /// <summary>0 (<c>Qm…</c>) or 1 (<c>b…</c>).</summary>
    public int CidVersion { get; init; }

    /// <summary>Leaves as raw blocks instead of UnixFS dag-pb nodes; null means kubo's rule: true for CIDv1.</summary>
    public bool? RawLeaves { get; init; }

    public int ChunkSize { get; init; } = DefaultChunkSize;

    public int MaxLinks { get; init; } = DefaultMaxLinks;

    /// <summary>When set, the file is wrapped in a directory with this one entry (<c>--wrap-with-directory</c>).</summary>
    public string? WrapName { get; init; }

    /// <summary>Whether leaves are raw blocks: <see cref="RawLeaves"/>, or kubo's rule when unset.</summary>
    public bool EffectiveRawLeaves => RawLeaves ?? CidVersion == 1;

    /// <summary>The chunker as <c>ipfs add --chunker</c> names it, e.g. <c>size-262144</c>.</summary>
    public string Chunker => $"size-{ChunkSize}";

    /// <summary>The settings as the <c>ipfs add</c> flags that reproduce them.</summary>
    public string ToCommandLine()
    {
        var parts = new List<string> { "ipfs add" };
        if (CidVersion != 0)
        {
            parts.Add($"--cid-version={CidVersion}");
        }

        if (RawLeaves is not null && RawLeaves != (CidVersion == 1))
        {
            parts.Add($"--raw-leaves={(RawLeaves == true ? "true" : "false")}");
        }

        if (ChunkSize != DefaultChunkSize)
        {
            parts.Add($"--chunker={Chunker}");
        }

        if (MaxLinks != DefaultMaxLinks)
        {
            parts.Add($"(max {MaxLinks} links per node)");
        }

        if (WrapName is not null)
        {
            parts.Add($"--wrap-with-directory (entry '{WrapName}')");
        }

        return string.Join(' ', parts);
    }

    internal void Validate()
    {
        var errors = new List<string>();
        if (CidVersion is not (0 or 1))
        {
            errors.Add($"CidVersion is {CidVersion}; use 0 or 1.");
        }

        if (ChunkSize is < 1 or > MaxChunkSize)
        {
            errors.Add($"ChunkSize is {ChunkSize}; use 1 to {MaxChunkSize} bytes (kubo's default is {DefaultChunkSize}).");
        }

        if (MaxLinks < 2)
        {
            errors.Add($"MaxLinks is {MaxLinks}; a tree needs at least 2 links per node (kubo's default is {DefaultMaxLinks}).");
        }

        if (WrapName is not null && (WrapName.Length == 0 || WrapName.Contains('/', StringComparison.Ordinal)))
        {
            errors.Add($"WrapName '{WrapName}' must be a non-empty file name without '/'.");
        }

        if (errors.Count > 0)
        {
            throw new IpfsException(IpfsErrorCodes.InvalidOptions, "invalid UnixFS import options: " + string.Join(" ", errors));
        }
    }
}

/// <summary>The outcome of an import.</summary>
/// <param name="Root">What <c>ipfs add</c> prints last: the directory CID when wrapped, else the file CID.</param>
/// <param name="File">The CID of the file DAG.</param>
/// <param name="FileSize">Bytes of content read.</param>
/// <param name="DagSize">Cumulative size of all blocks under <paramref name="Root"/> (the Tsize a parent link would carry).</param>
/// <param name="BlockCount">Number of blocks emitted, root included.</param>
public sealed record UnixFsResult(Cid Root, Cid File, long FileSize, long DagSize, long BlockCount)
{
    /// <summary>The wrapping directory's CID, or null when the file was not wrapped.</summary>
    public Cid? Directory => Root == File ? null : Root;
}

/// <summary>
/// One block of the DAG, emitted leaves first and each parent after its children (so a receiver can check every
/// link it meets). <see cref="Data"/> is only valid during the callback that receives it; copy it to keep it.
/// </summary>
internal readonly record struct UnixFsBlock(Cid Cid, ReadOnlyMemory<byte> Data);

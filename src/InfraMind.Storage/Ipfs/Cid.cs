using System.Diagnostics.CodeAnalysis;

namespace InfraMind.Storage.Ipfs;

/// <summary>
/// A content identifier with a sha2-256 multihash: CIDv0 (<c>Qm…</c>, always dag-pb) or CIDv1 (dag-pb or raw).
/// Parses base58btc (<c>Qm…</c>, <c>z…</c>) and base32 (<c>b…</c>); formats v0 as base58btc and v1 as base32
/// lower case, as kubo prints them.
/// </summary>
public sealed class Cid : IEquatable<Cid>
{
    public const ulong DagPbCodec = 0x70;
    public const ulong RawCodec = 0x55;
    internal const byte Sha256Code = 0x12;
    internal const int Sha256Length = 32;

    /// <summary>
    /// Characters of the longest CID text read: the longest CID InfraMind reads has 59 (a CIDv1 in base32). Checked
    /// before decoding, as base58's decoding takes time in the square of the length (a 700 KB reference in a publish
    /// statement would take minutes).
    /// </summary>
    public const int MaxTextLength = 100;

    private readonly byte[] _bytes;

    private Cid(int version, ulong codec, byte[] bytes)
    {
        Version = version;
        Codec = codec;
        _bytes = bytes;
    }

    public int Version { get; }

    /// <summary>Multicodec of the block: <see cref="DagPbCodec"/> or <see cref="RawCodec"/>.</summary>
    public ulong Codec { get; }

    /// <summary>The binary CID as it appears inside dag-pb links.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>The 32-byte sha2-256 digest of the block.</summary>
    public ReadOnlySpan<byte> Hash => _bytes.AsSpan(_bytes.Length - Sha256Length);

    public static Cid FromSha256(int version, ulong codec, ReadOnlySpan<byte> sha256)
    {
        if (sha256.Length != Sha256Length)
        {
            throw new ArgumentException("a sha2-256 digest has 32 bytes", nameof(sha256));
        }

        if (version == 0)
        {
            if (codec != DagPbCodec)
            {
                throw new IpfsException(IpfsErrorCodes.InvalidCid, "CIDv0 can only name dag-pb blocks; raw leaves need CIDv1.");
            }

            var v0 = new byte[2 + Sha256Length];
            v0[0] = Sha256Code;
            v0[1] = Sha256Length;
            sha256.CopyTo(v0.AsSpan(2));
            return new Cid(0, DagPbCodec, v0);
        }

        if (version != 1)
        {
            throw new IpfsException(IpfsErrorCodes.InvalidCid, $"CID version {version} does not exist; use 0 or 1.");
        }

        Span<byte> prefix = stackalloc byte[16];
        int n = 0;
        prefix[n++] = 1;
        n += Varint.Write(prefix[n..], codec);
        prefix[n++] = Sha256Code;
        prefix[n++] = Sha256Length;
        var bytes = new byte[n + Sha256Length];
        prefix[..n].CopyTo(bytes);
        sha256.CopyTo(bytes.AsSpan(n));
        return new Cid(1, codec, bytes);
    }

    public static Cid Parse(string text)
    {
        if (TryParse(text, out var cid, out string error))
        {
            return cid;
        }

        throw new IpfsException(IpfsErrorCodes.InvalidCid, error);
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Cid? cid) => TryParse(text, out cid, out _);

    private static bool TryParse(string? text, [NotNullWhen(true)] out Cid? cid, out string error)
    {
        cid = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "a CID is empty; it looks like Qm… (v0) or b… (v1).";
            return false;
        }

        string shown = TerminalText.Quote(text, 77);
        if (text.Length > MaxTextLength)
        {
            error = $"{TerminalText.Quote(text, 77, sayLength: true)} is not a CID: a CID has at most {MaxTextLength} characters.";
            return false;
        }

        byte[]? bytes;
        if (text.Length == 46 && text.StartsWith("Qm", StringComparison.Ordinal))
        {
            bytes = Multibase.DecodeBase58(text);
        }
        else if (text[0] == 'z')
        {
            bytes = Multibase.DecodeBase58(text.AsSpan(1));
        }
        else if (text[0] is 'b' or 'B')
        {
            bytes = Multibase.DecodeBase32(text.AsSpan(1));
        }
        else
        {
            error = $"{shown} is not a CID InfraMind reads: expected Qm… (CIDv0), b… (CIDv1 base32) or z… (CIDv1 base58btc).";
            return false;
        }

        if (bytes is null)
        {
            error = $"{shown} contains characters outside its multibase alphabet.";
            return false;
        }

        return TryFromBytes(bytes, shown, out cid, out error);
    }

    /// <summary>Reads a binary CID (as found in a dag-pb link).</summary>
    public static Cid FromBytes(ReadOnlySpan<byte> bytes) =>
        TryFromBytes(bytes.ToArray(), "0x" + TerminalText.Shorten(Convert.ToHexStringLower(bytes), 80), out var cid, out string error)
            ? cid
            : throw new IpfsException(IpfsErrorCodes.InvalidCid, error);

    private static bool TryFromBytes(byte[] bytes, string shown, [NotNullWhen(true)] out Cid? cid, out string error)
    {
        cid = null;
        if (bytes.Length == 2 + Sha256Length && bytes[0] == Sha256Code && bytes[1] == Sha256Length)
        {
            cid = new Cid(0, DagPbCodec, bytes);
            error = string.Empty;
            return true;
        }

        int n = 0;
        if (!Varint.TryRead(bytes, ref n, out ulong version) || version != 1)
        {
            error = $"{shown} is not a CIDv0 sha2-256 multihash nor a CIDv1.";
            return false;
        }

        if (!Varint.TryRead(bytes, ref n, out ulong codec) || (codec != DagPbCodec && codec != RawCodec))
        {
            error = $"{shown} uses multicodec 0x{codec:x}; only dag-pb (0x70) and raw (0x55), which UnixFS files use, are supported.";
            return false;
        }

        ulong hashLength = 0;
        if (!Varint.TryRead(bytes, ref n, out ulong hashCode) || hashCode != Sha256Code
            || !Varint.TryRead(bytes, ref n, out hashLength) || hashLength != Sha256Length
            || bytes.Length - n != Sha256Length)
        {
            error = $"{shown} does not carry a sha2-256 multihash of 32 bytes; only sha2-256 is supported.";
            return false;
        }

        cid = new Cid(1, codec, bytes);
        error = string.Empty;
        return true;
    }

    /// <summary>The same block named as CIDv1 (what kubo's <c>ipfs cid format -v 1</c> gives).</summary>
    public Cid ToV1() => Version == 1 ? this : FromSha256(1, Codec, Hash);

    public override string ToString() => Version == 0 ? Multibase.EncodeBase58(_bytes) : "b" + Multibase.EncodeBase32(_bytes);

    /// <summary>CIDv1 in base58btc (<c>z…</c>), as js-ipfs prints it unless asked for base32.</summary>
    public string ToBase58String() => Version == 0 ? ToString() : "z" + Multibase.EncodeBase58(_bytes);

    public bool Equals(Cid? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as Cid);

    public override int GetHashCode() => BitConverter.ToInt32(_bytes, _bytes.Length - 4);

    public static bool operator ==(Cid? left, Cid? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Cid? left, Cid? right) => !(left == right);
}

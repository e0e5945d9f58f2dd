namespace InfraMind.Storage.Ipfs;

/// <summary>Unsigned LEB128 varints, used by protobuf and by CIDs/multihashes alike.</summary>
internal static class Varint
{
    public static int Size(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }

    public static int Write(Span<byte> target, ulong value)
    {
        int n = 0;
        while (value >= 0x80)
        {
            target[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        target[n++] = (byte)value;
        return n;
    }

    /// <summary>Bytes of the longest varint read: 9, 63 bits, as the multiformats unsigned-varint spec (and kubo) allow.</summary>
    public const int MaxLength = 9;

    /// <summary>
    /// Reads a varint in its one canonical form: at most <see cref="MaxLength"/> bytes and minimal (no trailing 0x00
    /// group), as kubo's go-varint requires. Any other encoding would let two byte strings name the same value.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, ref int offset, out ulong value)
    {
        value = 0;
        for (int i = 0; i < MaxLength && offset < source.Length; i++)
        {
            byte b = source[offset++];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80)
            {
                return b != 0 || i == 0;
            }
        }

        return false;
    }
}

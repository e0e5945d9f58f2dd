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

    public static bool TryRead(ReadOnlySpan<byte> source, ref int offset, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && offset < source.Length; shift += 7)
        {
            byte b = source[offset++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}

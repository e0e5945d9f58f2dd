namespace InfraMind.Storage.Ipfs;

/// <summary>A child link as the builder keeps it: CID, cumulative DAG size below it, file bytes below it.</summary>
internal readonly record struct DagLink(Cid Cid, long Tsize, long FileSize);

/// <summary>
/// The dag-pb (PBNode/PBLink) and UnixFS Data encodings. Hand-written instead of a protobuf library: the schema is
/// four tiny messages, and the CID is a hash of the exact bytes, so field order (Links before Data in PBNode, as
/// dag-pb's canonical form requires), which optional fields appear (an empty link Name is written, a missing leaf
/// Data is not) and non-packed blocksizes must match kubo byte for byte, which is easier to see and test here than
/// to coax out of a general serializer.
/// </summary>
internal static class DagPb
{
    private const byte UnixFsTypeDirectory = 1;
    private const byte UnixFsTypeFile = 2;

    /// <summary>Room to leave before leaf data so the header can be written in place.</summary>
    public const int LeafHeadroom = 16;

    /// <summary>Room to leave after leaf data for the filesize trailer.</summary>
    public const int LeafTailroom = 11;

    /// <summary>
    /// Frames <paramref name="dataLength"/> bytes already at <c>buffer[LeafHeadroom..]</c> as a dag-pb UnixFS File
    /// leaf, writing header and trailer around them; returns where the block starts and its length.
    /// </summary>
    public static (int Offset, int Length) FrameLeaf(Span<byte> buffer, int dataLength)
    {
        ulong n = (ulong)dataLength;
        int dataField = dataLength == 0 ? 0 : 1 + Varint.Size(n) + dataLength;
        int unixFsLength = 2 + dataField + 1 + Varint.Size(n);
        int headerLength = 1 + Varint.Size((ulong)unixFsLength) + 2 + (dataLength == 0 ? 0 : 1 + Varint.Size(n));
        int start = LeafHeadroom - headerLength;
        var header = buffer[start..LeafHeadroom];
        int h = 0;
        header[h++] = 0x0a; // PBNode.Data
        h += Varint.Write(header[h..], (ulong)unixFsLength);
        header[h++] = 0x08; // UnixFS.Type
        header[h++] = UnixFsTypeFile;
        if (dataLength > 0)
        {
            header[h++] = 0x12; // UnixFS.Data
            Varint.Write(header[h..], n);
        }

        int t = LeafHeadroom + dataLength;
        buffer[t++] = 0x18; // UnixFS.filesize
        t += Varint.Write(buffer[t..], n);
        return (start, t - start);
    }

    /// <summary>An internal node of a file: links to its children, UnixFS File with filesize and blocksizes.</summary>
    public static byte[] EncodeFileNode(List<DagLink> links)
    {
        long fileSize = 0;
        int unixFsLength = 2;
        foreach (var link in links)
        {
            fileSize += link.FileSize;
            unixFsLength += 1 + Varint.Size((ulong)link.FileSize);
        }

        unixFsLength += 1 + Varint.Size((ulong)fileSize);
        var unixFs = new byte[unixFsLength];
        int u = 0;
        unixFs[u++] = 0x08;
        unixFs[u++] = UnixFsTypeFile;
        unixFs[u++] = 0x18;
        u += Varint.Write(unixFs.AsSpan(u), (ulong)fileSize);
        foreach (var link in links)
        {
            unixFs[u++] = 0x20; // UnixFS.blocksizes, one field per value (proto2, not packed)
            u += Varint.Write(unixFs.AsSpan(u), (ulong)link.FileSize);
        }

        return EncodeNode(links.Select(l => (l.Cid, string.Empty, l.Tsize)), unixFs);
    }

    /// <summary>A UnixFS directory node (<c>--wrap-with-directory</c>); links must be sorted by name.</summary>
    public static byte[] EncodeDirectory(IEnumerable<(Cid Cid, string Name, long Tsize)> links) =>
        EncodeNode(links, [0x08, UnixFsTypeDirectory]);

    private static byte[] EncodeNode(IEnumerable<(Cid Cid, string Name, long Tsize)> links, byte[] unixFs)
    {
        using var ms = new MemoryStream();
        var scratch = new byte[10];
        void WriteVarint(ulong v) => ms.Write(scratch, 0, Varint.Write(scratch, v));

        foreach (var (cid, name, tsize) in links)
        {
            byte[] nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
            var hash = cid.Bytes.Span;
            int linkLength = 1 + Varint.Size((ulong)hash.Length) + hash.Length
                + 1 + Varint.Size((ulong)nameBytes.Length) + nameBytes.Length
                + 1 + Varint.Size((ulong)tsize);
            ms.WriteByte(0x12); // PBNode.Links
            WriteVarint((ulong)linkLength);
            ms.WriteByte(0x0a); // PBLink.Hash
            WriteVarint((ulong)hash.Length);
            ms.Write(hash);
            ms.WriteByte(0x12); // PBLink.Name, written even when empty, as kubo does
            WriteVarint((ulong)nameBytes.Length);
            ms.Write(nameBytes);
            ms.WriteByte(0x18); // PBLink.Tsize
            WriteVarint((ulong)tsize);
        }

        ms.WriteByte(0x0a); // PBNode.Data
        WriteVarint((ulong)unixFs.Length);
        ms.Write(unixFs);
        return ms.ToArray();
    }
}

using System.IO.Compression;

namespace InfraMind.Testing;

/// <summary>
/// Bytes small on the wire and huge inflated (a gRPC message, an HTTP body sent with Content-Encoding: gzip): gzip members of 1 MiB of zeros each, one after another
/// (gzip allows several members in one stream, and .NET's GZipStream reads them all): about 1 KiB per MiB inflated.
/// </summary>
public static class GzipBomb
{
    public static byte[] Of(int mebibytes)
    {
        using var one = new MemoryStream();
        using (var gzip = new GZipStream(one, CompressionLevel.SmallestSize, leaveOpen: true)) gzip.Write(new byte[1 << 20]);
        var member = one.ToArray();
        var all = new byte[member.Length * mebibytes];
        for (var i = 0; i < mebibytes; i++) member.CopyTo(all, i * member.Length);
        return all;
    }

    /// <summary>How many bytes <paramref name="bomb"/> inflates to, counted through one small buffer (nothing kept).</summary>
    public static long Inflated(byte[] bomb)
    {
        using var gzip = new GZipStream(new MemoryStream(bomb), CompressionMode.Decompress);
        var buffer = new byte[64 * 1024];
        long total = 0;
        for (int read; (read = gzip.Read(buffer)) > 0;) total += read;
        return total;
    }
}

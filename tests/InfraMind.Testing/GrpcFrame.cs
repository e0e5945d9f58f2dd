using System.Buffers.Binary;

namespace InfraMind.Testing;

/// <summary>
/// One gRPC length-prefixed message as it travels on HTTP/2 (a byte for the compressed flag, the message's length as
/// four big-endian bytes, then the message), for tests that write a peer's bytes by hand: what a well-behaved gRPC
/// stack would never send (a gzip bomb), or an answer with no server library behind it.
/// </summary>
public static class GrpcFrame
{
    public static byte[] Of(ReadOnlySpan<byte> message, bool compressed = false)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }
}

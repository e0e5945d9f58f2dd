using System.Net.Sockets;
using System.Text;
using InfraMind.Serving.Grpc;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>
/// <see cref="ProtocolSniffer"/> against a port that answers with set bytes, at once or a byte at a time, then closes
/// or says nothing more (as a server waiting for the rest of a request does): what it sends, which first bytes are HTTP/1 or an
/// HTTP/2 frame, and that it reads no further than a frame header.
/// </summary>
public sealed class ProtocolSnifferTests
{
    private static readonly TimeSpan Time = TimeSpan.FromSeconds(5);

    private static readonly byte[] Settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];

    [Fact]
    public async Task It_greets_with_the_HTTP2_client_preface_and_an_empty_SETTINGS_frame()
    {
        var port = new Port(Settings) { Hang = true };
        Assert.Equal(PortProtocol.Http2, await ProtocolSniffer.SniffAsync(port, Time, CancellationToken.None));
        Assert.Equal([.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0], port.Written);
    }

    [Theory]
    // A SETTINGS or GOAWAY frame header on stream 0 (the stream id's reserved bit is not read), whatever its length and flags.
    [InlineData(PortProtocol.Http2, new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 })]
    [InlineData(PortProtocol.Http2, new byte[] { 0, 0, 18, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100 })]
    [InlineData(PortProtocol.Http2, new byte[] { 0, 0, 8, 7, 0, 0, 0, 0, 0x80 })]
    [InlineData(PortProtocol.Http2, new byte[] { 0, 0, 0, 4, 1, 0, 0, 0, 0 })]
    // Another frame type, or a stream other than 0 (any byte of its id): no answer to a client preface.
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 1, 0, 0, 0, 0, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 5, 0, 0, 0, 0, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 4, 0, 1, 0, 0, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 4, 0, 0, 1, 0, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 4, 0, 0, 0, 1, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 1 })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 7, 0, 0, 0, 0, 0x7f })]
    // Eight bytes of a frame header and then nothing: no frame.
    [InlineData(PortProtocol.Unknown, new byte[] { 0, 0, 0, 4, 0, 0, 0, 0 })]
    [InlineData(PortProtocol.Unknown, new byte[] { })]
    [InlineData(PortProtocol.Unknown, new byte[] { 0 })]
    public async Task A_frame_header_on_stream_0_of_SETTINGS_or_GOAWAY_is_HTTP2(PortProtocol expected, byte[] answer)
    {
        Assert.Equal(expected, await ProtocolSniffer.SniffAsync(new Port(answer), Time, CancellationToken.None));
        Assert.Equal(expected, await ProtocolSniffer.SniffAsync(new Port(answer) { ByteAtATime = true }, Time, CancellationToken.None));
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\n", PortProtocol.Http1)]
    [InlineData("HTTP/", PortProtocol.Http1)]
    // A status line is HTTP/1 whatever follows its first five bytes.
    [InlineData("HTTP/1.1\0", PortProtocol.Http1)]
    // Text where a frame header should be (an HTTP/0.9-style error page): an HTTP/1 server all the same; every
    // printable ASCII character, tab, CR and LF is text.
    [InlineData("<html>", PortProtocol.Http1)]
    [InlineData(" ~\r\n\t", PortProtocol.Http1)]
    [InlineData("H", PortProtocol.Http1)]
    [InlineData("<html>\u007f", PortProtocol.Unknown)]
    [InlineData("<html>\u001f", PortProtocol.Unknown)]
    [InlineData("<html>\0", PortProtocol.Unknown)]
    [InlineData("\u000b", PortProtocol.Unknown)]
    public async Task An_HTTP1_status_line_or_text_is_HTTP1(string answer, PortProtocol expected)
    {
        var bytes = Encoding.Latin1.GetBytes(answer);
        Assert.Equal(expected, await ProtocolSniffer.SniffAsync(new Port(bytes), Time, CancellationToken.None));
        Assert.Equal(expected, await ProtocolSniffer.SniffAsync(new Port(bytes) { ByteAtATime = true }, Time, CancellationToken.None));
    }

    [Fact]
    public async Task Bytes_past_the_first_nine_are_not_read_so_text_after_a_frame_header_is_not_looked_at()
    {
        // Nine bytes of text, then a byte that is not: read no further than the nine, it is text.
        var port = new Port([.. "HTTP/1.1 "u8, 0]) { ByteAtATime = true, Hang = true };
        Assert.Equal(PortProtocol.Http1, await ProtocolSniffer.SniffAsync(port, Time, CancellationToken.None));
        Assert.Equal(9, port.Read);
        var text = new Port([.. "<!doctype"u8, 0]) { ByteAtATime = true, Hang = true };
        Assert.Equal(PortProtocol.Http1, await ProtocolSniffer.SniffAsync(text, Time, CancellationToken.None));
        Assert.Equal(9, text.Read);
    }

    [Fact]
    public async Task A_port_that_says_nothing_in_time_or_cannot_be_reached_is_unknown_and_a_caller_that_leaves_is_told()
    {
        var started = DateTime.UtcNow;
        Assert.Equal(PortProtocol.Unknown, await ProtocolSniffer.SniffAsync(new Port(null), TimeSpan.FromMilliseconds(100), CancellationToken.None));
        Assert.True(DateTime.UtcNow - started < Time);
        Assert.Equal(PortProtocol.Unknown, await ProtocolSniffer.SniffAsync(new Port([]) { Refuse = new IOException("reset") }, Time, CancellationToken.None));
        Assert.Equal(PortProtocol.Unknown,
            await ProtocolSniffer.SniffAsync(new Port([]) { Refuse = new SocketException((int)SocketError.ConnectionRefused) }, Time, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => ProtocolSniffer.SniffAsync(new Port([]) { Refuse = new InvalidOperationException() }, Time, CancellationToken.None));
        using var leaves = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ProtocolSniffer.SniffAsync(new Port(null), Time, leaves.Token));
        await Assert.ThrowsAsync<ArgumentNullException>(() => ProtocolSniffer.SniffAsync(null!, Time, CancellationToken.None));
    }

    [Fact]
    public void A_verdict_names_each_protocol()
    {
        Assert.Equal("HTTP/1.x (a REST server)", ProtocolSniffer.Describe(PortProtocol.Http1));
        Assert.Equal("HTTP/2 (h2c, as gRPC servers speak)", ProtocolSniffer.Describe(PortProtocol.Http2));
        Assert.Equal("nothing recognisable", ProtocolSniffer.Describe(PortProtocol.Unknown));
    }

    /// <summary>
    /// A port that answers <c>answer</c> (null: nothing until the reader gives up) and then closes the connection, or
    /// waits as a server does for the rest of a request.
    /// </summary>
    private sealed class Port(byte[]? answer) : IModelConnector
    {
        private readonly List<byte> _written = [];

        private byte[]? Answer { get; } = answer;

        public bool ByteAtATime { get; init; }

        public Exception? Refuse { get; init; }

        /// <summary>After the answer, wait (a server that waits for the rest of a request) rather than close.</summary>
        public bool Hang { get; init; }

        public byte[] Written => [.. _written];

        public int Read { get; private set; }

        public ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) =>
            Refuse is null ? ValueTask.FromResult<Stream>(new Connection(this)) : ValueTask.FromException<Stream>(Refuse);

        private sealed class Connection(Port port) : Stream
        {
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (port.Answer is null || (port.Read == port.Answer.Length && port.Hang))
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }

                var n = Math.Min(buffer.Length, Math.Min(ByteCount(port), port.Answer!.Length - port.Read));
                port.Answer.AsSpan(port.Read, n).CopyTo(buffer.Span);
                port.Read += n;
                return n;
            }

            private static int ByteCount(Port port) => port.ByteAtATime ? 1 : int.MaxValue;

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                port._written.AddRange(buffer.ToArray());
                return ValueTask.CompletedTask;
            }

            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }
}

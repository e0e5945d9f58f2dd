namespace InfraMind.Oci;

/// <summary>
/// What every InfraMind wrapper stream that is written forward once into another shares (byte caps, counted
/// progress, checked uploads), the counterpart of <see cref="ReadOnlyStream"/>: writable, not seekable, not readable;
/// <see cref="Length"/> and <see cref="Position"/> are the bytes <see cref="Written"/>; the array and synchronous
/// overloads routed to <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which a subclass overrides
/// (counting what it passes on in <see cref="Written"/>); flushes go to <see cref="Inner"/>.
/// </summary>
public abstract class WriteOnlyStream(Stream inner) : Stream
{
    /// <summary>Where the bytes go.</summary>
    protected Stream Inner { get; } = inner ?? throw new ArgumentNullException(nameof(inner));

    /// <summary>Bytes written so far, as the subclass counts them.</summary>
    protected long Written { get; set; }

    public sealed override bool CanRead => false;

    public sealed override bool CanSeek => false;

    public sealed override bool CanWrite => true;

    public sealed override long Length => Written;

    public sealed override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    public sealed override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public sealed override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public abstract override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default);

    public override void Flush() => Inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public sealed override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}

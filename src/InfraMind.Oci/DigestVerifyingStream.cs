namespace InfraMind.Oci;

/// <summary>
/// A read-only stream that hashes everything read through it and, when the inner stream ends, throws
/// <see cref="DigestMismatchException"/> unless the bytes hash to the expected digest (and, when given, have the
/// expected size). Consumers therefore never see a clean end of stream for content that is not what was asked for;
/// with a known size the check happens already on the read that delivers the last byte.
/// Reading past the expected size fails at once, so an endless or oversized source cannot fill a disk.
/// </summary>
public sealed class DigestVerifyingStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly DigestCheck _check;

    public DigestVerifyingStream(Stream inner, Digest expected, long? expectedSize = null, string? what = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _check = new DigestCheck(expected, expectedSize, what ?? $"blob {expected}", arriving: true);
        _leaveOpen = leaveOpen;
    }

    public Digest Expected => _check.Expected;

    public long? ExpectedSize => _check.ExpectedSize;

    /// <summary>True once the whole content was read and matched.</summary>
    public bool IsVerified => _check.IsVerified;

    public override long Length => ExpectedSize ?? throw new NotSupportedException();

    public override long Position => _check.Count;

    public override int Read(Span<byte> buffer)
    {
        int n = _inner.Read(buffer);
        return Account(buffer[..n], buffer.Length);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n], buffer.Length);
    }

    private int Account(ReadOnlySpan<byte> data, int requested)
    {
        if (data.Length > 0)
        {
            _check.Append(data);
        }
        else if (requested > 0)
        {
            _check.Complete();
        }

        return data.Length;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _check.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}

using System.Security.Cryptography;

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
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly string _what;
    private long _read;
    private bool _verified;

    public DigestVerifyingStream(Stream inner, Digest expected, long? expectedSize = null, string? what = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        Expected = expected;
        ExpectedSize = expectedSize;
        _what = what ?? $"blob {expected}";
        _leaveOpen = leaveOpen;
    }

    public Digest Expected { get; }

    public long? ExpectedSize { get; }

    /// <summary>True once the whole content was read and matched.</summary>
    public bool IsVerified => _verified;

    public override long Length => ExpectedSize ?? throw new NotSupportedException();

    public override long Position => _read;

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
            _read += data.Length;
            if (ExpectedSize is long max && _read > max)
            {
                throw new OciException(
                    OciErrorCodes.SizeMismatch,
                    $"{_what} should be {max} bytes but more arrived; the source is serving other content than {Expected}.");
            }

            _hash.AppendData(data);
            // With a known size, judge on the read that delivers the last byte: a consumer that reads exactly the
            // size (and never asks for end of stream) must not get unverified content either.
            if (ExpectedSize is long expected && _read == expected)
            {
                Verify();
            }
        }
        else if (requested > 0 && !_verified)
        {
            Verify();
        }

        return data.Length;
    }

    private void Verify()
    {
        if (ExpectedSize is long size && _read != size)
        {
            throw new OciException(
                OciErrorCodes.SizeMismatch,
                $"{_what} should be {size} bytes but ended after {_read}; it is truncated. Fetch it again.");
        }

        var actual = Digest.FromHash(_hash.GetHashAndReset());
        if (actual != Expected)
        {
            throw new DigestMismatchException(Expected, actual, _what);
        }

        _verified = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}

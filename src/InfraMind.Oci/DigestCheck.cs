using System.Security.Cryptography;

namespace InfraMind.Oci;

/// <summary>
/// Content judged against the digest (and, when known, the size) it must have, as its bytes pass in either direction:
/// <see cref="DigestVerifyingStream"/> reads through one, the HTTP push writes its tar through one. A byte beyond the
/// size fails at once (IM4003), so an endless source fills nothing; with a known size the size and digest are judged
/// with its last byte (a consumer that never asks for the end gets no unchecked content), else at <see cref="Complete"/>.
/// </summary>
public sealed class DigestCheck : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly string _what;
    private readonly bool _arriving;

    /// <param name="what">What the content is, in the errors ("blob sha256:…", "the tar for /x.tar").</param>
    /// <param name="arriving">True for content read from a source (errors say the source serves other or truncated
    /// content); false for content written out (errors say it came out differently from the one whose digest was taken).</param>
    public DigestCheck(Digest expected, long? expectedSize, string what, bool arriving)
    {
        Expected = expected;
        ExpectedSize = expectedSize;
        _what = what;
        _arriving = arriving;
    }

    public Digest Expected { get; }

    public long? ExpectedSize { get; }

    /// <summary>The bytes taken so far.</summary>
    public long Count { get; private set; }

    /// <summary>True once the whole content passed and matched.</summary>
    public bool IsVerified { get; private set; }

    /// <summary>Takes the next bytes; throws when they go past the size, or complete it and do not match.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (ExpectedSize is long max && Count + data.Length > max)
        {
            throw new OciException(OciErrorCodes.SizeMismatch, _arriving
                ? $"{_what} should be {max} bytes but more arrived; the source is serving other content than {Expected}."
                : $"{_what} should be {max} bytes but more came out; it is not the content whose digest was taken ({Expected}).");
        }

        _hash.AppendData(data);
        Count += data.Length;
        if (Count == ExpectedSize) Verify();
    }

    /// <summary>The content ended: throws unless it had the size and the digest (a no-op once verified).</summary>
    public void Complete()
    {
        if (!IsVerified) Verify();
    }

    private void Verify()
    {
        if (ExpectedSize is long size && Count != size)
        {
            throw new OciException(OciErrorCodes.SizeMismatch, _arriving
                ? $"{_what} should be {size} bytes but ended after {Count}; it is truncated. Fetch it again."
                : $"{_what} should be {size} bytes but ended after {Count}; it is not the content whose digest was taken ({Expected}).");
        }

        var actual = Digest.FromHash(_hash.GetHashAndReset());
        if (actual != Expected) throw new DigestMismatchException(Expected, actual, _what);
        IsVerified = true;
    }

    public void Dispose() => _hash.Dispose();
}

/// <summary>
/// A stream that keeps nothing and takes the digest and size of what is written into it: for content produced by a
/// writer (a tar) whose digest is needed before it is sent, with no pipe and no copy; <see cref="Digest.ComputeAsync"/>
/// copies a stream into one.
/// </summary>
public sealed class DigestSink() : WriteOnlyStream(Null)
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _hash.AppendData(buffer.Span);
        Written += buffer.Length;
        return ValueTask.CompletedTask;
    }

    /// <summary>The digest and size of everything written (call once, at the end), as <see cref="Digest.ComputeAsync"/> gives them.</summary>
    public (Digest Digest, long Size) Finish() => (Digest.FromHash(_hash.GetHashAndReset()), Written);

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}

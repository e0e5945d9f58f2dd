using System.Text;

namespace InfraMind.Oci.Tests;

public sealed class DigestVerifyingStreamTests
{
    private static readonly byte[] Content = Encoding.UTF8.GetBytes("layer content that must not change");

    [Fact]
    public async Task Reads_matching_content_to_the_end_and_marks_it_verified()
    {
        await using var stream = new DigestVerifyingStream(new MemoryStream(Content), Digest.Compute(Content), Content.Length);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(Content, copy.ToArray());
        Assert.True(stream.IsVerified);
    }

    [Fact]
    public async Task Throws_at_end_of_content_naming_expected_and_actual_digest()
    {
        byte[] tampered = (byte[])Content.Clone();
        tampered[3] ^= 1;
        var expected = Digest.Compute(Content);
        await using var stream = new DigestVerifyingStream(new MemoryStream(tampered), expected);
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Equal("IM4002", e.Code);
        Assert.Equal(expected, e.Expected);
        Assert.Equal(Digest.Compute(tampered), e.Actual);
        Assert.Contains(expected.Value, e.Message);
        Assert.Contains(e.Actual.Value, e.Message);
        Assert.False(stream.IsVerified);
    }

    [Fact]
    public async Task A_consumer_reading_exactly_the_size_gets_the_mismatch_on_its_last_read()
    {
        byte[] tampered = (byte[])Content.Clone();
        tampered[^1] ^= 1;
        await using var stream = new DigestVerifyingStream(new MemoryStream(tampered), Digest.Compute(Content), Content.Length);
        byte[] buffer = new byte[Content.Length];
        await Assert.ThrowsAsync<DigestMismatchException>(async () => await stream.ReadExactlyAsync(buffer));

        await using var good = new DigestVerifyingStream(new MemoryStream(Content), Digest.Compute(Content), Content.Length);
        await good.ReadExactlyAsync(buffer);
        Assert.True(good.IsVerified);
    }

    [Fact]
    public void Synchronous_reads_are_verified_too()
    {
        using var stream = new DigestVerifyingStream(new MemoryStream(Content), Digest.Compute([]));
        Assert.Throws<DigestMismatchException>(() => stream.CopyTo(Stream.Null));
    }

    [Fact]
    public async Task Truncated_content_is_reported_as_a_size_mismatch()
    {
        await using var stream = new DigestVerifyingStream(new MemoryStream(Content, 0, 10), Digest.Compute(Content), Content.Length);
        var e = await Assert.ThrowsAsync<OciException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Equal("IM4003", e.Code);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public async Task Oversized_content_fails_as_soon_as_it_passes_the_expected_size()
    {
        await using var stream = new DigestVerifyingStream(new MemoryStream(new byte[1 << 20]), Digest.Compute(Content), 16);
        byte[] buffer = new byte[64];
        var e = await Assert.ThrowsAsync<OciException>(async () => await stream.ReadExactlyAsync(buffer));
        Assert.Equal("IM4003", e.Code);
    }
}

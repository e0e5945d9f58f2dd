using System.Text;

namespace InfraMind.Oci.Tests;

/// <summary>The check both directions share: what a pull reads (<see cref="DigestVerifyingStream"/>) and what an HTTP push writes.</summary>
public sealed class DigestCheckTests
{
    private static readonly byte[] Content = Encoding.UTF8.GetBytes("a tar written twice must come out the same");

    [Fact]
    public void Content_in_pieces_is_verified_with_its_last_byte()
    {
        using var check = new DigestCheck(Digest.Compute(Content), Content.Length, "the tar", arriving: false);
        check.Append(Content.AsSpan(0, 10));
        Assert.False(check.IsVerified);
        check.Append(Content.AsSpan(10));
        Assert.True(check.IsVerified);
        Assert.Equal(Content.Length, check.Count);
        check.Complete(); // a no-op once verified
    }

    [Fact]
    public void A_byte_past_the_size_is_refused_before_it_is_taken()
    {
        using var check = new DigestCheck(Digest.Compute(Content), Content.Length - 1, "the tar", arriving: false);
        var e = Assert.Throws<OciException>(() => check.Append(Content));
        Assert.Equal("IM4003", e.Code);
        Assert.Contains("more came out", e.Message);
        Assert.Equal(0, check.Count);
    }

    [Fact]
    public void Different_content_of_the_same_size_fails_with_its_last_byte_and_names_both_digests()
    {
        byte[] other = (byte[])Content.Clone();
        other[5] ^= 1;
        using var check = new DigestCheck(Digest.Compute(Content), Content.Length, "the tar", arriving: false);
        check.Append(other.AsSpan(0, other.Length - 1));
        var e = Assert.Throws<DigestMismatchException>(() => check.Append(other.AsSpan(other.Length - 1)));
        Assert.Equal(Digest.Compute(other), e.Actual);
        Assert.False(check.IsVerified);
    }

    [Theory]
    [InlineData(true, "it is truncated")]
    [InlineData(false, "not the content whose digest was taken")]
    public void Content_that_ends_short_is_refused_at_its_end_in_the_words_of_its_direction(bool arriving, string words)
    {
        using var check = new DigestCheck(Digest.Compute(Content), Content.Length, "the tar", arriving);
        check.Append(Content.AsSpan(0, 4));
        var e = Assert.Throws<OciException>(check.Complete);
        Assert.Equal("IM4003", e.Code);
        Assert.Contains("ended after 4", e.Message);
        Assert.Contains(words, e.Message);
    }

    [Fact]
    public void Without_a_size_the_digest_is_judged_at_the_end()
    {
        using var check = new DigestCheck(Digest.Compute(Content), null, "blob", arriving: true);
        check.Append(Content);
        Assert.False(check.IsVerified);
        check.Complete();
        Assert.True(check.IsVerified);
    }

    [Fact]
    public async Task A_sink_gives_the_digest_and_size_of_what_was_written_in_any_pieces()
    {
        using var sink = new DigestSink();
        await sink.WriteAsync(Content.AsMemory(0, 7));
        sink.Write(Content, 7, 20);
        await sink.WriteAsync(Content.AsMemory(27));
        Assert.Equal((Digest.Compute(Content), (long)Content.Length), sink.Finish());
    }
}

using System.Text;

namespace InfraMind.Oci.Tests;

public sealed class DigestTests
{
    private const string EmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void Compute_of_empty_content_is_the_well_known_sha256()
    {
        Assert.Equal(EmptySha256, Digest.Compute([]).Value);
    }

    [Fact]
    public async Task ComputeAsync_matches_Compute_and_counts_bytes()
    {
        byte[] data = Encoding.UTF8.GetBytes("hello world\n");
        var (digest, size) = await Digest.ComputeAsync(new MemoryStream(data), CancellationToken.None);
        Assert.Equal("sha256:a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447", digest.Value);
        Assert.Equal(Digest.Compute(data), digest);
        Assert.Equal(12, size);
    }

    [Fact]
    public void Parse_round_trips_and_exposes_hex()
    {
        var d = Digest.Parse(EmptySha256);
        Assert.Equal(EmptySha256, d.ToString());
        Assert.Equal(EmptySha256["sha256:".Length..], d.Hex);
        Assert.Equal(d, Digest.FromHex(d.Hex));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "no algorithm")]
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "only sha256")]
    [InlineData("sha256:e3b0c442", "64")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "lower-case")]
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "lower-case hex")]
    public void Parse_rejects_malformed_digests_with_a_stable_code_and_a_reason(string text, string reason)
    {
        var e = Assert.Throws<OciException>(() => Digest.Parse(text));
        Assert.Equal("IM4001", e.Code);
        Assert.DoesNotContain("IM4001", e.Message);
        Assert.Contains(reason, e.Message);
        Assert.False(Digest.TryParse(text, out _));
    }

    [Fact]
    public void A_refused_digest_is_quoted_escaped_and_cut_never_through_a_surrogate_pair()
    {
        // A stranger's text: an escape sequence that would colour a terminal, and a string too long to quote whole.
        var hostile = "sha256:\u001b[31m" + new string('a', 60);
        var e = Assert.Throws<OciException>(() => Digest.Parse(hostile));
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.Contains("\\u001B", e.Message);

        // An emoji (two UTF-16 units) where a cut of the quote may fall: the pair is quoted whole or not at all.
        foreach (var before in new[] { 76, 79 })
        {
            var longOne = new string('x', before) + "\U0001F600" + new string('y', 40);
            var cut = Assert.Throws<OciException>(() => Digest.Parse(longOne)).Message;
            Assert.Contains("…", cut);
            foreach (var (c, i) in cut.Select((c, i) => (c, i)))
                if (char.IsHighSurrogate(c)) Assert.True(i + 1 < cut.Length && char.IsLowSurrogate(cut[i + 1]), $"a lone surrogate at {i}");
        }
    }

    [Theory]
    [InlineData(":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "uses algorithm ''")]
    [InlineData("sha25:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "uses algorithm 'sha25'")]
    [InlineData("sha2566:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "uses algorithm 'sha2566'")]
    [InlineData("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "uses algorithm 'SHA256'")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", "has 63 hex digits after 'sha256:'; a sha256 digest has exactly 64.")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", "has 65 hex digits")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/", "contains '/'")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85:", "contains ':'")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85`", "contains '`'")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85G", "contains 'G'")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\u0660", "contains")]
    public void Parse_refuses_each_neighbour_of_a_valid_digest(string text, string words)
    {
        var e = Assert.Throws<OciException>(() => Digest.Parse(text));
        Assert.Equal("IM4001", e.Code);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
        Assert.False(Digest.TryParse(text, out var d));
        Assert.Equal(default, d);
    }

    [Fact]
    public void Every_lower_case_hex_digit_is_accepted()
    {
        Assert.True(Digest.TryParse("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", out var d));
        Assert.Equal("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", d.Hex);
        Assert.False(Digest.TryParse(null, out _));
        Assert.Equal(string.Empty, default(Digest).ToString());
    }

    [Fact]
    public void A_hash_of_other_than_32_bytes_is_no_sha256_digest()
    {
        Assert.Throws<ArgumentException>(() => Digest.FromHash(new byte[31]));
        Assert.Throws<ArgumentException>(() => Digest.FromHash(new byte[33]));
        Assert.Equal("sha256:" + new string('0', 64), Digest.FromHash(new byte[32]).Value);
    }
}

using System.Security.Cryptography;
using System.Text;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The rules of a CID's bytes and text at their edges: its length, its varints in their one canonical form, each field a
/// CIDv1 has and the multihash it must carry, the two multibases with their RFC and spec vectors.
/// </summary>
public sealed class CidLimitTests
{
    private static readonly byte[] Empty = SHA256.HashData([]);

    private static byte[] V1(params byte[] prefix) => [.. prefix, .. Empty];

    private static string Base32(byte[] bytes) => "b" + Multibase.EncodeBase32(bytes);

    [Fact]
    public void A_cid_text_of_more_than_100_characters_is_refused_before_it_is_decoded()
    {
        // At 100 characters the text is decoded (and refused for what it holds); at 101 it is not read at all.
        var at = Assert.Throws<IpfsException>(() => Cid.Parse("z" + new string('2', Cid.MaxTextLength - 1)));
        Assert.DoesNotContain("at most 100 characters", at.Message, StringComparison.Ordinal);
        var past = Assert.Throws<IpfsException>(() => Cid.Parse("z" + new string('2', Cid.MaxTextLength)));
        Assert.Equal("IM4101", past.Code);
        Assert.Contains("a CID has at most 100 characters", past.Message, StringComparison.Ordinal);
        Assert.Contains("(101 characters)", past.Message, StringComparison.Ordinal);
        Assert.False(Cid.TryParse("b" + new string('a', Cid.MaxTextLength), out _));
    }

    [Fact]
    public async Task A_publish_sized_base58_cid_is_refused_at_once()
    {
        // base58 decodes in time square in the length: 700 KB (a publish statement's worth) took minutes before the bound.
        string text = "z" + new string('2', 700_000);
        var e = await Task.Run(() => Assert.Throws<IpfsException>(() => Cid.Parse(text))).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("(700001 characters)", e.Message, StringComparison.Ordinal);
        Assert.True(e.Message.Length < 300, e.Message);
        Assert.False(ContentReference.TryParse("ipfs://" + text, out _, out string error));
        Assert.Contains("is not a CID", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_text_shown_in_a_refusal_is_escaped_and_cut()
    {
        var e = Assert.Throws<IpfsException>(() => Cid.Parse("x\u001b[31m" + new string('y', 90)));
        Assert.DoesNotContain("\u001b", e.Message, StringComparison.Ordinal);
        Assert.Contains("\\u001B[31m", e.Message, StringComparison.Ordinal);
        Assert.Contains("…", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('y', 78), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x00 }, 0UL, 1)]
    [InlineData(new byte[] { 0x01 }, 1UL, 1)]
    [InlineData(new byte[] { 0x7f }, 127UL, 1)]
    [InlineData(new byte[] { 0x80, 0x01 }, 128UL, 2)]
    [InlineData(new byte[] { 0xff, 0x7f }, 16383UL, 2)]
    [InlineData(new byte[] { 0x80, 0x80, 0x01 }, 16384UL, 3)]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, long.MaxValue, 9)]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 1UL << 56, 9)]
    public void Varints_read_in_their_canonical_form(byte[] bytes, ulong value, int length)
    {
        int offset = 0;
        Assert.True(Varint.TryRead([.. bytes, 0x42], ref offset, out ulong read));
        Assert.Equal(value, read);
        Assert.Equal(length, offset);
        Assert.Equal(length, Varint.Size(value));
        var written = new byte[10];
        Assert.Equal(length, Varint.Write(written, value));
        Assert.Equal(bytes, written[..length]);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { 0xff, 0xff })]
    [InlineData(new byte[] { 0x80, 0x00 })]
    [InlineData(new byte[] { 0x81, 0x00 })]
    [InlineData(new byte[] { 0xff, 0x80, 0x00 })]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 })]
    [InlineData(new byte[] { 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 })]
    public void Varints_cut_short_not_minimal_or_longer_than_nine_bytes_are_refused(byte[] bytes)
    {
        int offset = 0;
        Assert.False(Varint.TryRead(bytes, ref offset, out _));
    }

    [Fact]
    public void A_cid_whose_varints_are_not_minimal_is_not_the_cid_they_spell()
    {
        // Version 1 and raw (0x55) each spelled in two bytes: kubo refuses these; read, they would name the content under
        // other bytes than its CID.
        Assert.Equal(Cid.FromSha256(1, Cid.RawCodec, Empty), Cid.FromBytes(V1(0x01, 0x55, 0x12, 0x20)));
        foreach (var bytes in new[] { V1(0x81, 0x00, 0x55, 0x12, 0x20), V1(0x01, 0xd5, 0x00, 0x12, 0x20), V1(0x01, 0x55, 0x92, 0x00, 0x20), V1(0x01, 0x55, 0x12, 0xa0, 0x00) })
        {
            var e = Assert.Throws<IpfsException>(() => Cid.FromBytes(bytes));
            Assert.Equal("IM4101", e.Code);
            Assert.False(Cid.TryParse(Base32(bytes), out _));
        }

        // The version read through all ten bytes of a 64-bit varint, its last bits past 64 dropped, read as 1.
        Assert.False(Cid.TryParse(Base32(V1(0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0x55, 0x12, 0x20)), out _));
    }

    [Theory]
    [InlineData(new byte[] { }, "not a CIDv0 sha2-256 multihash nor a CIDv1")]
    [InlineData(new byte[] { 0x02, 0x55, 0x12, 0x20 }, "not a CIDv0 sha2-256 multihash nor a CIDv1")]
    [InlineData(new byte[] { 0x00, 0x55, 0x12, 0x20 }, "not a CIDv0 sha2-256 multihash nor a CIDv1")]
    [InlineData(new byte[] { 0x01, 0x71, 0x12, 0x20 }, "multicodec 0x71")]
    [InlineData(new byte[] { 0x01, 0x55, 0x20 }, "sha2-256 multihash of 32 bytes")]
    [InlineData(new byte[] { 0x01, 0x55, 0x13, 0x20 }, "sha2-256 multihash of 32 bytes")]
    [InlineData(new byte[] { 0x01, 0x55, 0x12 }, "sha2-256 multihash of 32 bytes")]
    [InlineData(new byte[] { 0x01, 0x55, 0x12, 0x21 }, "sha2-256 multihash of 32 bytes")]
    [InlineData(new byte[] { 0x01, 0x55, 0x12, 0x1f }, "sha2-256 multihash of 32 bytes")]
    public void Each_field_of_a_binary_cid_is_checked(byte[] prefix, string reason)
    {
        var bytes = prefix.Length == 0 ? [] : V1(prefix);
        var e = Assert.Throws<IpfsException>(() => Cid.FromBytes(bytes));
        Assert.Equal("IM4101", e.Code);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Contains("0x" + Convert.ToHexStringLower(bytes.AsSpan(0, Math.Min(bytes.Length, 30))), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_binary_cid_is_exactly_its_prefix_and_32_bytes()
    {
        Assert.Throws<IpfsException>(() => Cid.FromBytes([.. V1(0x01, 0x55, 0x12, 0x20), 0x00]));
        Assert.Throws<IpfsException>(() => Cid.FromBytes(V1(0x01, 0x55, 0x12, 0x20).AsSpan(0, 35)));
        // A CIDv0 is the bare multihash, 34 bytes: one byte more or another hash code is no CIDv0 (nor a v1).
        Assert.Equal(0, Cid.FromBytes([0x12, 0x20, .. Empty]).Version);
        Assert.Throws<IpfsException>(() => Cid.FromBytes([0x12, 0x20, .. Empty, 0x00]));
        Assert.Throws<IpfsException>(() => Cid.FromBytes([0x13, 0x20, .. Empty]));
        Assert.Throws<IpfsException>(() => Cid.FromBytes([0x12, 0x21, .. Empty]));
    }

    [Fact]
    public void FromSha256_names_a_digest_in_each_version_and_refuses_the_rest()
    {
        var v1 = Cid.FromSha256(1, Cid.DagPbCodec, Empty);
        Assert.Equal(V1(0x01, 0x70, 0x12, 0x20), v1.Bytes.ToArray());
        Assert.Equal(Empty, v1.Hash.ToArray());
        var v0 = Cid.FromSha256(0, Cid.DagPbCodec, Empty);
        Assert.Equal([0x12, 0x20, .. Empty], v0.Bytes.ToArray());
        Assert.Equal(v1, v0.ToV1());
        Assert.Same(v1, v1.ToV1());
        Assert.Throws<ArgumentException>(() => Cid.FromSha256(1, Cid.RawCodec, Empty.AsSpan(1)));
        Assert.Throws<ArgumentException>(() => Cid.FromSha256(1, Cid.RawCodec, [.. Empty, 0]));
        Assert.Contains("CIDv0 can only name dag-pb", Assert.Throws<IpfsException>(() => Cid.FromSha256(0, Cid.RawCodec, Empty)).Message, StringComparison.Ordinal);
        Assert.Contains("CID version 2 does not exist", Assert.Throws<IpfsException>(() => Cid.FromSha256(2, Cid.RawCodec, Empty)).Message, StringComparison.Ordinal);
        Assert.Throws<IpfsException>(() => Cid.FromSha256(-1, Cid.RawCodec, Empty));
    }

    [Fact]
    public void Cids_are_equal_by_their_bytes()
    {
        var a = Cid.FromSha256(1, Cid.RawCodec, Empty);
        var b = Cid.Parse(a.ToString());
        var other = Cid.FromSha256(1, Cid.DagPbCodec, Empty);
        Assert.True(a == b);
        Assert.False(a != b);
        Assert.True(a != other);
        Assert.False(a == other);
        Assert.False(a == null);
        Assert.True((Cid?)null == null);
        Assert.False(a.Equals((object?)null));
        Assert.True(a.Equals((object)b));
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(BitConverter.ToInt32(Empty, 28), a.GetHashCode());
    }

    [Theory]
    [InlineData("Qm")]
    [InlineData("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ")]
    [InlineData("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQHH")]
    [InlineData("Zafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")]
    [InlineData("z")]
    [InlineData("b")]
    [InlineData(" ")]
    public void Texts_that_are_not_a_cid_are_refused(string text)
    {
        Assert.False(Cid.TryParse(text, out _));
        Assert.Equal("IM4101", Assert.Throws<IpfsException>(() => Cid.Parse(text)).Code);
    }

    [Fact]
    public void A_v0_cid_is_Qm_and_46_characters_and_its_base58_form_with_z_reads_too()
    {
        var v0 = Cid.Parse("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH");
        Assert.Equal(46, v0.ToString().Length);
        Assert.Equal(v0.ToString(), v0.ToBase58String());
        Assert.Equal(v0, Cid.Parse("z" + v0));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("f", "my")]
    [InlineData("fo", "mzxq")]
    [InlineData("foo", "mzxw6")]
    [InlineData("foob", "mzxw6yq")]
    [InlineData("fooba", "mzxw6ytb")]
    [InlineData("foobar", "mzxw6ytboi")]
    public void Base32_follows_rfc4648_lower_case_without_padding(string data, string encoded)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(data);
        Assert.Equal(encoded, Multibase.EncodeBase32(bytes));
        Assert.Equal(bytes, Multibase.DecodeBase32(encoded));
        Assert.Equal(bytes, Multibase.DecodeBase32(encoded.ToUpperInvariant()));
    }

    [Theory]
    [InlineData("a1")]
    [InlineData("a8")]
    [InlineData("a=")]
    [InlineData("a ")]
    public void Base32_refuses_characters_outside_its_alphabet(string text) => Assert.Null(Multibase.DecodeBase32(text));

    [Theory]
    [InlineData("", "")]
    [InlineData("00", "1")]
    [InlineData("000001", "112")]
    [InlineData("39", "z")]
    [InlineData("3a", "21")]
    [InlineData("0000287fb4cd", "11233QC4")]
    [InlineData("48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U")]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffff", "QLbz7JHiBTspS962RLKV8GndWFwiEaqKL")]
    public void Base58btc_follows_the_bitcoin_alphabet_with_leading_zeros_as_ones(string hex, string encoded)
    {
        byte[] bytes = Convert.FromHexString(hex);
        Assert.Equal(encoded, Multibase.EncodeBase58(bytes));
        Assert.Equal(bytes, Multibase.DecodeBase58(encoded));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("O")]
    [InlineData("I")]
    [InlineData("l")]
    [InlineData("2+")]
    public void Base58_refuses_characters_outside_its_alphabet(string text) => Assert.Null(Multibase.DecodeBase58(text));
}

using System.Security.Cryptography;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

public sealed class CidTests
{
    [Theory]
    [InlineData("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", 0, Cid.DagPbCodec)]
    [InlineData("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", 1, Cid.RawCodec)]
    [InlineData("bafybeiavt2qxlgpuqnio7u2aefdmk35k3fji6ggftzne6keq44nrfmc2ai", 1, Cid.DagPbCodec)]
    public void Parse_and_format_round_trip(string text, int version, ulong codec)
    {
        var cid = Cid.Parse(text);
        Assert.Equal(version, cid.Version);
        Assert.Equal(codec, cid.Codec);
        Assert.Equal(text, cid.ToString());
        Assert.Equal(cid, Cid.FromBytes(cid.Bytes.Span));
        Assert.Equal(cid, Cid.Parse(cid.ToBase58String()));
    }

    [Fact]
    public void The_empty_raw_block_is_named_by_the_sha256_of_nothing()
    {
        var cid = Cid.Parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        Assert.Equal(SHA256.HashData([]), cid.Hash.ToArray());
    }

    [Fact]
    public void V0_converts_to_the_same_block_as_v1_dag_pb()
    {
        var v0 = Cid.Parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
        var v1 = v0.ToV1();
        Assert.Equal(1, v1.Version);
        Assert.StartsWith("bafybei", v1.ToString());
        Assert.Equal(v0.Hash.ToArray(), v1.Hash.ToArray());
        Assert.NotEqual(v0, v1);
    }

    [Fact]
    public void Base58_v1_parses_to_the_same_cid_as_base32()
    {
        var b32 = Cid.Parse("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        Assert.StartsWith("z", b32.ToBase58String());
        Assert.Equal(b32, Cid.Parse(b32.ToBase58String()));
        Assert.Equal(b32, Cid.Parse(b32.ToString().ToUpperInvariant().Replace("BAFK", "bAFK", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("hello", "Qm")]
    [InlineData("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ0", "alphabet")]
    [InlineData("bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "multicodec 0x71")]
    [InlineData("bafkrmihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "sha2-256")]
    public void Malformed_cids_are_refused_with_a_stable_code_and_reason(string text, string reason)
    {
        var e = Assert.Throws<IpfsException>(() => Cid.Parse(text));
        Assert.Equal("IM4101", e.Code);
        Assert.Contains(reason, e.Message);
        Assert.False(Cid.TryParse(text, out _));
    }
}

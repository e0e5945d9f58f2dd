using InfraMind.Storage.Registry;

namespace InfraMind.Storage.Tests.Registry;

public sealed class AuthChallengeTests
{
    [Fact]
    public void Bearer_challenge_with_quoted_parameters()
    {
        var c = Assert.Single(AuthChallenge.Parse("Bearer realm=\"https://auth.example.org/token\",service=\"registry.example.org\",scope=\"repository:a/b:pull,push\""));
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://auth.example.org/token", c.Realm);
        Assert.Equal("registry.example.org", c.Service);
        Assert.Equal("repository:a/b:pull,push", c.Scope);
    }

    [Fact]
    public void Basic_challenge_and_several_in_one_header()
    {
        var all = AuthChallenge.Parse("Basic realm=\"Registry Realm\", Bearer realm=\"https://a/t\",error=invalid_token");
        Assert.Equal(2, all.Count);
        Assert.Equal("Basic", all[0].Scheme);
        Assert.Equal("Registry Realm", all[0].Realm);
        Assert.Equal("https://a/t", all[1].Realm);
        Assert.Equal("invalid_token", all[1].Parameters["error"]);
    }

    [Fact]
    public void Escapes_in_quoted_strings()
    {
        var c = Assert.Single(AuthChallenge.Parse("Basic realm=\"say \\\"hi\\\", ok\""));
        Assert.Equal("say \"hi\", ok", c.Realm);
    }
}

using InfraMind.Storage.Registry;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// A registry's <c>WWW-Authenticate</c> header is a stranger's text: every form RFC 7235 allows reads, and a header cut
/// anywhere (an open quote, a trailing backslash, an '=' with nothing after it) reads as far as it goes, never throws.
/// </summary>
public sealed class AuthChallengeEdgeTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" , ,\t,")]
    public void A_header_of_nothing_holds_no_challenge(string header) => Assert.Empty(AuthChallenge.Parse(header));

    [Fact]
    public void Spaces_and_tabs_around_names_values_and_equals_signs_are_skipped()
    {
        var c = Assert.Single(AuthChallenge.Parse("\tBearer \t realm = \"https://a/t\" ,\tservice\t=\treg , scope= \"repository:a:pull\" "));
        Assert.Equal("Bearer", c.Scheme);
        Assert.Equal("https://a/t", c.Realm);
        Assert.Equal("reg", c.Service);
        Assert.Equal("repository:a:pull", c.Scope);
        Assert.Equal(3, c.Parameters.Count);
    }

    [Fact]
    public void Parameter_names_are_case_insensitive_and_unquoted_values_end_at_a_comma_or_space()
    {
        var c = Assert.Single(AuthChallenge.Parse("Bearer REALM=https://a/t,Service=reg scope=x"));
        Assert.Equal("https://a/t", c.Realm);
        Assert.Equal("reg", c.Service);
        Assert.Equal("x", c.Scope);
        Assert.Equal("https://a/t", c.Parameters["realm"]);
    }

    [Fact]
    public void A_scheme_alone_is_a_challenge_without_parameters_and_the_last_value_of_a_name_wins()
    {
        var all = AuthChallenge.Parse("Basic, Bearer realm=a, realm=\"b\"");
        Assert.Equal(2, all.Count);
        Assert.Equal("Basic", all[0].Scheme);
        Assert.Empty(all[0].Parameters);
        Assert.Null(all[0].Realm);
        Assert.Null(all[0].Service);
        Assert.Null(all[0].Scope);
        Assert.Equal("b", all[1].Realm);
    }

    [Fact]
    public void Each_challenge_keeps_its_own_parameters()
    {
        var all = AuthChallenge.Parse("Bearer realm=\"r1\",service=\"s1\" Basic realm=\"r2\"");
        Assert.Equal(2, all.Count);
        Assert.Equal(("Bearer", "r1", "s1"), (all[0].Scheme, all[0].Realm, all[0].Service));
        Assert.Equal(("Basic", "r2", (string?)null), (all[1].Scheme, all[1].Realm, all[1].Service));
    }

    [Theory]
    [InlineData("Bearer realm=\"https://a/t", "https://a/t")]
    [InlineData("Bearer realm=\"a\\", "a\\")]
    [InlineData("Bearer realm=\"a\\\\b\\c\"", "a\\bc")]
    [InlineData("Bearer realm=\"\"", "")]
    [InlineData("Bearer realm=", "")]
    [InlineData("Bearer realm=\"a,b c=d\"", "a,b c=d")]
    public void Quoted_strings_read_escapes_and_a_cut_header_reads_as_far_as_it_goes(string header, string realm) =>
        Assert.Equal(realm, Assert.Single(AuthChallenge.Parse(header)).Realm);

    [Fact]
    public void Stray_quotes_and_equals_signs_are_stepped_over()
    {
        Assert.Equal("r", AuthChallenge.Parse("Bearer realm=\"r\", \"junk\"").Single(c => c.Scheme == "Bearer").Realm);
        var c = Assert.Single(AuthChallenge.Parse("=Bearer realm=r"));
        Assert.Equal(("Bearer", "r"), (c.Scheme, c.Realm));
    }
}

namespace InfraMind.Serving.Tests;

/// <summary>The rules' edges; each broken field is proven at both the node and the gateway in InfraMind.Mesh.Tests.</summary>
public sealed class RegistrationRulesTests
{
    internal static NodeRegistration Valid() =>
        new("node-1", new Uri("http://127.0.0.1:7301/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string> { ["zone"] = "a" }, TimeSpan.FromSeconds(2));

    [Fact]
    public void A_valid_registration_has_no_problem_and_the_limits_are_inclusive()
    {
        Assert.Empty(RegistrationRules.Check(Valid()));
        Assert.Empty(RegistrationRules.Check(Valid() with
        {
            NodeId = new string('n', RegistrationRules.MaxNodeIdLength),
            HeartbeatInterval = RegistrationRules.MaxHeartbeatInterval,
            Labels = Enumerable.Range(0, RegistrationRules.MaxLabels).ToDictionary(i => $"k{i}", _ => new string('v', RegistrationRules.MaxLabelValueLength)),
        }));
    }

    [Theory]
    [InlineData("/relative/")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("file:///tmp/x")]
    public void The_address_must_be_an_absolute_http_url(string address)
    {
        var problem = Assert.Single(RegistrationRules.Check(Valid() with { Address = new Uri(address, UriKind.RelativeOrAbsolute) }));
        Assert.Contains("address", problem, StringComparison.Ordinal);
        Assert.Single(RegistrationRules.Check(Valid() with { Address = null! }));
    }

    [Fact]
    public void A_missing_registration_and_every_problem_at_once_are_reported()
    {
        Assert.Single(RegistrationRules.Check(null));
        var all = RegistrationRules.Check(new NodeRegistration("bad id", null!, null!, null!, TimeSpan.Zero));
        Assert.Equal(4, all.Count);
    }
}

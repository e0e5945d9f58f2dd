using InfraMind.Serving;

namespace InfraMind.Node.Tests;

/// <summary>
/// A gateway's refusal of a node's registration, as the node's operator reads it: the node's own advice where it has
/// one for the refusal, else the gateway's (its problem's <c>hint</c>), on one line and cut to a bound.
/// </summary>
public sealed class RegistrationRefusalTests
{
    private static readonly Uri Gateway = new("http://127.0.0.1:8080/");

    [Fact]
    public void A_refusal_the_node_has_no_advice_for_carries_the_gateways_hint_on_one_line()
    {
        var e = NodeRegistrationException.For(Gateway, 400, "capacity.cpuMillicores must be positive", MeshErrorCodes.RegistrationInvalid.Value,
            "offer at least 1m CPU\r\nwith --cpu");
        Assert.Equal(MeshErrorCodes.RegistrationInvalid, e.Code);
        Assert.Equal("offer at least 1m CPU with --cpu", e.Hint);

        var cut = NodeRegistrationException.For(Gateway, 413, "too large", MeshErrorCodes.BodyTooLarge.Value, new string('h', 10_000));
        Assert.Equal(ProblemMembers.MaxHintChars + 1, cut.Hint!.Length);

        // No hint from the gateway: the code's own (what to fix is the node's options or reports).
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.DefaultHint, NodeRegistrationException.For(Gateway, 400, "bad", MeshErrorCodes.RegistrationInvalid.Value).Hint);
    }

    [Fact]
    public void A_refusal_the_node_knows_keeps_the_nodes_own_advice_whatever_the_gateway_says()
    {
        // 401 without a known code is the mesh token: the node says which file to pass, in its operator's words.
        var e = NodeRegistrationException.For(Gateway, 401, "no token", null, "ask the gateway's operator");
        Assert.Equal(MeshErrorCodes.NodeUnauthorized, e.Code);
        Assert.Contains("--token-file", e.Hint, StringComparison.Ordinal);
        var taken = NodeRegistrationException.For(Gateway, 409, "taken", MeshErrorCodes.NodeIdTaken.Value, "something else");
        Assert.Equal("choose another --id, or start the node with the home that holds this id's credential", taken.Hint);
        var inUse = NodeRegistrationException.For(Gateway, 409, "bound to node 'n1'", MeshErrorCodes.NodeKeyInUse.Value, "something else");
        Assert.Equal(MeshErrorCodes.NodeKeyInUse, inUse.Code);
        Assert.Equal(MeshErrorCodes.NodeKeyInUse.DefaultHint, inUse.Hint);
        Assert.Contains("bound to node 'n1'", inUse.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gateways_refusal_is_read_and_quoted_to_a_bound()
    {
        // Found by an audit: a hostile gateway's refusal (up to the node's 64 MiB reply cap) was read whole and logged at
        // every retry, and its detail quoted uncut in the node's error.
        using var huge = new HttpResponseMessage(System.Net.HttpStatusCode.BadRequest) { Content = new ByteArrayContent(new byte[8 << 20]) };
        Assert.Equal(64 * 1024, (await NodeAgent.ReadRefusalAsync(huge, CancellationToken.None)).Length);

        var (detail, code, hint) = NodeAgent.Problem($$"""{"detail": "{{new string('d', 10_000)}}", "code": "IM6014{{new string('c', 100)}}", "hint": "{{new string('h', 10_000)}}"}""");
        Assert.Equal(501, detail!.Length);
        Assert.EndsWith("…", detail, StringComparison.Ordinal);
        Assert.Equal(17, code!.Length);
        Assert.Equal(501, hint!.Length);
        Assert.Equal(("short", "IM6014", (string?)null), NodeAgent.Problem("""{"detail": "short", "code": "IM6014"}"""));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Node;
using InfraMind.Serving;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// One set of registration rules (<see cref="RegistrationRules"/>): whatever a node refuses to start with, the gateway
/// refuses to register, with the same words, and what a node starts with, the gateway admits. A real gateway on Kestrel.
/// </summary>
public sealed class RegistrationTests : IAsyncLifetime, IDisposable
{
    private GatewayHost _gateway = null!;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false });

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync(new GatewayOptions(), new InMemoryModelCatalog(), CancellationToken.None);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private static NodeRegistration Valid() =>
        new("node-1", new Uri("http://127.0.0.1:7301/"), new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string> { ["zone"] = "a" }, TimeSpan.FromSeconds(2));

    /// <summary>One broken field each, by what it breaks: the same list the node and the gateway are tested with.</summary>
    public static TheoryData<string> Broken() =>
    [
        "empty id", "id with a space", "id with a slash", "id too long", "no capacity", "zero cpu", "negative memory", "negative gpus",
        "zero heartbeat", "negative heartbeat", "heartbeat over a minute", "too many labels", "empty label key", "label value too long",
    ];

    internal static NodeRegistration Break(string what) => what switch
    {
        "empty id" => Valid() with { NodeId = "" },
        "id with a space" => Valid() with { NodeId = "node 1" },
        "id with a slash" => Valid() with { NodeId = "../node" },
        "id too long" => Valid() with { NodeId = new string('n', RegistrationRules.MaxNodeIdLength + 1) },
        "no capacity" => Valid() with { Capacity = null! },
        "zero cpu" => Valid() with { Capacity = new NodeCapacity(0, 1L << 30, 0) },
        "negative memory" => Valid() with { Capacity = new NodeCapacity(1000, -1, 0) },
        "negative gpus" => Valid() with { Capacity = new NodeCapacity(1000, 1L << 30, -1) },
        "zero heartbeat" => Valid() with { HeartbeatInterval = TimeSpan.Zero },
        "negative heartbeat" => Valid() with { HeartbeatInterval = TimeSpan.FromSeconds(-1) },
        "heartbeat over a minute" => Valid() with { HeartbeatInterval = RegistrationRules.MaxHeartbeatInterval + TimeSpan.FromMilliseconds(1) },
        "too many labels" => Valid() with { Labels = Enumerable.Range(0, RegistrationRules.MaxLabels + 1).ToDictionary(i => $"k{i}", _ => "v") },
        "empty label key" => Valid() with { Labels = new Dictionary<string, string> { [""] = "v" } },
        "label value too long" => Valid() with { Labels = new Dictionary<string, string> { ["k"] = new string('v', RegistrationRules.MaxLabelValueLength + 1) } },
        _ => throw new ArgumentOutOfRangeException(nameof(what), what, null),
    };

    private NodeOptions OptionsOf(NodeRegistration r) => new()
    {
        NodeId = r.NodeId,
        Gateway = _gateway.Url,
        Capacity = r.Capacity,
        Labels = r.Labels,
        HeartbeatInterval = r.HeartbeatInterval,
    };

    private async Task<(HttpStatusCode Status, string? Detail, string? Code)> RegisterAsync(NodeRegistration r)
    {
        using var response = await _http.PostAsJsonAsync(new Uri(_gateway.Url, "mesh/v1/nodes"), r, MeshJson.Options);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, (string?)body?["detail"], (string?)body?["code"]);
    }

    [Fact]
    public async Task What_a_node_starts_with_the_gateway_admits()
    {
        Assert.Empty(OptionsOf(Valid()).Validate());
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(Valid())).Status);
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public async Task What_a_node_refuses_to_start_with_the_gateway_refuses_to_register_in_the_same_words(string what)
    {
        var registration = Break(what);
        var atNode = Assert.Single(OptionsOf(registration).Validate());
        var (status, detail, code) = await RegisterAsync(registration);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.Value, code);
        Assert.Equal(atNode, detail);
        Assert.Empty(_gateway.Mesh.NodeSummaries());
    }

    [Fact]
    public async Task A_node_proposes_its_credential_and_the_gateway_binds_only_a_strong_one()
    {
        async Task<(HttpStatusCode Status, string? Credential)> Register(string id, string? presented)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_gateway.Url, "mesh/v1/nodes"))
            {
                Content = JsonContent.Create(Valid() with { NodeId = id }, options: MeshJson.Options),
            };
            if (presented is not null) request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, presented);
            using var response = await _http.SendAsync(request);
            return (response.StatusCode, response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential : null);
        }

        // A strong proposal is bound, and registers the id again (a retry after a lost answer); another is a stranger.
        var proposal = MeshToken.Create();
        Assert.Equal((HttpStatusCode.OK, proposal), await Register("proposer", proposal));
        Assert.Equal((HttpStatusCode.OK, proposal), await Register("proposer", proposal));
        Assert.Equal((HttpStatusCode.Conflict, null), await Register("proposer", MeshToken.Create()));
        Assert.Equal((HttpStatusCode.Conflict, null), await Register("proposer", null));

        // Guessable, too long or not base64url: the gateway makes the credential itself, as for a node that proposes none.
        foreach (var (id, weak) in new[] { ("short", "0123456789abcdef"), ("long", new string('a', 129)), ("spaced", new string('a', 40) + " b c"), ("none", null) })
        {
            var (status, credential) = await Register(id, weak);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.NotEqual(weak, credential);
            Assert.True(MeshToken.IsProposable(credential!), credential);
        }
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Node.Tests;

public sealed class NodeOptionsTests
{
    private static NodeOptions Valid() => new()
    {
        NodeId = "node-1",
        Gateway = new Uri("http://127.0.0.1:7300/"),
        Capacity = new NodeCapacity(4000, 8L << 30, 0),
    };

    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(Valid().Validate());
        Assert.Equal(TimeSpan.FromSeconds(2), Valid().HeartbeatInterval);
        Assert.Equal(3, Valid().Preflight.Cases);
    }

    [Fact]
    public void Every_problem_is_reported_as_plain_text_the_code_is_the_exceptions()
    {
        var errors = (Valid() with
        {
            NodeId = "bad id/",
            Capacity = new NodeCapacity(0, -1, -1),
            HeartbeatInterval = TimeSpan.Zero,
        }).Validate();
        Assert.Equal(3, errors.Count);
        // The code travels as InfraMindException.Code (IM6014) where the options are refused, never inside the text.
        Assert.All(errors, e => Assert.DoesNotContain("IM6", e, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("node id 'bad id/'", StringComparison.Ordinal));
    }

    [Fact]
    public void Admitted_gateway_keys_need_the_nodes_own_key_and_well_formed_fingerprints_and_the_skew_is_bounded()
    {
        var fingerprint = "sha256:" + new string('a', 64);
        Assert.Contains((Valid() with { AdmitGatewayKeys = new HashSet<string> { fingerprint } }).Validate(), e => e.Contains("--key NAME", StringComparison.Ordinal));
        using var key = InfraMind.Signing.SigningKey.CreateEphemeral();
        Assert.Empty((Valid() with { Identity = key, AdmitGatewayKeys = new HashSet<string> { fingerprint } }).Validate());
        Assert.Single((Valid() with { Identity = key, AdmitGatewayKeys = new HashSet<string> { "sha256:12" } }).Validate());
        Assert.Single((Valid() with { SignatureSkew = TimeSpan.Zero }).Validate());
        Assert.Single((Valid() with { SignatureSkew = TimeSpan.FromMinutes(11) }).Validate());
        Assert.Equal(TimeSpan.FromSeconds(120), Valid().SignatureSkew);
    }

    [Fact]
    public void A_node_serves_one_to_sixteen_gateways_each_named_once_with_a_credential_file_of_its_own()
    {
        Uri[] two = [new("http://10.0.0.11:8080/"), new("http://10.0.0.12:8080/")];
        var both = Valid() with { Gateways = two, CredentialFile = "/var/lib/inframind/mesh/nodes/node-1.credential" };
        Assert.Empty(both.Validate());
        Assert.Equal(two[0], both.Gateway);
        Assert.Equal("/var/lib/inframind/mesh/nodes/node-1.credential", both.CredentialFileFor(0));
        Assert.StartsWith("/var/lib/inframind/mesh/nodes/node-1.credential.gw-", both.CredentialFileFor(1), StringComparison.Ordinal);
        Assert.NotEqual(both.CredentialFileFor(1), (both with { Gateways = [two[0], new("http://10.0.0.13:8080/")] }).CredentialFileFor(1));

        Assert.Contains((Valid() with { Gateways = [] }).Validate(), e => e.Contains("1 to 16 gateways", StringComparison.Ordinal));
        Assert.Contains((Valid() with { Gateways = [.. Enumerable.Range(0, 17).Select(i => new Uri($"http://10.0.0.{i}:8080/"))] }).Validate(),
            e => e.Contains("1 to 16 gateways (got 17)", StringComparison.Ordinal));
        Assert.Contains((Valid() with { Gateways = [two[0], two[0]] }).Validate(), e => e.Contains("each gateway is named once", StringComparison.Ordinal));
        Assert.Contains((Valid() with { Gateways = [two[0], new("ftp://10.0.0.12/")] }).Validate(), e => e.Contains("'ftp://10.0.0.12/' must be an absolute http(s) URL", StringComparison.Ordinal));
    }
}

public sealed class ContractTests
{
    [Fact]
    public void A_heartbeat_round_trips_with_kebab_case_states()
    {
        var beat = new NodeHeartbeat("n1", [new ModelReport("echo", "1.0.0", ModelState.Ready, null, "ok", 2, 1, 1, DateTimeOffset.UnixEpoch)]);
        var json = JsonSerializer.Serialize(beat, MeshJson.Options);
        Assert.Contains("\"state\":\"ready\"", json, StringComparison.Ordinal);
        // A report names no address: the gateway sends jobs to none a node claims.
        Assert.DoesNotContain("endpoint", json, StringComparison.Ordinal);
        Assert.Contains("\"preflightGeneration\":2", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize<NodeHeartbeat>(json, MeshJson.Options)!;
        Assert.Equal(beat.Models[0], back.Models[0]);
    }

    [Fact]
    public void An_assignment_carries_the_resolved_manifest_and_its_key()
    {
        var a = new ModelAssignment("echo", "1.0.0", new JsonObject { ["name"] = "echo" }, "sha256:ab", ["ipfs://bafy"], 7);
        Assert.Equal("echo@1.0.0", a.Key);
        var back = JsonSerializer.Deserialize<HeartbeatReply>(JsonSerializer.Serialize(new HeartbeatReply([a], ["echo@1.0.0"]), MeshJson.Options), MeshJson.Options)!;
        Assert.Equal("echo", (string?)back.Assignments[0].Manifest["name"]);
        Assert.Equal(["ipfs://bafy"], back.Assignments[0].ContentReferences);
        Assert.Equal(7, back.Assignments[0].RegistryIndex);
        Assert.Equal(["echo@1.0.0"], back.Preflight);
    }

    [Fact]
    public void A_registration_round_trips()
    {
        var r = new NodeRegistration("n1", new Uri("http://127.0.0.1:1234/"), new NodeCapacity(2000, 1L << 30, 1), new Dictionary<string, string> { ["zone"] = "a" }, TimeSpan.FromMilliseconds(200));
        var back = JsonSerializer.Deserialize<NodeRegistration>(JsonSerializer.Serialize(r, MeshJson.Options), MeshJson.Options)!;
        Assert.Equal(r.Capacity, back.Capacity);
        Assert.Equal(r.HeartbeatInterval, back.HeartbeatInterval);
        Assert.Equal("a", back.Labels["zone"]);
    }

    [Fact]
    public async Task The_job_client_hands_back_a_redirect_instead_of_following_it()
    {
        // A real HTTP server: a model answering 302 must not send the gateway (or a node) anywhere.
        var followed = 0;
        await using var server = new ListenerServer((context, _) =>
        {
            if (context.Request.Url!.AbsolutePath == "/elsewhere") Interlocked.Increment(ref followed);
            context.Response.StatusCode = context.Request.Url.AbsolutePath == "/elsewhere" ? 200 : 302;
            context.Response.RedirectLocation = "/elsewhere";
            context.Response.Close();
            return Task.CompletedTask;
        });
        using var client = JobHttp.CreateClient();
        using var response = await client.PostAsync(server.BaseUri, new StringContent("{}"));
        Assert.Equal(System.Net.HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(0, followed);
    }
}

public sealed class MeshTokenTests
{
    [Fact]
    public void Tokens_are_random_url_safe_and_256_bits()
    {
        var a = MeshToken.Create();
        Assert.NotEqual(a, MeshToken.Create());
        Assert.Equal(32, System.Buffers.Text.Base64Url.DecodeFromChars(a).Length);
        Assert.All(a, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_', $"'{c}' in {a}"));
    }

    [Fact]
    public void Only_the_same_bearer_token_is_admitted()
    {
        var token = MeshToken.Create();
        Assert.True(MeshToken.Admits(null, null));
        Assert.True(MeshToken.Admits(token, MeshToken.Header(token)));
        Assert.True(MeshToken.Admits(token, "bearer " + token));
        Assert.False(MeshToken.Admits(token, null));
        Assert.False(MeshToken.Admits(token, token));
        Assert.False(MeshToken.Admits(token, "Basic " + token));
        Assert.False(MeshToken.Admits(token, MeshToken.Header(token[..^1])));
        Assert.False(MeshToken.Admits(token, MeshToken.Header(MeshToken.Create())));
    }

    [Fact]
    public void A_token_file_is_one_line_and_an_empty_one_holds_none()
    {
        using var dir = new TempDirectory("im-token");
        var file = dir.Combine("token");
        File.WriteAllText(file, "  abc-def_0123456789  \n");
        Assert.Equal("abc-def_0123456789", MeshToken.Read(file));
        File.WriteAllText(file, "\n");
        Assert.Null(MeshToken.Read(file));
    }

    [Fact]
    public void A_node_rejects_a_token_too_short_to_be_secret()
    {
        var options = new NodeOptions { NodeId = "n", Gateway = new Uri("http://127.0.0.1:1/"), Capacity = new NodeCapacity(1000, 1L << 30, 0), GatewayToken = "short" };
        Assert.Contains(options.Validate(), e => e.Contains("token must be at least 16 characters", StringComparison.Ordinal));
    }
}

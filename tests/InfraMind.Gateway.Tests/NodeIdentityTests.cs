using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using InfraMind.Signing;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// Node identity and signed receipts (#16) against a real gateway on Kestrel, with nodes played by the test over real
/// sockets: a node id bound to its key, signed registrations and heartbeats (clock skew, replays, audience), the admit
/// list, the gateway's signed reply, and receipts that vouch for each answer or get the node's jobs re-routed.
/// </summary>
public sealed class NodeIdentityTests : IAsyncLifetime, IDisposable
{
    private const string Ready = """[{"name":"echo","version":"1.0.0","state":"ready","preflightGeneration":1,"since":"2026-01-01T00:00:00Z"}]""";
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly SigningKey _key = SigningKey.CreateEphemeral("node-a");
    private readonly SigningKey _other = SigningKey.CreateEphemeral("node-b");
    private readonly SigningKey _gatewayKey = SigningKey.CreateEphemeral("gateway");
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        _gateway = await StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 2, MaxAttempts = 3, Identity = _gatewayKey });
        _http.BaseAddress = _gateway.Url;
    }

    private Task<GatewayHost> StartAsync(GatewayOptions options) =>
        GatewayHost.StartAsync(options with { AttemptTimeout = TimeSpan.FromSeconds(5) }, _catalog, CancellationToken.None);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    public void Dispose()
    {
        _http.Dispose();
        _key.Dispose();
        _other.Dispose();
        _gatewayKey.Dispose();
    }

    private static async Task<string?> CodeOf(HttpResponseMessage r) => (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["code"];

    [Fact]
    public async Task A_node_id_is_bound_to_its_first_key_and_another_key_or_none_is_refused_with_IM6040()
    {
        await using var owner = new FakeNode(_gateway.Url, _token) { Key = _key };
        using (var r = await owner.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // The same key registers again (a restarted node that lost its credential file): same credential.
        var credential = owner.Credential;
        using (var again = await owner.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(credential, owner.Credential);

        await using var impostor = new FakeNode(_gateway.Url, _token) { Key = _other };
        using (var taken = await impostor.RegisterAsync("n1", owner.Credential))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeKeyMismatch.Value, await CodeOf(taken));
        }

        // Even with the stolen credential, no key at all is not the bound key.
        await using var keyless = new FakeNode(_gateway.Url, _token);
        using (var taken = await keyless.RegisterAsync("n1", owner.Credential))
        {
            Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeKeyMismatch.Value, await CodeOf(taken));
        }
    }

    /// <summary>A key registers one node: its rank in placement is the key's, so a second id on it would win the same versions.</summary>
    [Fact]
    public async Task A_key_bound_to_an_online_node_registers_no_other_id_IM6051()
    {
        await using var first = new FakeNode(_gateway.Url, _token) { Key = _key };
        using (var r = await first.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await using var second = new FakeNode(_gateway.Url, _token) { Key = _key };
        using (var refused = await second.RegisterAsync("n1-again"))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            var problem = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal(MeshErrorCodes.NodeKeyInUse.Value, (string?)problem["code"]);
            Assert.Contains($"node key {_key.PublicKey.Fingerprint} is bound to node 'n1'", (string?)problem["detail"], StringComparison.Ordinal);
        }

        // Another key registers beside it.
        await using var other = new FakeNode(_gateway.Url, _token) { Key = _other };
        using (var ok = await other.RegisterAsync("n2")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_heartbeat_of_a_key_bound_node_needs_its_signature_not_just_its_credential()
    {
        await using var node = new FakeNode(_gateway.Url, _token) { Key = _key };
        using (var r = await node.RegisterAsync("n2")) r.EnsureSuccessStatusCode();
        using (var ok = await node.BeatAsync("n2", Ready, node.Credential)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var path = "/mesh/v1/nodes/n2/heartbeat";
        var body = Encoding.UTF8.GetBytes($$"""{"nodeId":"n2","models":{{Ready}}}""");
        await using var thief = new FakeNode(_gateway.Url, _token) { Key = _other };
        var cases = new (string? Signature, byte[] Body)[]
        {
            (null, body),                                                                                  // the credential alone
            ("t=1;key=sha256:00;sig=AA", body),                                                             // malformed
            (thief.Sign(path, body).Replace(_other.PublicKey.Fingerprint, _key.PublicKey.Fingerprint, StringComparison.Ordinal), body), // another key's signature
            (node.Sign(path, body), Encoding.UTF8.GetBytes($$"""{"nodeId":"n2","models":[]}""")),          // a body other than the one signed
            (node.Sign(path, body, audience: new Uri("http://127.0.0.1:1/")), body),                        // signed for another gateway
            (node.Sign("/mesh/v1/nodes/other/heartbeat", body), body),                                      // signed for another path
            ($"t=99999999999999999;key={_key.PublicKey.Fingerprint};sig=AA", body),                       // a time past year 9999 (was a 500)
        };
        foreach (var (signature, sent) in cases)
        {
            using var r = await node.SendAsync(path, sent, signature, node.Credential);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeSignatureInvalid.Value, await CodeOf(r));
        }
    }

    [Fact]
    public async Task A_registration_naming_a_key_is_refused_unless_signed_by_that_key_so_no_one_is_admitted_by_a_key_they_do_not_hold()
    {
        // With an admit list the key is the whole admission: naming an admitted key must not be enough.
        await using var gateway = await StartAsync(new GatewayOptions { NodeToken = _token, AdmitNodeKeys = new HashSet<string> { _key.PublicKey.Fingerprint } });
        await using var holder = new FakeNode(gateway.Url, _token) { Key = _key };
        await using var thief = new FakeNode(gateway.Url, _token) { Key = _other };
        const string path = "/mesh/v1/nodes";
        var registration = new NodeRegistration("squatter", thief.Address, new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(30),
            _key.PublicKey.SubjectPublicKeyInfoBase64);
        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(registration, MeshJson.Options);
        var otherBody = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(registration with { NodeId = "elsewhere" }, MeshJson.Options);
        var cases = new (string? Signature, string What)[]
        {
            (null, "no signature"),
            (thief.Sign(path, body).Replace(_other.PublicKey.Fingerprint, _key.PublicKey.Fingerprint, StringComparison.Ordinal), "another key's signature"),
            (holder.Sign(path, otherBody), "the key's signature over another registration"),
        };
        foreach (var (signature, what) in cases)
        {
            using var r = await thief.SendAsync(path, body, signature, null);
            Assert.True(r.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {r.StatusCode}");
            Assert.Equal(MeshErrorCodes.NodeSignatureInvalid.Value, await CodeOf(r));
        }

        Assert.Empty(JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!["nodes"]!.AsArray());
        // The same bytes signed by the key's holder: registered.
        using (var signed = await thief.SendAsync(path, body, holder.Sign(path, body), null)) Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
    }

    [Fact]
    public async Task A_replayed_or_old_or_future_signed_heartbeat_is_refused_with_IM6042()
    {
        await using var node = new FakeNode(_gateway.Url, _token) { Key = _key };
        using (var r = await node.RegisterAsync("n3")) r.EnsureSuccessStatusCode();
        using (var ok = await node.BeatAsync("n3", Ready, node.Credential)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var (path, body, signature) = node.LastSigned!.Value;

        // The very request again, byte for byte, within the skew: a replay.
        using (var replay = await node.SendAsync(path, body, signature, node.Credential))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
            Assert.Equal(MeshErrorCodes.SignatureExpired.Value, await CodeOf(replay));
        }

        // Signed outside the skew (120 s either side), though newer than the last: refused; just inside: taken.
        foreach (var at in new[] { DateTimeOffset.UtcNow.AddSeconds(-121), DateTimeOffset.UtcNow.AddSeconds(125) })
        {
            using var r = await node.SendAsync(path, body, node.Sign(path, body, at), node.Credential);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal(MeshErrorCodes.SignatureExpired.Value, await CodeOf(r));
            Assert.Contains("120 s", await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var inside = await node.SendAsync(path, body, node.Sign(path, body, DateTimeOffset.UtcNow.AddSeconds(100)), node.Credential))
            Assert.Equal(HttpStatusCode.OK, inside.StatusCode);
        // Signed earlier than that one (still within the skew): the gateway took a later one already.
        using (var older = await node.SendAsync(path, body, node.Sign(path, body, DateTimeOffset.UtcNow.AddSeconds(50)), node.Credential))
            Assert.Equal(MeshErrorCodes.SignatureExpired.Value, await CodeOf(older));
    }

    [Fact]
    public async Task With_an_admit_list_only_listed_node_keys_register_and_the_mesh_token_is_not_needed()
    {
        await using var gateway = await StartAsync(new GatewayOptions { NodeToken = _token, AdmitNodeKeys = new HashSet<string> { _key.PublicKey.Fingerprint } });
        await using var stranger = new FakeNode(gateway.Url, _token) { Key = _other };
        using (var r = await stranger.RegisterAsync("stranger"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
            Assert.Equal(MeshErrorCodes.NodeKeyNotAdmitted.Value, await CodeOf(r));
            Assert.Contains(_other.PublicKey.Fingerprint, await r.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await using var keyless = new FakeNode(gateway.Url, _token);
        using (var r = await keyless.RegisterAsync("keyless")) Assert.Equal(MeshErrorCodes.NodeKeyNotAdmitted.Value, await CodeOf(r));

        await using var admitted = new FakeNode(gateway.Url, meshToken: null) { Key = _key };
        using (var r = await admitted.RegisterAsync("admitted")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var beat = await admitted.BeatAsync("admitted", Ready, admitted.Credential)) Assert.Equal(HttpStatusCode.OK, beat.StatusCode);
        var nodes = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!["nodes"]!.AsArray();
        Assert.Equal(["admitted"], nodes.Select(n => (string?)n!["id"]));
        Assert.Equal(_key.PublicKey.Fingerprint, (string?)nodes[0]!["key"]);
    }

    [Fact]
    public async Task The_registration_reply_carrying_the_credential_is_signed_by_the_gateway_key_for_that_node()
    {
        await using var node = new FakeNode(_gateway.Url, _token) { Key = _key };
        using var r = await node.RegisterAsync("n4");
        var body = await r.Content.ReadAsByteArrayAsync();
        var reply = System.Text.Json.JsonSerializer.Deserialize<NodeRegistered>(body, MeshJson.Options)!;
        Assert.Equal(_gatewayKey.PublicKey.SubjectPublicKeyInfoBase64, reply.GatewayKey);
        var signature = r.Headers.GetValues(MeshHeaders.Signature).Single();
        Assert.True(MeshSignature.Verify(signature, _gatewayKey.PublicKey, "POST", "/mesh/v1/nodes", [node.Address], body, DateTimeOffset.UtcNow, MeshSignature.DefaultSkew).Valid);
        // For that node only: another node's address is another audience.
        Assert.False(MeshSignature.Verify(signature, _gatewayKey.PublicKey, "POST", "/mesh/v1/nodes", [new Uri("http://127.0.0.1:1/")], body, DateTimeOffset.UtcNow, MeshSignature.DefaultSkew).Valid);
    }

    /// <summary>An answer with a receipt for the job as the node got it (or as <paramref name="forge"/> alters it).</summary>
    private static Func<ReceivedJob, Stream, CancellationToken, Task> Answering(SigningKey key, string node, Func<string, string>? forge = null, bool receipt = true) =>
        (job, s, ct) =>
        {
            const string answer = """{"summary":"ok"}""";
            var signed = JobReceipts.Sign(key, job.RequestId ?? "", "echo", "1.0.0", "sha256:" + new string('0', 64), job.Body, Encoding.UTF8.GetBytes(answer), node, DateTimeOffset.UtcNow);
            return FakeNode.WriteAsync(s, 200, answer, ct, receipt ? (forge ?? (x => x))(signed) : null);
        };

    [Fact]
    public async Task A_client_gets_the_answering_nodes_receipt_which_verifies_against_its_key_and_is_kept_as_evidence()
    {
        await using var node = new FakeNode(_gateway.Url, _token) { Key = _key };
        node.AnswerJob = Answering(_key, "n5");
        using (var r = await node.RegisterAsync("n5")) r.EnsureSuccessStatusCode();
        await node.ReadyAsync("n5");

        using var content = new StringContent("""{ "text" : "hi" }""", Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var receipt = response.Headers.GetValues(MeshHeaders.Receipt).Single();
        var check = JobReceipts.Verify(receipt, _key.PublicKey);
        Assert.True(check.Valid, check.Problem);
        Assert.Equal("n5", check.Receipt!.Node);
        Assert.Equal(Assert.Single(node.Jobs).RequestId, check.Receipt.RequestId);
        Assert.Matches("^[0-9a-f]{32}$", check.Receipt.RequestId);
        // What the model got: the gateway's compact serialisation, not the client's bytes.
        Assert.Equal(JobReceipts.Sha256("""{"text":"hi"}"""u8), check.Receipt.InputSha256);
        Assert.Equal(JobReceipts.Sha256(await response.Content.ReadAsByteArrayAsync()), check.Receipt.OutputSha256);
        Assert.False(JobReceipts.Verify(receipt, _other.PublicKey).Valid);

        var kept = JsonNode.Parse(await _http.GetStringAsync(new Uri("mesh/v1/nodes/n5/receipts", UriKind.Relative)))!;
        Assert.Equal(_key.PublicKey.Fingerprint, (string?)kept["key"]);
        Assert.Equal([receipt], kept["receipts"]!.AsArray().Select(x => (string?)x));

        // The key names its node; a key the gateway does not know is IM6013, naming it.
        var byKey = JsonNode.Parse(await _http.GetStringAsync(new Uri($"mesh/v1/keys/{_key.PublicKey.Fingerprint}", UriKind.Relative)))!;
        Assert.Equal((_key.PublicKey.Fingerprint, "n5"), ((string?)byKey["key"], (string?)byKey["node"]));
        using var unknown = await _http.GetAsync(new Uri($"mesh/v1/keys/{_other.PublicKey.Fingerprint}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var problem = JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!;
        Assert.Equal("IM6013", (string?)problem["code"]);
        Assert.Contains($"no node is bound to key '{_other.PublicKey.Fingerprint}'", (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_receipts_kept_per_node_are_bounded()
    {
        await using var gateway = await StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 1, ReceiptsPerNode = 3 });
        await using var node = new FakeNode(gateway.Url, _token) { Key = _key };
        node.AnswerJob = Answering(_key, "n6");
        using (var r = await node.RegisterAsync("n6")) r.EnsureSuccessStatusCode();
        await node.ReadyAsync("n6");
        var received = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            using var content = new StringContent($$"""{"text":"{{i}}"}""", Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(new Uri(gateway.Url, "inference/v1/echo"), content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            received.Add(response.Headers.GetValues(MeshHeaders.Receipt).Single());
        }

        var kept = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "mesh/v1/nodes/n6/receipts")))!;
        Assert.Equal(received.TakeLast(3), kept["receipts"]!.AsArray().Select(x => (string?)x));
        Assert.Equal(3, (int)kept["kept"]!);
    }

    // Each "other-…" receipt is signed by the liar's own registered key and differs from the job in one field only, so
    // each of the gateway's comparisons (node, request, model and version, image, input, output) must refuse it alone.
    public static TheoryData<string> Forgeries() =>
        ["missing", "other-key", "other-output", "other-request", "other-node", "other-version", "other-image", "other-input", "garbage"];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_node_whose_receipts_are_forged_or_missing_has_its_jobs_re_routed_and_loses_standing(string forgery)
    {
        await using var gateway = await StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 2, MaxAttempts = 3, SuspendAfterFailures = 1 });
        _http.BaseAddress = gateway.Url;
        await using var liar = new FakeNode(gateway.Url, _token) { Key = _other };
        liar.AnswerJob = forgery switch
        {
            "missing" => Answering(_other, "liar", receipt: false),
            "other-key" => Answering(_key, "liar"),
            "other-output" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"altered"}""", ct,
                JobReceipts.Sign(_other, job.RequestId!, "echo", "1.0.0", "sha256:" + new string('0', 64), job.Body, """{"summary":"ok"}"""u8, "liar", DateTimeOffset.UtcNow)),
            "other-request" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct,
                JobReceipts.Sign(_other, "0123", "echo", "1.0.0", "sha256:" + new string('0', 64), job.Body, """{"summary":"ok"}"""u8, "liar", DateTimeOffset.UtcNow)),
            // A receipt another node (or the same key under another id) could show for this job.
            "other-node" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct,
                JobReceipts.Sign(_other, job.RequestId!, "echo", "1.0.0", "sha256:" + new string('0', 64), job.Body, """{"summary":"ok"}"""u8, "honest", DateTimeOffset.UtcNow)),
            // Another version or image of the model answered: the receipt must name what the gateway routed.
            "other-version" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct,
                JobReceipts.Sign(_other, job.RequestId!, "echo", "0.9.0", "sha256:" + new string('0', 64), job.Body, """{"summary":"ok"}"""u8, "liar", DateTimeOffset.UtcNow)),
            "other-image" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct,
                JobReceipts.Sign(_other, job.RequestId!, "echo", "1.0.0", "sha256:" + new string('1', 64), job.Body, """{"summary":"ok"}"""u8, "liar", DateTimeOffset.UtcNow)),
            // The model answered another input than the one the gateway sent.
            "other-input" => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct,
                JobReceipts.Sign(_other, job.RequestId!, "echo", "1.0.0", "sha256:" + new string('0', 64), """{"text":"other"}"""u8, """{"summary":"ok"}"""u8, "liar", DateTimeOffset.UtcNow)),
            _ => (job, s, ct) => FakeNode.WriteAsync(s, 200, """{"summary":"ok"}""", ct, "bm90IGEgcmVjZWlwdA"),
        };
        await using var honest = new FakeNode(gateway.Url, _token) { Key = _key };
        honest.AnswerJob = Answering(_key, "honest");
        using (var r = await liar.RegisterAsync("liar")) r.EnsureSuccessStatusCode();
        using (var r = await honest.RegisterAsync("honest")) r.EnsureSuccessStatusCode();
        await liar.ReadyAsync("liar");
        await honest.ReadyAsync("honest");

        // Until the liar was tried (nodes are chosen at random, weighted), then a few more: every answer is the honest node's.
        for (var i = 0; i < 60 && (liar.Jobs.IsEmpty || i < 8); i++)
        {
            using var content = new StringContent($$"""{"text":"{{i}}"}""", Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(new Uri("inference/v1/echo", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("honest", response.Headers.GetValues(MeshHeaders.Node).Single());
            Assert.True(JobReceipts.Verify(response.Headers.GetValues(MeshHeaders.Receipt).Single(), _key.PublicKey).Valid);
        }

        Assert.NotEmpty(liar.Jobs);
        var state = JsonNode.Parse(await _http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!;
        var liarState = state["models"]![0]!["versions"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["node"] == "liar")!;
        Assert.Equal(0, (long)liarState["successes"]!);
        Assert.True((long)liarState["failures"]! >= 1);
        Assert.True((bool)liarState["suspended"]!, "a node whose receipts never verify is suspended");
        Assert.Equal("receipt-invalid", (string?)liarState["suspendedFor"]);
        var reputation = state["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "liar")!["reputation"]!.GetValue<double>();
        Assert.True(reputation < 0.9, $"reputation {reputation}");
        Assert.Empty(JsonNode.Parse(await _http.GetStringAsync(new Uri("mesh/v1/nodes/liar/receipts", UriKind.Relative)))!["receipts"]!.AsArray());
    }

    [Fact]
    public async Task Registrations_over_their_limit_and_bad_public_keys_are_refused_plainly()
    {
        await using var node = new FakeNode(_gateway.Url, _token);
        var registration = new NodeRegistration("n7", node.Address, new NodeCapacity(1000, 1L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(30), "bm90IGEga2V5");
        using var r = await node.SendAsync("/mesh/v1/nodes", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(registration, MeshJson.Options), null, null);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(MeshErrorCodes.RegistrationInvalid.Value, await CodeOf(r));
        using var huge = await node.SendAsync("/mesh/v1/nodes", new byte[NodeApi.MaxRegistrationBytes + 1], null, null);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        using var empty = await _http.GetAsync(new Uri("mesh/v1/nodes/nobody/receipts", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, empty.StatusCode);
    }

    private static Func<ReceivedJob, Stream, CancellationToken, Task> Saying(SigningKey key, string node, string summary) =>
        Answering(key, node, $$"""{"summary":"{{summary}}"}""");

    private static Func<ReceivedJob, Stream, CancellationToken, Task> Answering(SigningKey key, string node, string answer) =>
        (job, s, ct) =>
        {
            return FakeNode.WriteAsync(s, 200, answer, ct,
                JobReceipts.Sign(key, job.RequestId ?? "", "echo", "1.0.0", "sha256:" + new string('0', 64), job.Body, Encoding.UTF8.GetBytes(answer), node, DateTimeOffset.UtcNow));
        };

    private async Task<(GatewayHost Gateway, List<FakeNode> Nodes)> DeterministicMeshAsync(double share, params (string Id, SigningKey Key, string Summary)[] nodes)
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(MeshStateTests.Served("1.0.0", deterministic: true).Published);
        var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = _token, Replicas = nodes.Length, SpotCheckShare = share }, catalog, CancellationToken.None);
        var started = new List<FakeNode>();
        foreach (var (id, key, summary) in nodes)
        {
            var node = new FakeNode(gateway.Url, _token) { Key = key };
            node.AnswerJob = Saying(key, id, summary);
            using (var r = await node.RegisterAsync(id)) r.EnsureSuccessStatusCode();
            await node.ReadyAsync(id);
            started.Add(node);
        }

        return (gateway, started);
    }

    private async Task<HttpResponseMessage> InferAsync(GatewayHost gateway, int i)
    {
        using var content = new StringContent($$"""{"text":"{{i}}"}""", Encoding.UTF8, "application/json");
        return await _http.PostAsync(new Uri(gateway.Url, "inference/v1/echo"), content);
    }

    [Fact]
    public async Task Spot_checks_of_a_deterministic_model_give_the_majoritys_answer_and_suspend_the_node_that_disagrees()
    {
        using var third = SigningKey.CreateEphemeral("third");
        var (gateway, nodes) = await DeterministicMeshAsync(1.0, ("a", _key, "right"), ("b", _other, "right"), ("liar", third, "wrong"));
        await using var _ = gateway;
        try
        {
            for (var i = 0; i < 10; i++)
            {
                using var r = await InferAsync(gateway, i);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal("right", (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["summary"]);
                Assert.NotEqual("liar", r.Headers.GetValues(MeshHeaders.Node).Single());
                // Every request went to two nodes at least (the same request id), three when they differed.
                Assert.InRange(int.Parse(r.Headers.GetValues(MeshHeaders.Attempts).Single(), System.Globalization.CultureInfo.InvariantCulture), 2, 3);
            }

            var state = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
            var liar = state["models"]![0]!["versions"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["node"] == "liar")!;
            Assert.True((bool)liar["suspended"]!);
            Assert.Equal("answer-disagrees", (string?)liar["suspendedFor"]);
            Assert.Equal(1, (int)state["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "liar")!["disagreements"]!);
            var evidence = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "mesh/v1/nodes/liar/receipts")))!["disagreements"]!.AsArray().Single()!;
            var receipts = evidence["receipts"]!.AsObject();
            Assert.Equal(["a", "b", "liar"], receipts.Select(kv => kv.Key).Order(StringComparer.Ordinal));
            Assert.True(JobReceipts.Verify((string?)receipts["liar"], third.PublicKey).Valid);
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Answers_that_differ_only_in_how_their_JSON_is_written_agree()
    {
        // Compared byte for byte first, then as parsed documents: spacing and number spelling are not a disagreement.
        var (gateway, nodes) = await DeterministicMeshAsync(1.0, ("a", _key, "same"), ("b", _other, "same"));
        await using var _ = gateway;
        nodes[1].AnswerJob = Answering(_other, "b", """{ "summary" : "same", "n": 1.0 }""");
        nodes[0].AnswerJob = Answering(_key, "a", """{"summary":"same","n":1.0}""");
        try
        {
            for (var i = 0; i < 4; i++)
            {
                using var r = await InferAsync(gateway, i);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal("2", r.Headers.GetValues(MeshHeaders.Attempts).Single());
            }

            var state = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
            Assert.All(state["nodes"]!.AsArray(), n => Assert.Equal(0, (int)n!["disagreements"]!));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public async Task Two_nodes_that_disagree_prove_nothing_and_without_spot_checks_one_node_answers_alone()
    {
        var (gateway, nodes) = await DeterministicMeshAsync(1.0, ("a", _key, "one"), ("b", _other, "other"));
        await using var _ = gateway;
        try
        {
            for (var i = 0; i < 6; i++)
            {
                using var r = await InferAsync(gateway, i);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal("2", r.Headers.GetValues(MeshHeaders.Attempts).Single());
                // The first answer stands: the gateway cannot tell who is right, and blames no one.
                var node = r.Headers.GetValues(MeshHeaders.Node).Single();
                Assert.Equal(node == "a" ? "one" : "other", (string?)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["summary"]);
            }

            var state = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
            Assert.All(state["models"]![0]!["versions"]![0]!["nodes"]!.AsArray(), n => Assert.False((bool)n!["suspended"]!));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }

        var (quiet, quietNodes) = await DeterministicMeshAsync(0, ("a", _key, "one"), ("b", _other, "other"));
        await using var __ = quiet;
        try
        {
            for (var i = 0; i < 6; i++)
            {
                using var r = await InferAsync(quiet, i);
                Assert.Equal("1", r.Headers.GetValues(MeshHeaders.Attempts).Single());
            }
        }
        finally
        {
            foreach (var n in quietNodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public void The_spot_check_share_is_between_0_and_1_and_2_percent_by_default()
    {
        Assert.Equal(0.02, new GatewayOptions().SpotCheckShare);
        Assert.Single(new GatewayOptions { SpotCheckShare = 1.5 }.Validate());
        Assert.Single(new GatewayOptions { SpotCheckShare = -0.1 }.Validate());
        Assert.Single(new GatewayOptions { SignatureSkew = TimeSpan.Zero }.Validate());
        Assert.Single(new GatewayOptions { AdmitNodeKeys = new HashSet<string> { "sha256:12" } }.Validate());
    }

    [Fact]
    public void What_a_refused_receipt_names_is_quoted_cut()
    {
        // The attempt's detail reaches the client (502 attempts[]) and logs: a receipt's 2,000-character node name does not.
        var model = MeshStateTests.Served("1.0.0");
        var input = Encoding.UTF8.GetBytes("""{"text":"hi"}""");
        var output = Encoding.UTF8.GetBytes("""{"summary":"ok"}""");
        const string request = "0123456789abcdef0123456789abcdef";
        var forged = JobReceipts.Sign(_key, request, "echo", "1.0.0", model.Published.ImageDigest, input, output, new string('n', 2000), DateTimeOffset.UtcNow);

        var problem = Inference.InferenceAttempts.ReceiptProblem(forged, _key.PublicKey, model, "node-a", request, input, output);

        Assert.NotNull(problem);
        Assert.Contains("(2000 characters)", problem, StringComparison.Ordinal);
        Assert.True(problem.Length < 300, problem);
    }
}

using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Manifest;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Registry.Tests.Models;
using InfraMind.Signing;

namespace InfraMind.Registry.Tests.Http;

/// <summary>Against the real Kestrel on 127.0.0.1 with an ephemeral port.</summary>
public sealed class RegistryApiTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private RegistryServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartAsync(new RegistryServerOptions(_dir.Path, "http://127.0.0.1:0"), CancellationToken.None);
        _http = new HttpClient { BaseAddress = _server.Address };
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    // xunit runs this after DisposeAsync: the server is stopped before its directory goes.
    public void Dispose()
    {
        _http.Dispose();
        _dir.Dispose();
    }

    private Task<HttpResponseMessage> Post(DsseEnvelope envelope) =>
        _http.PostAsync(new Uri("/v1/entries", UriKind.Relative), new StringContent(envelope.ToJson(), Encoding.UTF8, "application/json"));

    private static async Task<JsonObject> Body(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

    [Fact]
    public async Task Publish_then_fetch_and_verify_offline()
    {
        Assert.Equal("127.0.0.1", _server.Address.Host);
        using var alice = SigningKey.CreateEphemeral("alice");
        var created = await Post(ModelRegistryTests.Envelope(alice, "summarizer", "1.0.0"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/v1/entries/0", created.Headers.Location!.OriginalString);
        Assert.False((bool)(await Body(created))["alreadyPublished"]!);

        var keyPem = await _http.GetStringAsync(new Uri("/v1/key", UriKind.Relative));
        var registryKey = PublicKey.FromPem(keyPem);

        var bundleJson = await _http.GetStringAsync(new Uri("/v1/models/summarizer/latest", UriKind.Relative));
        var report = EntryVerifier.Verify(EntryBundle.Parse(bundleJson), registryKey);
        Assert.True(report.AllPassed, string.Join("; ", report.Checks.Select(c => c.Reason)));

        var byIndex = EntryBundle.Parse(await _http.GetStringAsync(new Uri("/v1/entries/0", UriKind.Relative)));
        Assert.Equal(0, byIndex.Index);

        var versions = JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/models/summarizer", UriKind.Relative)))!;
        Assert.Equal("1.0.0", (string?)versions["latest"]);
        Assert.Equal(alice.PublicKey.Fingerprint, (string?)versions["owner"]);

        var log = JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/entries?start=0&limit=10", UriKind.Relative)))!;
        Assert.Equal("summarizer", (string?)log["entries"]![0]!["name"]);
    }

    [Fact]
    public async Task Errors_are_problem_details_with_stable_codes()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        using var mallory = SigningKey.CreateEphemeral("mallory");
        Assert.Equal(HttpStatusCode.Created, (await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.0"))).StatusCode);

        await AssertProblem(await Post(ModelRegistryTests.Envelope(mallory, "m", "1.0.1")), HttpStatusCode.Forbidden, RegistryErrorCodes.NotOwner);
        await AssertProblem(await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.0", 'b')), HttpStatusCode.Conflict, RegistryErrorCodes.VersionConflict);

        var again = await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.0"));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.True((bool)(await Body(again))["alreadyPublished"]!);

        var garbage = await _http.PostAsync(new Uri("/v1/entries", UriKind.Relative), new StringContent("{nope", Encoding.UTF8, "application/json"));
        await AssertProblem(garbage, HttpStatusCode.BadRequest, SigningErrorCodes.EnvelopeMalformed);

        var tampered = ModelRegistryTests.Envelope(alice, "m", "1.0.2");
        var payload = tampered.Payload.ToArray();
        payload[Encoding.UTF8.GetString(payload).IndexOf("1.0.2", StringComparison.Ordinal) + 4] = (byte)'7';
        await AssertProblem(await Post(tampered with { Payload = payload }), HttpStatusCode.BadRequest, SigningErrorCodes.SignatureMismatch);

        await AssertProblem(await _http.GetAsync(new Uri("/v1/models/unknown", UriKind.Relative)), HttpStatusCode.NotFound, RegistryErrorCodes.NotFound);
        // A malformed version is 400 whether or not the name exists (it was 404 for an unknown name); a well-formed one 404.
        await AssertProblem(await _http.GetAsync(new Uri("/v1/models/unknown/notsemver", UriKind.Relative)), HttpStatusCode.BadRequest, RegistryErrorCodes.InvalidVersion);
        await AssertProblem(await _http.GetAsync(new Uri("/v1/models/m/notsemver", UriKind.Relative)), HttpStatusCode.BadRequest, RegistryErrorCodes.InvalidVersion);
        await AssertProblem(await _http.GetAsync(new Uri("/v1/models/unknown/1.0.0", UriKind.Relative)), HttpStatusCode.NotFound, RegistryErrorCodes.NotFound);
        await AssertProblem(await _http.GetAsync(new Uri("/v1/entries/99", UriKind.Relative)), HttpStatusCode.NotFound, RegistryErrorCodes.NotFound);
        await AssertProblem(await _http.GetAsync(new Uri("/v1/proof/consistency?from=5&to=1", UriKind.Relative)), HttpStatusCode.BadRequest, RegistryErrorCodes.InvalidRequest);

        // Each outcome counted once, refusals by the code that said why; reads refuse nothing.
        var metrics = await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(1, PrometheusText.Value(metrics, "inframind_registry_appends_total"));
        Assert.Equal(1, PrometheusText.Value(metrics, "inframind_registry_republishes_total"));
        Assert.Equal(1, PrometheusText.Value(metrics, "inframind_registry_log_entries"));
        foreach (var code in new[] { RegistryErrorCodes.NotOwner, RegistryErrorCodes.VersionConflict, SigningErrorCodes.EnvelopeMalformed, SigningErrorCodes.SignatureMismatch })
            Assert.Equal(1, PrometheusText.Value(metrics, $"inframind_registry_publish_refusals_total{{reason=\"{code.Value}\"}}"));
        Assert.DoesNotContain(RegistryErrorCodes.NotFound.Value, metrics, StringComparison.Ordinal);
        PrometheusText.AssertProcessAndRuntimeSeries(metrics);
    }

    /// <summary>
    /// Numbers in a path or a query that do not parse are answered like those out of range, with a code: bound by
    /// ASP.NET Core as long/int (or behind a route constraint), they were an empty 400 (404 for an index).
    /// </summary>
    [Theory]
    [InlineData("/v1/entries?start=-1", 400, "IM5107", "use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?limit=0", 400, "IM5107", "use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?start=abc", 400, "IM5107", "query parameter 'start' is 'abc', not a whole number: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?start=99999999999999999999", 400, "IM5107", "query parameter 'start' is '99999999999999999999', out of range: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?start=1.5", 400, "IM5107", "query parameter 'start' is '1.5', not a whole number: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?start=0&start=1", 400, "IM5107", "query parameter 'start' is '0,1', not a whole number: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?limit=x", 400, "IM5107", "query parameter 'limit' is 'x', not a whole number: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?limit=4294967296", 400, "IM5107", "use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries?limit=%01", 400, "IM5107", "query parameter 'limit' is '\\u0001', not a whole number: use start ≥ 0 and 1 ≤ limit ≤ 1000.")]
    [InlineData("/v1/entries/99999999999999999999", 404, "IM5105", "log entry '99999999999999999999' does not exist; the log has 1 entries.")]
    [InlineData("/v1/entries/-1", 404, "IM5105", "log entry -1 does not exist; the log has 1 entries.")]
    [InlineData("/v1/entries/1", 404, "IM5105", "log entry 1 does not exist; the log has 1 entries.")]
    [InlineData("/v1/entries/abc", 400, "IM5107", "an entry index is a whole number ≥ 0, e.g. /v1/entries/0; got 'abc'.")]
    [InlineData("/v1/entries/0x1", 400, "IM5107", "an entry index is a whole number ≥ 0, e.g. /v1/entries/0; got '0x1'.")]
    [InlineData("/v1/proof/consistency?from=abc&to=1", 400, "IM5107", "query parameter 'from' is 'abc', not a whole number: 'from' and 'to' are tree sizes, 0 ≤ from ≤ to, e.g. ?from=10&to=42.")]
    [InlineData("/v1/proof/consistency?from=0&to=99999999999999999999", 400, "IM5107", "query parameter 'to' is '99999999999999999999', out of range: 'from' and 'to' are tree sizes, 0 ≤ from ≤ to, e.g. ?from=10&to=42.")]
    [InlineData("/v1/proof/consistency?from=0", 400, "IM5107", "query parameters 'from' and 'to' (tree sizes) are required, e.g. ?from=10&to=42.")]
    public async Task Numbers_in_the_path_or_query_that_do_not_parse_are_problems_with_a_code(string path, int status, string code, string detail)
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        Assert.Equal(HttpStatusCode.Created, (await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.0"))).StatusCode);
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));
        await AssertProblem(response, (HttpStatusCode)status, code);
        Assert.Equal(detail, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]);

        // The same numbers in range still answer.
        Assert.Equal(0, JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/entries/0", UriKind.Relative)))!["index"]!.GetValue<long>());
        Assert.Single(JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/entries?start=0&limit=1000", UriKind.Relative)))!["entries"]!.AsArray());
        Assert.Single(JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/entries?start=&limit=", UriKind.Relative)))!["entries"]!.AsArray());
    }

    [Fact]
    public async Task Checkpoints_and_consistency_proofs_over_http()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var key = PublicKey.FromPem(await _http.GetStringAsync(new Uri("/v1/key", UriKind.Relative)));
        await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.0"));
        await Post(ModelRegistryTests.Envelope(alice, "m", "1.0.1"));
        var first = CheckpointNote.Verify(await _http.GetStringAsync(new Uri("/v1/checkpoint", UriKind.Relative)), key);
        Assert.True(first.IsValid, first.Reason);
        for (var i = 2; i < 7; i++)
        {
            await Post(ModelRegistryTests.Envelope(alice, "m", $"1.0.{i}"));
        }

        var second = CheckpointNote.Verify(await _http.GetStringAsync(new Uri("/v1/checkpoint", UriKind.Relative)), key);
        Assert.Equal(7, second.Checkpoint!.Size);
        var proof = JsonNode.Parse(await _http.GetStringAsync(new Uri("/v1/proof/consistency?from=2&to=7", UriKind.Relative)))!;
        var hashes = proof["hashes"]!.AsArray().Select(h => (ReadOnlyMemory<byte>)Convert.FromBase64String((string)h!)).ToList();
        Assert.Null(MerkleProofs.VerifyConsistency(2, 7, first.Checkpoint!.RootHash.Span, second.Checkpoint.RootHash.Span, hashes));
    }

    [Fact]
    public async Task Client_publishes_verifies_and_maps_problems_to_codes()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        using var mallory = SigningKey.CreateEphemeral("mallory");
        var client = new RegistryClient(_http);
        var key = await client.GetKeyAsync(CancellationToken.None);
        Assert.Equal(_server.Registry.PublicKey, key);

        var first = await client.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), CancellationToken.None);
        Assert.False(first.AlreadyPublished);
        Assert.True(EntryVerifier.Verify(first.Bundle, key).AllPassed);
        var before = CheckpointNote.Verify(await client.GetCheckpointAsync(CancellationToken.None), key).Checkpoint!;

        Assert.True((await client.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0"), CancellationToken.None)).AlreadyPublished);
        var conflict = await Assert.ThrowsAsync<RegistryException>(() => client.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.0.0", 'c'), CancellationToken.None));
        Assert.Equal((RegistryErrorCodes.VersionConflict, RegistryErrorKind.Conflict), (conflict.Code, conflict.Category));
        var owner = await Assert.ThrowsAsync<RegistryException>(() => client.PublishAsync(ModelRegistryTests.Envelope(mallory, "m", "2.0.0"), CancellationToken.None));
        Assert.Equal((RegistryErrorCodes.NotOwner, RegistryErrorKind.Forbidden), (owner.Code, owner.Category));

        await client.PublishAsync(ModelRegistryTests.Envelope(alice, "m", "1.1.0"), CancellationToken.None);
        var latest = await client.GetModelVersionAsync("m", "latest", CancellationToken.None);
        Assert.True(EntryVerifier.Verify(latest, key, new ExpectedPublish(ModelName: "m", Version: "1.1.0")).AllPassed);
        Assert.Equal(1, (await client.GetEntryAsync(1, CancellationToken.None)).Index);
        Assert.Equal("1.1.0", (string?)(await client.GetVersionsAsync("m", CancellationToken.None))["latest"]);

        var (size, entries) = await client.ListEntriesAsync(0, 10, CancellationToken.None);
        Assert.Equal(2, size);
        Assert.Equal(["1.0.0", "1.1.0"], entries.Select(e => e.Version));

        var after = CheckpointNote.Verify(await client.GetCheckpointAsync(CancellationToken.None), key).Checkpoint!;
        var proof = await client.GetConsistencyProofAsync(before.Size, after.Size, CancellationToken.None);
        Assert.Null(MerkleProofs.VerifyConsistency(before.Size, after.Size, before.RootHash.Span, after.RootHash.Span, proof.Hashes));

        Assert.Equal(RegistryErrorCodes.NotFound, (await Assert.ThrowsAsync<RegistryException>(() => client.GetModelVersionAsync("m", "9.0.0", CancellationToken.None))).Code);
    }

    [Fact]
    public async Task Admission_rejection_is_422_with_its_code()
    {
        using var dir = new TempDirectory("im-reg");
        await using var server = await RegistryServer.StartAsync(new RegistryServerOptions(dir.Path, "http://127.0.0.1:0") { Admission = new RejectAll() }, CancellationToken.None);
        using var http = new HttpClient { BaseAddress = server.Address };
        using var alice = SigningKey.CreateEphemeral("alice");
        var response = await http.PostAsync(new Uri("/v1/entries", UriKind.Relative), new StringContent(ModelRegistryTests.Envelope(alice, "m", "1.0.0").ToJson(), Encoding.UTF8, "application/json"));
        await AssertProblem(response, HttpStatusCode.UnprocessableEntity, "IM1001");
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(1, PrometheusText.Value(metrics, "inframind_registry_publish_refusals_total{reason=\"IM1001\"}"));
        Assert.Equal(0, PrometheusText.Value(metrics, "inframind_registry_appends_total"));
        Assert.Equal(0, PrometheusText.Value(metrics, "inframind_registry_log_entries"));
    }

    private sealed class RejectAll : IPublishAdmission
    {
        public Task<AdmissionResult> AdmitAsync(PublishCandidate candidate, CancellationToken cancellationToken) =>
            Task.FromResult(AdmissionResult.Reject(ManifestCodes.ManifestMissing, "model.yaml:3:1 port is missing"));
    }

    [Fact]
    public async Task Client_says_when_the_registry_is_unreachable()
    {
        // A port held by a socket that never listens: refused, and no other process can take it meanwhile.
        using var closed = new InfraMind.Testing.ClosedPort();
        var port = closed.Port;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var ex = await Assert.ThrowsAsync<RegistryException>(() => new RegistryClient(http).GetCheckpointAsync(CancellationToken.None));
        Assert.Equal(RegistryErrorCodes.RegistryUnreachable, ex.Code);
        // The reason in a user's words, not .NET's ("An error occurred while sending the request."), and one period.
        Assert.Equal($"cannot reach the registry at http://127.0.0.1:{port}/ (connection refused: nothing listens there)", ex.Message);
        Assert.Equal("start it with `infra registry serve`, or pass --registry URL", ex.Hint);
    }

    [Fact]
    public async Task Client_says_when_the_registry_hangs_up_before_answering()
    {
        // A listener that reads the request and closes: the registry process died or dropped it mid-request. That is
        // not "cannot reach" (something answered at the address), and starting a registry is not the fix.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var hangUp = Task.Run(async () =>
        {
            // Every connection: the client sends the request again on a new one when the first closes unanswered.
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                _ = await client.GetStream().ReadAsync(new byte[4096], stop.Token);
            }
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
        var ex = await Assert.ThrowsAsync<RegistryException>(() => new RegistryClient(http).GetCheckpointAsync(CancellationToken.None));
        await stop.CancelAsync();
        await hangUp.ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.Equal(RegistryErrorCodes.RegistryUnreachable, ex.Code);
        Assert.Equal($"the registry at http://127.0.0.1:{port}/ hung up before it answered (the connection closed before a whole answer came)", ex.Message);
        Assert.Equal("check the registry's log, then retry", ex.Hint);
    }

    [Fact]
    public async Task Client_carries_the_registrys_hint_and_falls_back_to_the_codes_own()
    {
        // The registry's own advice (its problem's hint) is what the user reads, on one line and cut to a bound; a
        // problem without one keeps the code's default hint; a hint that is not text is no hint.
        var ownHint = await HintFromAsync("""{"code":"IM5107","detail":"bad query","hint":"use ?start=0\nand a limit"}""");
        Assert.Equal("use ?start=0 and a limit", ownHint);
        Assert.Equal(RegistryErrorCodes.NoSuchPath.DefaultHint, await HintFromAsync("""{"code":"IM5115","detail":"nothing here"}"""));
        Assert.Equal(RegistryErrorCodes.NoSuchPath.DefaultHint, await HintFromAsync("""{"code":"IM5115","detail":"nothing here","hint":{"a":1}}"""));
        Assert.Equal(RegistryErrorCodes.InvalidRequest.DefaultHint, await HintFromAsync("""{"code":"IM5107","detail":"bad query","hint":"   "}"""));
        var longHint = await HintFromAsync($$"""{"code":"IM5107","detail":"bad query","hint":"{{new string('x', 5000)}}"}""");
        Assert.Equal(ProblemMembers.MaxHintChars + 1, longHint!.Length);
        Assert.EndsWith("x…", longHint, StringComparison.Ordinal);
    }

    /// <summary>The hint of the RegistryException a client raises for a 400 whose body is <paramref name="problem"/>, sent by a stand-in registry.</summary>
    private static async Task<string?> HintFromAsync(string problem)
    {
        await using var registry = new InfraMind.Testing.ListenerServer(async (context, ct) =>
        {
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/problem+json";
            await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(problem), ct);
            context.Response.Close();
        });
        using var http = new HttpClient { BaseAddress = registry.BaseUri, Timeout = TimeSpan.FromSeconds(10) };
        var ex = await Assert.ThrowsAsync<RegistryException>(() => new RegistryClient(http).GetCheckpointAsync(CancellationToken.None));
        Assert.Contains(ex.Message, new[] { "bad query", "nothing here" });
        return ex.Hint;
    }

    private static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(code, (string?)problem["code"]);
        Assert.Equal(code, (string?)problem["title"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)problem["detail"]));
    }
}

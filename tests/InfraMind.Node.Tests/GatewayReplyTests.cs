using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Tests;

/// <summary>
/// A node reads what a gateway answers within <see cref="GatewayLink.MaxReplyBytes"/>: a gateway (one the node chose,
/// but a stranger's machine) that answers with more is not read further, and the node says so and keeps trying.
/// </summary>
public sealed class GatewayReplyTests
{
    [SkippableFact]
    public async Task A_gateway_answer_over_the_limit_is_not_read_and_the_node_says_why()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        const long Announced = GatewayLink.MaxReplyBytes + (16L << 20);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        // The "gateway": whatever it is asked, a 200 announcing more bytes than the limit, sent until the node hangs up.
        var written = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var request = new byte[64 * 1024];
            _ = await stream.ReadAsync(request);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Announced}\r\n\r\n"));
            var chunk = new byte[1 << 20];
            Array.Fill(chunk, (byte)' ');
            long sent = 0;
            try
            {
                while (sent < Announced)
                {
                    await stream.WriteAsync(chunk);
                    sent += chunk.Length;
                }
            }
            catch (IOException)
            {
                // the node closed the connection: what was sent so far is the answer's length it took
            }

            return sent;
        });

        var logs = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            NodeId = "reader", Gateway = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"),
            Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
        };
        await using (await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System,
                         b => b.AddProvider(new QueueLogger(logs)), CancellationToken.None))
        {
            var sent = await written.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(sent < Announced, $"the node read all {sent} bytes of an answer over its limit");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!logs.Any(l => l.Contains($"larger than {GatewayLink.MaxReplyBytes} bytes", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "no warning names the limit; logged: " + string.Join(" | ", logs));
                await Task.Delay(20);
            }

            // Each of the node's lines names it: `infra mesh up` runs several nodes in one process.
            Assert.StartsWith("node reader: gateway http://127.0.0.1:", logs.First(l => l.Contains("larger than", StringComparison.Ordinal)), StringComparison.Ordinal);
        }
    }

    [SkippableTheory]
    [InlineData("{}")]
    [InlineData("""{"assignments": [null], "preflight": []}""")]
    [InlineData("""{"assignments": [{"name": "m", "version": "1.0.0", "manifest": null, "imageDigest": "sha256:00", "contentReferences": []}], "preflight": []}""")]
    [InlineData("""{"assignments": [], "preflight": null}""")]
    public async Task A_gateways_reply_of_the_wrong_shape_is_not_applied_and_the_nodes_other_gateways_keep_their_beats(string reply)
    {
        // Found by an audit: a reply that parsed but left a list out was kept, and every gateway's loop read every kept
        // reply, so one gateway's `{}` ended the node's heartbeats to all of them (a NullReferenceException no loop caught).
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var honestBeats = 0;
        var hostileBeats = 0;
        async Task AnswerAsync(HttpListenerContext context, string heartbeat, Action counted, CancellationToken ct)
        {
            var beat = context.Request.Url!.AbsolutePath.EndsWith("/heartbeat", StringComparison.Ordinal);
            var body = beat ? heartbeat : System.Text.Json.JsonSerializer.Serialize(new NodeRegistered("beats", MeshToken.Create()), MeshJson.Options);
            if (beat) counted();
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body), ct);
            context.Response.Close();
        }

        var honestReply = System.Text.Json.JsonSerializer.Serialize(new HeartbeatReply([], []), MeshJson.Options);
        await using var honest = new ListenerServer((c, ct) => AnswerAsync(c, honestReply, () => Interlocked.Increment(ref honestBeats), ct));
        await using var hostile = new ListenerServer((c, ct) => AnswerAsync(c, reply, () => Interlocked.Increment(ref hostileBeats), ct));

        var logs = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            NodeId = "beats", Gateways = [hostile.BaseUri, honest.BaseUri], HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
        };
        await using (await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System,
                         b => b.AddProvider(new QueueLogger(logs)), CancellationToken.None))
        {
            // Several bad replies taken, and the honest gateway still beaten after them, and the hostile one too.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Volatile.Read(ref hostileBeats) < 3)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the hostile gateway got {hostileBeats} beats; logged: " + string.Join(" | ", logs));
                await Task.Delay(20);
            }

            var before = Volatile.Read(ref honestBeats);
            var afterHostile = Volatile.Read(ref hostileBeats);
            while (Volatile.Read(ref honestBeats) < before + 3 || Volatile.Read(ref hostileBeats) < afterHostile + 3)
            {
                Assert.True(DateTime.UtcNow < deadline, $"beats stopped: honest {honestBeats} (from {before}), hostile {hostileBeats}; logged: " + string.Join(" | ", logs));
                await Task.Delay(20);
            }

            Assert.Contains(logs, l => l.Contains("answered a heartbeat reply that breaks the mesh protocol", StringComparison.Ordinal));
            Assert.DoesNotContain(logs, l => l.Contains("registering again", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// Found by an audit (2026-12-07): a reply whose assignment's manifest names a member twice passed the shape check and
    /// was kept, and reading it threw where the node parses a manifest (an ArgumentException of System.Text.Json, not the
    /// FormatException of an invalid manifest). Every gateway's loop reconciles every kept reply, so each of them threw at
    /// that assignment, before what came after it (other gateways' new placements, pre-flight requests), logged an internal
    /// error and registered again at every beat; the version itself was never refused nor reported.
    /// </summary>
    [SkippableFact]
    public async Task A_manifest_naming_a_member_twice_is_refused_alone_and_what_other_gateways_place_starts()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var echo = InfraMind.Manifest.ManifestReader.ValidateContent(Encoding.UTF8.GetBytes("""
            name: echo
            version: 1.0.0
            entrypoint: serve.py
            runtime: python3.10
            protocol: rest
            port: 9000
            resources: {cpu: 1, memory: 64Mi, gpu: false}
            input_schema: {type: object}
            output_schema: {type: object}
            """)).Manifest!;
        var honestReply = System.Text.Json.JsonSerializer.Serialize(
            new HeartbeatReply([new ModelAssignment("echo", "1.0.0", echo.ToJson(), "sha256:" + new string('0', 64), [], null)], []), MeshJson.Options);
        const string HostileReply = """
            {"assignments": [{"name": "twice", "version": "1.0.0", "manifest": {"name": "twice", "name": "twice"},
              "imageDigest": "sha256:00", "contentReferences": [], "registryIndex": null}], "preflight": []}
            """;
        async Task AnswerAsync(HttpListenerContext context, string heartbeat, CancellationToken ct)
        {
            var beat = context.Request.Url!.AbsolutePath.EndsWith("/heartbeat", StringComparison.Ordinal);
            var body = beat ? heartbeat : System.Text.Json.JsonSerializer.Serialize(new NodeRegistered("twice", MeshToken.Create()), MeshJson.Options);
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body), ct);
            context.Response.Close();
        }

        await using var hostile = new ListenerServer((c, ct) => AnswerAsync(c, HostileReply, ct));
        await using var honest = new ListenerServer((c, ct) => AnswerAsync(c, honestReply, ct));
        var logs = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            // The hostile gateway first: its assignment is reconciled before the honest one's.
            NodeId = "twice", Gateways = [hostile.BaseUri, honest.BaseUri], HeartbeatInterval = TimeSpan.FromMilliseconds(200),
            Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0", RestartBackoff = TimeSpan.FromSeconds(30),
        };
        await using var node = await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System,
            b => b.AddProvider(new QueueLogger(logs)), CancellationToken.None);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (node.Agent.Reports().Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the node reports " + string.Join(", ", node.Agent.Reports().Select(r => $"{r.Name}@{r.Version} {r.State}")) +
                                                    "; logged: " + string.Join(" | ", logs));
            await Task.Delay(20);
        }

        var reports = node.Agent.Reports().ToDictionary(r => r.Name);
        // The honest gateway's version was taken up (it has no image here, so it goes on to fail: not a refusal).
        Assert.NotEqual(ModelState.Refused, reports["echo"].State);
        Assert.Equal(ModelState.Refused, reports["twice"].State);
        Assert.Contains("the published manifest of twice@1.0.0 is invalid", reports["twice"].Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(logs, l => l.Contains("registering again", StringComparison.Ordinal));
    }

    [Fact]
    public void A_reply_is_checked_for_every_list_and_field_and_its_counts()
    {
        var manifest = new System.Text.Json.Nodes.JsonObject();
        ModelAssignment Assigned(string name = "m", string version = "1.0.0") => new(name, version, manifest, "sha256:00", [], null);
        Assert.Null(RegistrationRules.CheckReply(new HeartbeatReply([Assigned()], ["m@1.0.0"])));
        Assert.Equal("it lacks its assignments or preflight list", RegistrationRules.CheckReply(new HeartbeatReply(null!, [])));
        Assert.Equal("a pre-flight request is null", RegistrationRules.CheckReply(new HeartbeatReply([], [null!])));
        Assert.StartsWith("an assignment lacks", RegistrationRules.CheckReply(new HeartbeatReply([Assigned() with { ContentReferences = [null!] }], [])), StringComparison.Ordinal);
        Assert.Contains("a name is at most 63 characters", RegistrationRules.CheckReply(new HeartbeatReply([Assigned(new string('n', 64))], [])), StringComparison.Ordinal);
        Assert.Contains("a version at most 256", RegistrationRules.CheckReply(new HeartbeatReply([Assigned(version: new string('1', 257))], [])), StringComparison.Ordinal);
        var many = Enumerable.Range(0, RegistrationRules.MaxReportsPerHeartbeat + 1).Select(i => Assigned($"m{i}")).ToList();
        Assert.Equal($"it holds 1025 assignments and 0 pre-flight requests; a node takes at most {RegistrationRules.MaxReportsPerHeartbeat} of each",
            RegistrationRules.CheckReply(new HeartbeatReply(many, [])));

        // What a node reports is cut as a gateway keeps it: a publisher's 2 MiB failure text made every heartbeat a 413.
        var refused = InfraMind.Node.Running.ModelInstance.Refusal(Assigned(), new string('x', 2 << 20), DateTimeOffset.UnixEpoch);
        Assert.Equal(RegistrationRules.MaxReportDetailLength + 1, refused.Detail!.Length);
        Assert.EndsWith("x…", refused.Detail, StringComparison.Ordinal);

        // A heartbeat of the most reports, each quoting 1 MiB of characters JSON escapes (six bytes each), fits what a
        // gateway reads; a node's default most (32) keeps whole details.
        var quoted = new string('"', 1 << 20);
        var most = RegistrationRules.Heartbeat(Enumerable.Range(0, 5000).Select(i => refused with { Name = $"m{i}", Detail = quoted }));
        Assert.Equal(RegistrationRules.MaxReportsPerHeartbeat, most.Count);
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new NodeHeartbeat("n", most), MeshJson.Options);
        Assert.True(bytes.Length < RegistrationRules.MaxHeartbeatBytes, $"{bytes.Length} bytes");
        var few = RegistrationRules.Heartbeat(Enumerable.Range(0, 32).Select(i => refused with { Name = $"m{i}", Detail = quoted }));
        Assert.All(few, r => Assert.Equal(RegistrationRules.MaxReportDetailLength + 1, r.Detail!.Length));
    }

    private sealed class QueueLogger(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Enqueue(formatter(state, exception));
        }

        public void Dispose()
        {
        }
    }
}

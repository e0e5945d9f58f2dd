using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// A registration the gateway accepted but whose answer the node never read (its gateway timeout passed first: a loaded
/// machine, a slow first TLS handshake) is not a stranger's when the node tries again. It failed a fresh-clone CI run:
/// `scripts/lab.sh up 3` on a loaded machine, node 1 refused by both gateways with 409 IM6019 "registered by another node"
/// — its own first attempt. A real gateway on Kestrel and a real node agent, the answer lost by a proxy between them.
/// </summary>
public sealed class LostAnswerTests
{
    [SkippableFact]
    public async Task A_node_whose_registration_answer_was_lost_registers_again_under_its_id()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions(), new InMemoryModelCatalog(), CancellationToken.None);
        await using var proxy = new AnswerLosingProxy(gateway.Url);
        var options = new NodeOptions
        {
            NodeId = "slow-answer", Gateway = proxy.Url, Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
            GatewayTimeout = TimeSpan.FromSeconds(1), HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        };
        await using var node = await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), CancellationToken.None);

        // Registered with the gateway at its second attempt, after the first answer (a 200 the gateway sent) was lost.
        await node.Agent.Registered.WaitAsync(TimeSpan.FromSeconds(30));
        var lost = await proxy.Lost.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.StartsWith("HTTP/1.1 200", lost, StringComparison.Ordinal);
        Assert.Equal("slow-answer", Assert.Single(gateway.Mesh.NodeSummaries()).Node);
        Assert.True(proxy.Connections >= 2, $"the node connected {proxy.Connections} times");

        // The credential bound is the one the node holds: its heartbeats pass, and the gateway sends jobs with it.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var beat = new NodeHeartbeat("slow-answer", []);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Url, "mesh/v1/nodes/slow-answer/heartbeat")) { Content = JsonContent.Create(beat, options: MeshJson.Options) };
        request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, node.Agent.Credential);
        using var ok = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [SkippableFact]
    public async Task A_node_restarted_before_its_registration_answer_arrived_registers_under_its_id()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        using var home = new TempDirectory("im-lost-answer-restart");
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions(), new InMemoryModelCatalog(), CancellationToken.None);
        var credentialFile = Path.Combine(home.Path, "mesh", "nodes", "restarted.credential");
        NodeOptions Options(Uri through) => new()
        {
            NodeId = "restarted", Gateway = through, CredentialFile = credentialFile, Capacity = new NodeCapacity(4000, 8L << 30, 0),
            ListenUrl = "http://127.0.0.1:0", GatewayTimeout = TimeSpan.FromSeconds(1), HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        };

        // The first run: the gateway binds the id to what the node proposed, but no answer gets back before the process
        // ends (a crash, a supervisor's restart).
        await using (var proxy = new AnswerLosingProxy(gateway.Url, loseEvery: true))
        {
            var first = await NodeHost.StartAsync(Options(proxy.Url), engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), CancellationToken.None);
            await proxy.Lost.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.StartsWith("HTTP/1.1 200", await proxy.Lost.Task, StringComparison.Ordinal);
            Assert.Equal("restarted", Assert.Single(gateway.Mesh.NodeSummaries()).Node);
            Assert.False(first.Agent.Registered.IsCompleted);
            Assert.False(File.Exists(credentialFile));
            Assert.True(File.Exists(CredentialFiles.ProposalOf(credentialFile)));
            await first.DisposeAsync();
        }

        // The second run, over a working link: the id is still its own (before, 409 IM6019 until the gateway forgot it).
        await using var second = await NodeHost.StartAsync(Options(gateway.Url), engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), CancellationToken.None);
        await second.Agent.Registered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(File.ReadAllText(credentialFile).Trim(), second.Agent.Credential);
        Assert.False(File.Exists(CredentialFiles.ProposalOf(credentialFile)));
        Assert.Equal("restarted", Assert.Single(gateway.Mesh.NodeSummaries()).Node);
    }

    /// <summary>
    /// Forwards TCP to the gateway; on the first connection (or every one) it reads the gateway's answer and keeps it from the client
    /// until the client gives up and hangs up (what a timeout on a slow link looks like to both sides).
    /// </summary>
    private sealed class AnswerLosingProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Uri _target;
        private readonly bool _loseEvery;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private int _connections;

        /// <param name="loseEvery">Every connection's answer is kept from the client, not only the first's.</param>
        public AnswerLosingProxy(Uri target, bool loseEvery = false)
        {
            _target = target;
            _loseEvery = loseEvery;
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
            _accepting = Task.Run(AcceptAsync);
        }

        public Uri Url { get; }

        public int Connections => Volatile.Read(ref _connections);

        /// <summary>The start of the answer kept from the node.</summary>
        public TaskCompletionSource<string> Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private async Task AcceptAsync()
        {
            var pumps = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    pumps.Add(Task.Run(() => ForwardAsync(client, Interlocked.Increment(ref _connections) == 1 || _loseEvery)));
                }
            }
            catch (OperationCanceledException)
            {
            }

            await Task.WhenAll(pumps);
        }

        private async Task ForwardAsync(TcpClient client, bool loseAnswer)
        {
            using var _ = client;
            using var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(_target.Host, _target.Port, _stop.Token);
                var toGateway = client.GetStream().CopyToAsync(upstream.GetStream(), _stop.Token);
                if (!loseAnswer)
                {
                    await Task.WhenAny(toGateway, upstream.GetStream().CopyToAsync(client.GetStream(), _stop.Token));
                    return;
                }

                var answer = new byte[4096];
                var read = await upstream.GetStream().ReadAsync(answer, _stop.Token);
                Lost.TrySetResult(Encoding.ASCII.GetString(answer, 0, read));
                await toGateway; // ends when the node, having waited its timeout, hangs up
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// A real mesh in the test process: one gateway and node agents, each on its own Kestrel at 127.0.0.1:0, running real
/// containers built from tests/packages/broken-model with one behaviour per node. Everything carries a label of its
/// own so the test can prove nothing is left.
/// </summary>
internal sealed class LocalMesh : IAsyncDisposable
{
    public const string TestLabel = "org.inframind.test";
    private readonly List<TempDirectory> _dirs = [];

    private readonly bool _grpc;

    /// <summary>Packages declare <c>deterministic: true</c> (spot checks).</summary>
    public bool Deterministic { get; private set; }

    private LocalMesh(ContainerEngine engine, string model, bool grpc)
    {
        Engine = engine;
        Model = model;
        _grpc = grpc;
    }

    public ContainerEngine Engine { get; }

    public string Model { get; }

    public const string Version = "1.0.0";

    public string Key => ModelKey.Of(Model, Version);

    public string RunLabel { get; } = Guid.NewGuid().ToString("N");

    public InMemoryModelCatalog Catalog { get; } = new();

    public GatewayHost Gateway { get; private set; } = null!;

    public Dictionary<string, NodeHost> Nodes { get; } = new(StringComparer.Ordinal);

    /// <summary>The nodes of this process, shared by the gateway and the nodes as in `infra mesh up`.</summary>
    public LocalNodes Local { get; } = new();

    /// <summary>The mesh token the gateway admits nodes with.</summary>
    public string Token { get; private set; } = null!;

    public HttpClient Http { get; } = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>The mesh; where no engine answers, the test fails or is skipped (<see cref="Peers.Missing"/>).</summary>
    /// <param name="grpc">Serve tests/packages/grpc-model (a Python grpcio V2 server) instead of broken-model (REST).</param>
    public static async Task<LocalMesh> StartAsync(string model, GatewayOptions options, bool grpc = false, bool deterministic = false)
    {
        var engine = await TestEngine.ConnectAsync();
        var mesh = new LocalMesh(engine, model, grpc) { Deterministic = deterministic };
        var good = mesh.Package("good");
        var manifest = ManifestReader.Validate(good).Manifest!;
        mesh.Catalog.Publish(manifest, "sha256:" + new string('0', 64));
        // As `infra` runs it: nodes join with the mesh token, and the gateway sends it with jobs through a node.
        mesh.Token = options.NodeToken ?? MeshToken.Create();
        // With the V2 gRPC ingress on a free port, as `infra mesh up --port 0` serves it.
        mesh.Gateway = await GatewayHost.StartAsync(options with { NodeToken = mesh.Token, LocalNodes = mesh.Local, GrpcListenUrl = options.GrpcListenUrl ?? "http://127.0.0.1:0" },
            mesh.Catalog, CancellationToken.None);
        mesh.Http.BaseAddress = mesh.Gateway.Url;
        return mesh;
    }

    /// <summary>
    /// A copy of broken-model named after this mesh's model, with one behaviour; "liar-early" lies right after the
    /// pre-flight's three valid inputs, so that every liar starts lying at the same request.
    /// </summary>
    public string Package(string behavior)
    {
        var lieAfter = behavior is "liar-early" or "subtle-liar-early" ? "\nENV LIE_AFTER=3" : "";
        if (behavior.EndsWith("-early", StringComparison.Ordinal)) behavior = behavior[..^"-early".Length];
        var dir = new TempDirectory("im-mesh-" + behavior);
        _dirs.Add(dir);
        if (_grpc) return GrpcModel.Create(dir.Path, Model, behavior);
        TempDirectory.Copy(Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model"), dir.Path);
        var dockerfile = dir.Combine("Dockerfile");
        File.WriteAllText(dockerfile, File.ReadAllText(dockerfile).Replace("ARG BEHAVIOR=good", $"ARG BEHAVIOR={behavior}", StringComparison.Ordinal)
            .Replace("EXPOSE 9000", "EXPOSE 9000" + lieAfter, StringComparison.Ordinal));
        var yaml = dir.Combine("model.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("name: broken-model", $"name: {Model}", StringComparison.Ordinal) + (Deterministic ? "\ndeterministic: true\n" : ""));
        return dir.Path;
    }

    /// <param name="gateways">The gateways the node serves (default: this mesh's one).</param>
    /// <param name="tune">Changes to the node's options (e.g. its JobGate's size).</param>
    public async Task<NodeHost> AddNodeAsync(string id, string behavior, NodeCapacity? capacity = null, IReadOnlyList<Uri>? gateways = null, InfraMind.Signing.SigningKey? key = null,
        Func<NodeOptions, NodeOptions>? tune = null)
    {
        var source = new PackageDirectoryImageSource(Engine, new Dictionary<string, string> { [Key] = Package(behavior) });
        var options = new NodeOptions
        {
            NodeId = id,
            Gateways = gateways ?? [Gateway.Url],
            GatewayToken = Token,
            LocalNodes = Local,
            Capacity = capacity ?? new NodeCapacity(4000, 2L << 30, 0),
            // 500 ms, not less: under a loaded 2-core test machine a 200 ms beat arrived late enough to look offline.
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            HealthInterval = TimeSpan.FromSeconds(1),
            RestartBackoff = TimeSpan.FromMilliseconds(500),
            MaxRestartBackoff = TimeSpan.FromSeconds(5),
            JobTimeout = TimeSpan.FromSeconds(5),
            ContainerLabels = new Dictionary<string, string> { [TestLabel] = RunLabel },
            Identity = key,
        };
        var node = await NodeHost.StartAsync(tune?.Invoke(options) ?? options, Engine, source, CancellationToken.None);
        Nodes[id] = node;
        return node;
    }

    /// <summary>A .NET client of the gateway's V2 gRPC ingress (h2c).</summary>
    public Grpc.Net.Client.GrpcChannel GrpcChannel() =>
        Grpc.Net.Client.GrpcChannel.ForAddress(Gateway.GrpcUrl!, new Grpc.Net.Client.GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });

    public async Task<JsonObject> StateAsync() => JsonNode.Parse(await Http.GetStringAsync(new Uri("inference/v1", UriKind.Relative)))!.AsObject();

    /// <summary>The gateway's view of one node for this mesh's model.</summary>
    public async Task<JsonObject?> NodeStateAsync(string node)
    {
        var state = await StateAsync();
        var model = state["models"]!.AsArray().FirstOrDefault(m => (string?)m!["name"] == Model);
        var version = model?["versions"]!.AsArray().FirstOrDefault(v => (string?)v!["version"] == Version);
        return version?["nodes"]!.AsArray().FirstOrDefault(n => (string?)n!["node"] == node)?.AsObject();
    }

    public async Task<JsonObject> NodeInfoAsync(string node) =>
        (await StateAsync())["nodes"]!.AsArray().First(n => (string?)n!["id"] == node)!.AsObject();

    public static async Task WaitUntilAsync(string what, TimeSpan timeout, Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            await Task.Delay(100);
        }
    }

    public Task WaitForStateAsync(string node, string state, TimeSpan timeout) =>
        WaitUntilAsync($"{node} to be {state}", timeout, async () => (string?)(await NodeStateAsync(node))?["state"] == state);

    public async Task<(int Containers, int Networks)> LeftoversAsync()
    {
        var left = await Engine.PruneAsync(new Dictionary<string, string> { [TestLabel] = RunLabel }, null, CancellationToken.None);
        return (left.Containers.Count, left.Networks.Count);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Task.WhenAll(Nodes.Values.Select(n => n.DisposeAsync().AsTask()));
            Nodes.Clear();
            if (Gateway is not null) await Gateway.DisposeAsync();
        }
        finally
        {
            // A test that failed half-way still leaves nothing behind.
            await Engine.PruneAsync(new Dictionary<string, string> { [TestLabel] = RunLabel }, null, CancellationToken.None);
        }

        Http.Dispose();
        foreach (var d in _dirs) d.Dispose();
        Engine.Dispose();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeshCollection
{
    public const string Name = "mesh";
}

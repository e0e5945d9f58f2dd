using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Registry.Http;
using InfraMind.Signing;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra mesh up`, `infra gateway serve`, `infra node serve`: the serving side, embedded or one process each.</summary>
internal static class MeshCommands
{
    public static Command Mesh(CliContext context)
    {
        var mesh = new Command("mesh", "Run the whole mesh on this machine.");
        var nodes = new Option<int>("--nodes") { Description = "Node agents to start", DefaultValueFactory = _ => 2 };
        var port = new Option<int>("--port") { Description = "Gateway port on 127.0.0.1", DefaultValueFactory = _ => 8080 };
        var registryPort = new Option<int>("--registry-port") { Description = "Registry port on 127.0.0.1 (0 = any free port)", DefaultValueFactory = _ => 7400 };
        var replicas = new Option<int>("--replicas") { Description = "Nodes each model version is placed on, where nodes allow", DefaultValueFactory = _ => 2 };
        var verbose = new Option<bool>("--verbose") { Description = "Log placements, pre-flights and failures" };
        var up = new Command("up",
            "Start the embedded mesh: the model registry (SQLite + local content store under $INFRAMIND_HOME), the inference gateway and N node agents, " +
            "all on 127.0.0.1. After `infra publish`, POST /inference/v1/NAME answers with no other step. Ctrl-C or SIGTERM stops it and removes every container.\n" +
            "Exit codes: 0 stopped cleanly, 2 usage error, 3 container engine unavailable or unable to isolate runs, 4 a port is taken or the registry is owned by another process.")
        {
            nodes, port, registryPort, replicas, verbose,
        };
        up.SetAction(async (parse, cancellationToken) =>
        {
            var count = parse.GetValue(nodes);
            if (count is < 1 or > 16) throw new CliException("IM0002", "--nodes must be between 1 and 16", null, ExitCodes.Usage);
            using var engine = await EngineAccess.ConnectAsync(cancellationToken);
            var logging = Logging(context, parse.GetValue(verbose));
            await using var registry = await RegistryCommand.StartAsync(context, InfraHome.Ensure(context.Home.Registry), parse.GetValue(registryPort), cancellationToken);
            var registryAnnouncement = RegistryAccess.Announce(context.Home, registry.Address);
            var service = new LocalRegistryService(registry.Registry);
            using var catalog = new RegistryModelCatalog(service, registry.Registry.PublicKey);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watching = catalog.WatchAsync(TimeSpan.FromMilliseconds(100), watch.Token);
            var started = new List<(string Id, NodeHost Host)>();
            GatewayHost? gateway = null;
            // Whatever fails on the way up (a taken port, the engine), nothing announced or started outlives the command.
            try
            {
                // The same token file as `gateway serve`: a node started apart with this home joins too.
                var (_, token) = GatewayToken(context.Home.NodeToken);
                // The nodes of this process hand the gateway their containers' connectors: jobs skip a hop, and go to no address a node claims.
                var local = new LocalNodes();
                gateway = await StartGatewayAsync(parse.GetValue(port), parse.GetValue(replicas), token, catalog, logging, cancellationToken, local);
                GatewayAnnouncement.Write(context.Home, gateway.Url);
                var imageSource = new VerifiedImageSource(service, registry.Registry.PublicKey, ContentAccess.CreateResolver(context), engine);
                var capacity = await DefaultCapacityAsync(engine, cancellationToken);
                for (var i = 1; i <= count; i++)
                    started.Add(($"node-{i}", await StartNodeAsync($"node-{i}", gateway.Url, token, capacity, engine, imageSource, logging, cancellationToken, local: local)));

                context.Console.MarkupLine($"[green]✓[/] mesh up: gateway [bold]{Markup.Escape(gateway.Url.ToString())}[/], registry {Markup.Escape(registry.Address.ToString())}, {count} node(s)");
                foreach (var (nodeId, host) in started) context.Console.MarkupLine($"  {Markup.Escape(nodeId)} at {Markup.Escape(host.Url.ToString())}");
                context.Console.MarkupLine($"  publish: infra publish --model model.yaml --image REF   then   POST {Markup.Escape(gateway.Url.ToString())}inference/v1/NAME");
                context.Console.MarkupLine($"  more nodes: infra node serve --gateway {Markup.Escape(gateway.Url.ToString())} --id ID   (with this INFRAMIND_HOME: it holds the mesh token)");
                await context.Output.FlushAsync(CancellationToken.None);
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    context.Console.MarkupLine("stopping: removing containers…");
                }
            }
            finally
            {
                // Nodes first (their containers go), then the gateway they report to.
                foreach (var (_, host) in started) await host.DisposeAsync();
                if (gateway is not null) await gateway.DisposeAsync();
                await watch.CancelAsync();
                await watching;
                File.Delete(GatewayAnnouncement.File(context.Home));
                File.Delete(registryAnnouncement);
            }

            context.Console.MarkupLine("[green]✓[/] mesh stopped, containers removed");
            return ExitCodes.Ok;
        });
        mesh.Subcommands.Add(up);
        return mesh;
    }

    public static Command Gateway(CliContext context)
    {
        var gateway = new Command("gateway", "The inference gateway.");
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1", DefaultValueFactory = _ => 8080 };
        var registryUrl = new Option<string?>("--registry") { Description = "Registry URL (default: the local registry)" };
        var registryKey = new Option<string?>("--registry-key") { Description = "Registry public key PEM to pin (default: the key the registry serves)" };
        var replicas = new Option<int>("--replicas") { Description = "Nodes each model version is placed on", DefaultValueFactory = _ => 2 };
        var verbose = new Option<bool>("--verbose") { Description = "Log placements and failures" };
        var tokenFile = new Option<string?>("--node-token-file")
        {
            Description = "File holding the mesh token nodes must present (default: $INFRAMIND_HOME/mesh/node-token, created with a new random token when missing)",
        };
        var serve = new Command("serve",
            "Serve POST /inference/v1/NAME for every verified registry entry, placing models on registered nodes. Only nodes that present the mesh token " +
            "(--node-token-file) may register.\n" +
            "Exit codes: 0 stopped cleanly, 2 usage error, 4 registry unavailable or port taken.")
        {
            port, registryUrl, registryKey, replicas, tokenFile, verbose,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registryUrl), null, cancellationToken);
            var key = await PinnedKeyAsync(handle.Service, parse.GetValue(registryKey), cancellationToken);
            using var catalog = new RegistryModelCatalog(handle.Service, key);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watching = catalog.WatchAsync(TimeSpan.FromMilliseconds(500), watch.Token);
            var (tokenPath, token) = GatewayToken(parse.GetValue(tokenFile) ?? context.Home.NodeToken);
            await using var host = await StartGatewayAsync(parse.GetValue(port), parse.GetValue(replicas), token, catalog, Logging(context, parse.GetValue(verbose)), cancellationToken);
            GatewayAnnouncement.Write(context.Home, host.Url);
            context.Console.MarkupLine($"[green]✓[/] gateway at [bold]{Markup.Escape(host.Url.ToString())}[/] serving {Markup.Escape(handle.Location)} (registry key {Markup.Escape(key.Fingerprint)})");
            context.Console.MarkupLine($"  nodes register with the token in {Markup.Escape(tokenPath)}: infra node serve --gateway {Markup.Escape(host.Url.ToString())} --token-file {Markup.Escape(tokenPath)}");
            await WaitAsync(cancellationToken);
            await watch.CancelAsync();
            await watching;
            File.Delete(GatewayAnnouncement.File(context.Home));
            return ExitCodes.Ok;
        });
        gateway.Subcommands.Add(serve);
        return gateway;
    }

    public static Command Node(CliContext context)
    {
        var node = new Command("node", "A node agent.");
        var gateway = new Option<string>("--gateway") { Description = "Gateway URL to register with", Required = true };
        var id = new Option<string>("--id") { Description = "Node id", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var port = new Option<int>("--port") { Description = "Job API port on 127.0.0.1 (0 = any free port)", DefaultValueFactory = _ => 0 };
        var registryUrl = new Option<string?>("--registry") { Description = "Registry URL (default: the local registry)" };
        var registryKey = new Option<string?>("--registry-key") { Description = "Registry public key PEM to pin (default: the key the registry serves)" };
        var cpu = new Option<string?>("--cpu") { Description = "CPU capacity to offer (cores or millicores; default: the engine's CPUs)" };
        var memory = new Option<string?>("--memory") { Description = "Memory capacity to offer (e.g. 8Gi; default: the engine's memory)" };
        var gpus = new Option<int>("--gpus") { Description = "GPUs to offer", DefaultValueFactory = _ => 0 };
        var verbose = new Option<bool>("--verbose") { Description = "Log pre-flights, health and jobs" };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "File holding the gateway's mesh token (default: $INFRAMIND_HOME/mesh/node-token, the file `infra gateway serve` and `infra mesh up` write)",
        };
        var serve = new Command("serve",
            "Register with a gateway, heartbeat, and run the models placed here: verified registry entry, verified image, isolated container, " +
            "pre-flight (the rules of `infra test`), then jobs.\nExit codes: 0 stopped cleanly, 2 usage error (a missing token file included), " +
            "3 container engine unavailable or unable to isolate runs, 4 gateway or registry unavailable, port taken (IM6021), or the gateway refused this node (IM6015: wrong token; " +
            "IM6019: another node holds the id). The credential the gateway issues the node is kept in $INFRAMIND_HOME/mesh/nodes/ID.credential.")
        {
            gateway, id, port, registryUrl, registryKey, cpu, memory, gpus, tokenFile, verbose,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(gateway), UriKind.Absolute, out var gatewayUrl))
                throw new CliException("IM0002", $"'{parse.GetValue(gateway)}' is not a URL", "e.g. --gateway http://127.0.0.1:8080", ExitCodes.Usage);
            var token = NodeToken(parse.GetValue(tokenFile) ?? context.Home.NodeToken);
            using var engine = await EngineAccess.ConnectAsync(cancellationToken);
            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registryUrl), null, cancellationToken);
            var key = await PinnedKeyAsync(handle.Service, parse.GetValue(registryKey), cancellationToken);
            var capacity = await DefaultCapacityAsync(engine, cancellationToken);
            if (parse.GetValue(cpu) is { } c)
                capacity = capacity with { CpuMillicores = Quantity.TryParseMillicores(c, out var m, out var e) ? m : throw new CliException("IM1030", $"--cpu: {e}", null, ExitCodes.Usage) };
            if (parse.GetValue(memory) is { } mem)
                capacity = capacity with { MemoryBytes = Quantity.TryParseBytes(mem, out var b, out var e) ? b : throw new CliException("IM1031", $"--memory: {e}", null, ExitCodes.Usage) };
            capacity = capacity with { GpuCount = parse.GetValue(gpus) };
            var source = new VerifiedImageSource(handle.Service, key, ContentAccess.CreateResolver(context), engine);
            await using var host = await StartNodeAsync(parse.GetValue(id)!, gatewayUrl, token, capacity, engine, source, Logging(context, parse.GetValue(verbose)), cancellationToken,
                parse.GetValue(port), context.Home.NodeCredential(parse.GetValue(id)!));
            if (await RegisteredAsync(host.Agent, gatewayUrl, cancellationToken))
                context.Console.MarkupLine($"[green]✓[/] node {Markup.Escape(parse.GetValue(id)!)} at {Markup.Escape(host.Url.ToString())}, registered with {Markup.Escape(gatewayUrl.ToString())}");
            else
                context.Console.MarkupLine($"[yellow]![/] node {Markup.Escape(parse.GetValue(id)!)} at {Markup.Escape(host.Url.ToString())}: the gateway {Markup.Escape(gatewayUrl.ToString())} does not answer yet; retrying every heartbeat");
            await WaitAsync(cancellationToken);
            return ExitCodes.Ok;
        });
        node.Subcommands.Add(serve);
        return node;
    }

    /// <summary>The gateway's token file, created (owner-only) with a new token when missing.</summary>
    private static (string Path, string Token) GatewayToken(string file)
    {
        file = Path.GetFullPath(file);
        if (!File.Exists(file))
        {
            // A directory made here is owner-only; one that exists is left as its owner set it.
            Directory.CreateDirectory(Path.GetDirectoryName(file)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var created = MeshToken.Create();
            try
            {
                using var stream = new FileStream(file, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                using var writer = new StreamWriter(stream);
                writer.WriteLine(created);
                return (file, created);
            }
            catch (IOException) when (File.Exists(file))
            {
                // Another gateway or mesh up made it in the meantime: use theirs.
            }
        }

        return (file, ReadToken(file, "remove it to have a new token made, or name another file with --node-token-file"));
    }

    /// <summary>A node's token from its file: a missing or empty file is a usage error that says where the token comes from.</summary>
    private static string NodeToken(string file) =>
        ReadToken(file, "`infra gateway serve` writes the token to $INFRAMIND_HOME/mesh/node-token on its machine; copy that file here or pass --token-file");

    private static string ReadToken(string file, string hint)
    {
        if (!File.Exists(file)) throw new CliException("IM6016", $"no mesh token file at {file}", hint, ExitCodes.Usage);
        var token = MeshToken.Read(file) ?? throw new CliException("IM6016", $"the mesh token file {file} is empty", hint, ExitCodes.Usage);
        if (!MeshToken.IsWellFormed(token))
            throw new CliException("IM6016", $"{file} does not hold a mesh token (one line of at least 16 characters, no spaces)", hint, ExitCodes.Usage);
        return token;
    }

    /// <summary>True once the gateway accepted the node; false when it has not answered within 10 s (the node keeps trying).</summary>
    private static async Task<bool> RegisteredAsync(NodeAgent agent, Uri gateway, CancellationToken cancellationToken)
    {
        try
        {
            await agent.Registered.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (NodeRegistrationException e)
        {
            throw e.Status switch
            {
                401 => new CliException(MeshErrorCodes.NodeUnauthorized.Value, $"the gateway {gateway} refused this node's mesh token", "pass the token file of that gateway with --token-file", ExitCodes.Unavailable),
                409 => new CliException(MeshErrorCodes.NodeIdTaken.Value, $"the gateway {gateway} has another node registered under this id: {e.Message}",
                    MeshErrorCodes.NodeIdTaken.DefaultHint, ExitCodes.Unavailable),
                _ => new CliException(MeshErrorCodes.RegistrationInvalid.Value, $"the gateway {gateway} refused the registration: {e.Message}", null, ExitCodes.Unavailable),
            };
        }
    }

    private static async Task<GatewayHost> StartGatewayAsync(
        int port, int replicas, string token, IModelCatalog catalog, Action<ILoggingBuilder>? logging, CancellationToken cancellationToken, LocalNodes? local = null)
    {
        try
        {
            return await GatewayHost.StartAsync(
                new GatewayOptions { ListenUrl = $"http://127.0.0.1:{port}", Replicas = replicas, CatalogRefresh = TimeSpan.FromSeconds(2), NodeToken = token, LocalNodes = local },
                catalog, TimeProvider.System, logging, cancellationToken);
        }
        catch (IOException e)
        {
            throw new CliException(ListenFailed, $"the gateway cannot listen on 127.0.0.1:{port}: {e.Message}", "choose another --port", ExitCodes.Unavailable);
        }
        catch (ArgumentException e)
        {
            throw new CliException("IM6020", e.Message, null, ExitCodes.Usage);
        }
    }

    private static async Task<NodeHost> StartNodeAsync(
        string id, Uri gateway, string token, NodeCapacity capacity, ContainerEngine engine, IModelImageSource source, Action<ILoggingBuilder>? logging,
        CancellationToken cancellationToken, int port = 0, string? credentialFile = null, LocalNodes? local = null)
    {
        var options = new NodeOptions
        {
            NodeId = id, Gateway = gateway, GatewayToken = token, Capacity = capacity, ListenUrl = $"http://127.0.0.1:{port}", CredentialFile = credentialFile, LocalNodes = local,
        };
        var errors = options.Validate();
        if (errors.Count > 0) throw new CliException(MeshErrorCodes.RegistrationInvalid.Value, string.Join("; ", errors), null, ExitCodes.Usage);
        try
        {
            return await NodeHost.StartAsync(options, engine, source, TimeProvider.System, logging, cancellationToken);
        }
        catch (IOException e)
        {
            throw new CliException(ListenFailed, $"node {id} cannot listen on 127.0.0.1:{port}: {e.Message}", "choose another --port", ExitCodes.Unavailable);
        }
    }

    /// <summary>A serving command's port is taken (gateway, node job API, registry).</summary>
    internal const string ListenFailed = "IM6021";

    /// <summary>On one machine every node may offer the whole engine: they share it, the limits are per container.</summary>
    private static async Task<NodeCapacity> DefaultCapacityAsync(ContainerEngine engine, CancellationToken cancellationToken)
    {
        var info = await engine.GetInfoAsync(cancellationToken);
        return new NodeCapacity(Math.Max(1, info.Cpus) * 1000L, info.MemoryBytes, info.HasGpuRuntime ? 1 : 0);
    }

    private static async Task<PublicKey> PinnedKeyAsync(IRegistryService service, string? keyFile, CancellationToken cancellationToken)
    {
        if (keyFile is null) return await VerifyCommand.GuardAsync(() => service.GetKeyAsync(cancellationToken));
        return File.Exists(keyFile)
            ? KeysCommand.Guard(() => PublicKey.FromPem(File.ReadAllText(keyFile)))
            : throw new CliException("IM1000", $"{keyFile} does not exist", "pass the registry's public key PEM", ExitCodes.Usage);
    }

    private static Action<ILoggingBuilder>? Logging(CliContext context, bool verbose) =>
        verbose ? b => b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Information) : null;

    private static async Task WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

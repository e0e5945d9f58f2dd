using System.CommandLine;
using InfraMind.Conformance;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Node.Protocol;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra mesh up DIR...`: a gateway and local node agents in this process, serving package directories, until Ctrl-C.
/// The local stand-in for a registry-backed mesh: packages are built here instead of pulled and verified.
/// </summary>
internal static class MeshCommand
{
    public static Command Create(CliContext context)
    {
        var dirs = new Argument<string[]>("dirs") { Description = "Package directories to serve", Arity = ArgumentArity.OneOrMore };
        var nodes = new Option<int>("--nodes") { Description = "Local node agents to start", DefaultValueFactory = _ => 2 };
        var port = new Option<int>("--port") { Description = "Gateway port on 127.0.0.1 (0 picks a free one)", DefaultValueFactory = _ => 7300 };
        var replicas = new Option<int>("--replicas") { Description = "Nodes per model version", DefaultValueFactory = _ => 2 };
        var up = new Command("up",
            "Start a gateway on 127.0.0.1 and local node agents that pre-flight and serve the given packages; Ctrl-C stops everything " +
            "and removes its containers.\nExit codes: 0 stopped, 1 invalid package, 2 usage error, 3 container engine unavailable.")
        {
            dirs, nodes, port, replicas,
        };
        up.SetAction(async (parse, cancellationToken) =>
        {
            var count = parse.GetValue(nodes);
            if (count < 1) throw new CliException("IM0002", "--nodes must be ≥ 1", null, ExitCodes.Usage);
            var catalog = new InMemoryModelCatalog();
            var packages = LoadPackages(context, parse.GetValue(dirs)!, catalog);
            if (packages is null) return ExitCodes.Failed;

            using var engine = await EngineAccess.ConnectAsync(cancellationToken);
            var session = new Dictionary<string, string> { ["org.inframind.mesh"] = Guid.NewGuid().ToString("N") };
            var options = new GatewayOptions { ListenUrl = $"http://127.0.0.1:{parse.GetValue(port)}", Replicas = parse.GetValue(replicas) };
            await using var gateway = await GatewayHost.StartAsync(options, catalog, CancellationToken.None);
            var hosts = new List<NodeHost>();
            try
            {
                var info = await engine.GetInfoAsync(cancellationToken);
                var source = new PackageDirectoryImageSource(engine, packages);
                for (var i = 1; i <= count; i++)
                {
                    hosts.Add(await NodeHost.StartAsync(new NodeOptions
                    {
                        NodeId = $"local-{i}",
                        Gateway = gateway.Url,
                        // Each local node offers the whole machine: they share it, as processes on one host do.
                        Capacity = new NodeCapacity(info.Cpus * 1000L, info.MemoryBytes, 0),
                        ContainerLabels = session,
                    }, engine, source, CancellationToken.None));
                }

                context.Console.MarkupLine($"[green]✓[/] gateway at {Markup.Escape(gateway.Url.ToString())} with {count} node(s); Ctrl-C stops");
                foreach (var key in packages.Keys)
                    context.Console.MarkupLine($"  {Markup.Escape(key)}: POST {Markup.Escape(gateway.Url.ToString())}inference/v1/{Markup.Escape(key.Split('@')[0])}");
                context.Console.MarkupLine($"  state: GET {Markup.Escape(gateway.Url.ToString())}inference/v1");
                await WaitForCtrlCAsync(cancellationToken);
            }
            finally
            {
                foreach (var h in hosts) await h.DisposeAsync();
                await engine.PruneAsync(session, null, CancellationToken.None);
            }

            return ExitCodes.Ok;
        });
        return new Command("mesh", "Run a local mesh: gateway + node agents in one process.") { up };
    }

    /// <summary>Validates package directories and publishes them to a local catalog; null after printing the findings.</summary>
    internal static Dictionary<string, string>? LoadPackages(CliContext context, IEnumerable<string> dirs, InMemoryModelCatalog? catalog)
    {
        var packages = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in dirs)
        {
            var validation = ManifestReader.Validate(path);
            if (!validation.IsValid)
            {
                ValidateCommand.WriteHuman(context, validation);
                return null;
            }

            var m = validation.Manifest!;
            packages[ModelKey.Of(m.Name, m.Version.ToString())] = validation.PackageDirectory;
            // No registry here: the context digest stands in for the image digest a publish would record.
            catalog?.Publish(m, ImageIdentity.ContextDigest(validation.PackageDirectory));
        }

        return packages;
    }

    internal static async Task WaitForCtrlCAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C: the way to stop.
        }
    }
}

/// <summary>`infra gateway serve DIR...`: the gateway alone, serving the given packages to nodes that register with it.</summary>
internal static class GatewayCommand
{
    public static Command Create(CliContext context)
    {
        var dirs = new Argument<string[]>("dirs") { Description = "Package directories to serve (a registry-backed catalog replaces these)", Arity = ArgumentArity.OneOrMore };
        var listen = new Option<string>("--listen") { Description = "Address to listen on", DefaultValueFactory = _ => "http://127.0.0.1:7300" };
        var replicas = new Option<int>("--replicas") { Description = "Nodes per model version", DefaultValueFactory = _ => 2 };
        var serve = new Command("serve",
            "Run the gateway: POST /inference/v1/{name}, node registration and heartbeats, /healthz, /metrics, until Ctrl-C.\n" +
            "Exit codes: 0 stopped, 1 invalid package, 2 usage error.")
        {
            dirs, listen, replicas,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var catalog = new InMemoryModelCatalog();
            if (MeshCommand.LoadPackages(context, parse.GetValue(dirs)!, catalog) is null) return ExitCodes.Failed;
            var options = new GatewayOptions { ListenUrl = parse.GetValue(listen)!, Replicas = parse.GetValue(replicas) };
            if (options.Validate() is { Count: > 0 } errors) throw new CliException("IM6020", string.Join("; ", errors), null, ExitCodes.Usage);
            await using var gateway = await GatewayHost.StartAsync(options, catalog, CancellationToken.None);
            context.Console.MarkupLine($"[green]✓[/] gateway at {Markup.Escape(gateway.Url.ToString())}; nodes register at {Markup.Escape(gateway.Url.ToString())}mesh/v1/nodes; Ctrl-C stops");
            await MeshCommand.WaitForCtrlCAsync(cancellationToken);
            return ExitCodes.Ok;
        });
        return new Command("gateway", "Run the mesh gateway.") { serve };
    }
}

/// <summary>`infra node serve --gateway URL DIR...`: one node agent that runs what the gateway places on it.</summary>
internal static class NodeCommand
{
    public static Command Create(CliContext context)
    {
        var dirs = new Argument<string[]>("dirs") { Description = "Package directories this node can build (a verified pull replaces these)", Arity = ArgumentArity.OneOrMore };
        var gatewayUrl = new Option<string>("--gateway") { Description = "The gateway's URL", DefaultValueFactory = _ => "http://127.0.0.1:7300/" };
        var id = new Option<string>("--id") { Description = "Node id (letters, digits, - _ .)", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var listen = new Option<string>("--listen") { Description = "Address of the node's job API", DefaultValueFactory = _ => "http://127.0.0.1:0" };
        var cpu = new Option<string?>("--cpu") { Description = "CPU offered (e.g. 4, 2500m); default: the engine's CPUs" };
        var memory = new Option<string?>("--memory") { Description = "Memory offered (e.g. 8Gi); default: the engine's memory" };
        var gpu = new Option<int>("--gpu") { Description = "GPUs offered", DefaultValueFactory = _ => 0 };
        var serve = new Command("serve",
            "Run a node agent: register with the gateway, heartbeat, run placed models after pre-flight, serve jobs, until Ctrl-C; " +
            "every container it started is removed on exit.\nExit codes: 0 stopped, 1 invalid package, 2 usage error, 3 container engine unavailable.")
        {
            dirs, gatewayUrl, id, listen, cpu, memory, gpu,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var packages = MeshCommand.LoadPackages(context, parse.GetValue(dirs)!, null);
            if (packages is null) return ExitCodes.Failed;
            if (!Uri.TryCreate(parse.GetValue(gatewayUrl), UriKind.Absolute, out var gateway))
                throw new CliException("IM6014", $"--gateway '{parse.GetValue(gatewayUrl)}' is not an absolute URL", "e.g. --gateway http://127.0.0.1:7300/", ExitCodes.Usage);
            using var engine = await EngineAccess.ConnectAsync(cancellationToken);
            var info = await engine.GetInfoAsync(cancellationToken);
            var millicores = info.Cpus * 1000L;
            if (parse.GetValue(cpu) is { } c && !Quantity.TryParseMillicores(c, out millicores, out var cpuError))
                throw new CliException("IM6014", $"--cpu {c}: {cpuError}", "e.g. --cpu 4 or --cpu 2500m", ExitCodes.Usage);
            var bytes = info.MemoryBytes;
            if (parse.GetValue(memory) is { } m && !Quantity.TryParseBytes(m, out bytes, out var memError))
                throw new CliException("IM6014", $"--memory {m}: {memError}", "e.g. --memory 8Gi", ExitCodes.Usage);
            var options = new NodeOptions
            {
                NodeId = parse.GetValue(id)!,
                Gateway = gateway,
                ListenUrl = parse.GetValue(listen)!,
                Capacity = new NodeCapacity(millicores, bytes, parse.GetValue(gpu)),
            };
            if (options.Validate() is { Count: > 0 } errors) throw new CliException("IM6014", string.Join("; ", errors), null, ExitCodes.Usage);
            await using var node = await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, packages), CancellationToken.None);
            context.Console.MarkupLine($"[green]✓[/] node {Markup.Escape(options.NodeId)} at {Markup.Escape(node.Url.ToString())}, registering with {Markup.Escape(gateway.ToString())}; Ctrl-C stops");
            await MeshCommand.WaitForCtrlCAsync(cancellationToken);
            return ExitCodes.Ok;
        });
        return new Command("node", "Run a mesh node agent.") { serve };
    }
}

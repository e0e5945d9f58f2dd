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
            var packages = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var path in parse.GetValue(dirs)!)
            {
                var validation = ManifestReader.Validate(path);
                if (!validation.IsValid)
                {
                    ValidateCommand.WriteHuman(context, validation);
                    return ExitCodes.Failed;
                }

                var m = validation.Manifest!;
                packages[ModelKey.Of(m.Name, m.Version.ToString())] = validation.PackageDirectory;
                // No registry here: the context digest stands in for the image digest a publish would record.
                catalog.Publish(m, ImageIdentity.ContextDigest(validation.PackageDirectory));
            }

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
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C: the way to stop.
                }
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
}

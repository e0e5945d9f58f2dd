using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Node.Protocol;
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
            await using var gateway = await StartGatewayAsync(parse.GetValue(port), parse.GetValue(replicas), catalog, logging, cancellationToken);
            GatewayAnnouncement.Write(context.Home, gateway.Url);
            var imageSource = new VerifiedImageSource(service, registry.Registry.PublicKey, ContentAccess.CreateResolver(context), engine);
            var capacity = await DefaultCapacityAsync(engine, cancellationToken);
            var started = new List<(string Id, NodeHost Host)>();
            try
            {
                for (var i = 1; i <= count; i++)
                    started.Add(($"node-{i}", await StartNodeAsync($"node-{i}", gateway.Url, capacity, engine, imageSource, logging, cancellationToken)));

                context.Console.MarkupLine($"[green]✓[/] mesh up: gateway [bold]{Markup.Escape(gateway.Url.ToString())}[/], registry {Markup.Escape(registry.Address.ToString())}, {count} node(s)");
                foreach (var (nodeId, host) in started) context.Console.MarkupLine($"  {Markup.Escape(nodeId)} at {Markup.Escape(host.Url.ToString())}");
                context.Console.MarkupLine($"  publish: infra publish --model model.yaml --image REF   then   POST {Markup.Escape(gateway.Url.ToString())}inference/v1/NAME");
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
                foreach (var (_, host) in started) await host.DisposeAsync();
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
        var serve = new Command("serve",
            "Serve POST /inference/v1/NAME for every verified registry entry, placing models on registered nodes.\n" +
            "Exit codes: 0 stopped cleanly, 2 usage error, 4 registry unavailable or port taken.")
        {
            port, registryUrl, registryKey, replicas, verbose,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registryUrl), null, cancellationToken);
            var key = await PinnedKeyAsync(handle.Service, parse.GetValue(registryKey), cancellationToken);
            using var catalog = new RegistryModelCatalog(handle.Service, key);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watching = catalog.WatchAsync(TimeSpan.FromMilliseconds(500), watch.Token);
            await using var host = await StartGatewayAsync(parse.GetValue(port), parse.GetValue(replicas), catalog, Logging(context, parse.GetValue(verbose)), cancellationToken);
            GatewayAnnouncement.Write(context.Home, host.Url);
            context.Console.MarkupLine($"[green]✓[/] gateway at [bold]{Markup.Escape(host.Url.ToString())}[/] serving {Markup.Escape(handle.Location)} (registry key {Markup.Escape(key.Fingerprint)})");
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
        var serve = new Command("serve",
            "Register with a gateway, heartbeat, and run the models placed here: verified registry entry, verified image, isolated container, " +
            "pre-flight (the rules of `infra test`), then jobs.\nExit codes: 0 stopped cleanly, 2 usage error, 3 container engine unavailable or unable to isolate runs, 4 gateway or registry unavailable.")
        {
            gateway, id, port, registryUrl, registryKey, cpu, memory, gpus, verbose,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(gateway), UriKind.Absolute, out var gatewayUrl))
                throw new CliException("IM0002", $"'{parse.GetValue(gateway)}' is not a URL", "e.g. --gateway http://127.0.0.1:8080", ExitCodes.Usage);
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
            await using var host = await StartNodeAsync(parse.GetValue(id)!, gatewayUrl, capacity, engine, source, Logging(context, parse.GetValue(verbose)), cancellationToken, parse.GetValue(port));
            context.Console.MarkupLine($"[green]✓[/] node {Markup.Escape(parse.GetValue(id)!)} at {Markup.Escape(host.Url.ToString())}, registered with {Markup.Escape(gatewayUrl.ToString())}");
            await WaitAsync(cancellationToken);
            return ExitCodes.Ok;
        });
        node.Subcommands.Add(serve);
        return node;
    }

    private static async Task<GatewayHost> StartGatewayAsync(int port, int replicas, IModelCatalog catalog, Action<ILoggingBuilder>? logging, CancellationToken cancellationToken)
    {
        try
        {
            return await GatewayHost.StartAsync(new GatewayOptions { ListenUrl = $"http://127.0.0.1:{port}", Replicas = replicas, CatalogRefresh = TimeSpan.FromSeconds(2) },
                catalog, TimeProvider.System, logging, cancellationToken);
        }
        catch (IOException e)
        {
            throw new CliException("IM6001", $"the gateway cannot listen on 127.0.0.1:{port}: {e.Message}", "choose another --port", ExitCodes.Unavailable);
        }
        catch (ArgumentException e)
        {
            throw new CliException("IM6020", e.Message, null, ExitCodes.Usage);
        }
    }

    private static async Task<NodeHost> StartNodeAsync(
        string id, Uri gateway, NodeCapacity capacity, ContainerEngine engine, IModelImageSource source, Action<ILoggingBuilder>? logging,
        CancellationToken cancellationToken, int port = 0)
    {
        var options = new NodeOptions { NodeId = id, Gateway = gateway, Capacity = capacity, ListenUrl = $"http://127.0.0.1:{port}" };
        var errors = options.Validate();
        if (errors.Count > 0) throw new CliException("IM6002", string.Join("; ", errors), null, ExitCodes.Usage);
        try
        {
            return await NodeHost.StartAsync(options, engine, source, TimeProvider.System, logging, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliException("IM6003", $"node {id} cannot register with {gateway}: {e.Message}", "start the gateway first (`infra gateway serve` or `infra mesh up`)", ExitCodes.Unavailable);
        }
    }

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

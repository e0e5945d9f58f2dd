using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Registry.Http;
using InfraMind.Serving;
using Spectre.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>`infra mesh up`: registry (or the follower of an eth:// one), gateway and N node agents in this process, all on 127.0.0.1.</summary>
internal static class MeshUpCommand
{
    public static Command Create(CliContext context)
    {
        var mesh = new Command("mesh", "Run the whole mesh on this machine.");
        var nodes = new Option<int>("--nodes") { Description = "Node agents to start (1-16)", DefaultValueFactory = _ => 2 };
        nodes.Require(v => v is >= 1 and <= 16, "--nodes must be between 1 and 16");
        var port = ServingHosts.PortOption("--port", "Gateway port on 127.0.0.1", 8080);
        var grpcPort = ServingHosts.GrpcPortOption();
        var registryPort = ServingHosts.PortOption("--registry-port", "Registry port on 127.0.0.1 (0 = any free port)", 7400);
        var replicas = new Option<int>("--replicas") { Description = "Nodes each model version is placed on, where nodes allow", DefaultValueFactory = _ => 2 };
        var registryUrl = new Option<string?>("--registry")
        {
            Description = "Serve an on-chain registry, eth://HOST:PORT/0xCONTRACT[?chainId=N], instead of starting the embedded log registry",
            HelpName = "URL",
        };
        registryUrl.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } url && !ChainAccess.IsChain(url))
                r.AddError($"--registry '{url}': mesh up starts its own log registry, or serves an eth:// one; for a log registry elsewhere run `infra gateway serve --registry URL`");
        });
        var chain = ServedRegistry.ChainOptions.Following();
        var verbose = new Option<bool>("--verbose") { Description = "Log placements, pre-flights and failures" };
        var logFormat = ServingHosts.LogFormatOption();
        var logPayloads = ServingHosts.LogPayloadsOption();
        var spotCheck = ServingHosts.SpotCheckShareOption();
        var minFreeDisk = ServingHosts.MinFreeDiskOption();
        var maxInFlight = ServingHosts.MaxInFlightOption("; every client of this mesh has 127.0.0.1, so it is also the most from one address (beyond: 429 IM6027)");
        // Every node it starts gets the one gate these say (the same flags as `infra node serve`).
        var jobGate = JobGateOptions.Create();
        var connections = ServingHosts.ConnectionOptions("each server of the mesh (registry, gateway, gRPC ingress, every node)");
        var json = new Option<bool>("--json") { Description = "Once up, print {gateway, grpc, registry, gatewayKey, nodes[{id, url, key}]} as JSON (grpc: the gRPC ingress's URL, null with --grpc-port 0)" };
        var up = new Command("up",
            "Start the embedded mesh: the model registry (SQLite + local content store under $INFRAMIND_HOME), the inference gateway and N node agents, " +
            "all on 127.0.0.1. After `infra publish`, POST /inference/v1/NAME answers with no other step. Ctrl-C, SIGTERM or `infra mesh down` (from any shell with this INFRAMIND_HOME) stops it and removes every container. " +
            "With --registry eth://HOST:PORT/0xCONTRACT no log registry starts: the gateway follows the chain (a version is served once confirmed and verified, " +
            "and no longer once yanked) and nodes verify each assignment against it; publish with `infra publish --registry eth://… --key NAME`. " +
            "Each node and the gateway have their own key ($INFRAMIND_HOME/mesh/keys, made on first use): nodes sign their heartbeats and a receipt for every answer (the InfraMind-Receipt header; infra receipt verify). " +
            "One mesh runs per INFRAMIND_HOME; one of this home that died without cleaning up (kill -9) left a stale record, which mesh up removes first with that mesh's containers, as `infra mesh down` does.\n" +
            "Exit codes: 0 stopped cleanly, 1 the registry's log is damaged (IM5123), 2 usage error, 3 container engine unavailable or unable to isolate runs, " +
            "4 a port is taken (IM6021), a mesh of this INFRAMIND_HOME already runs (IM6049), the registry is owned by another process or the chain node does not answer.")
        {
            nodes, port, grpcPort, registryPort, registryUrl, minFreeDisk, replicas, spotCheck, maxInFlight, jobGate.MaxJobs, jobGate.MaxQueued, connections.Max, connections.PerAddress, verbose, logFormat, logPayloads, json,
        };
        chain.AddTo(up);
        up.SetAction(async (parse, cancellationToken) =>
        {
            using var tracing = ServingHosts.Tracing(context, "inframind-mesh");
            var count = parse.GetValue(nodes);
            var logging = ServingHosts.Logging(parse.GetValue(verbose), parse.GetValue(logFormat)!);
            // The embedded mesh serves this machine's own user: local references and loopback sources are allowed.
            var fetches = ContentAccess.EmbeddedPolicy(context);
            var chainUrl = parse.GetValue(registryUrl);
            if (chainUrl is null && (parse.GetValue(chain.StatementStore) is not null || chain.ConfirmationsOf(parse) is not null))
                throw new InfraMindException(CliErrorCodes.UsageError, "--statement-store and --confirmations apply to an eth:// registry only", "pass --registry eth://HOST:PORT/0xCONTRACT, or leave them out");
            if (chainUrl is not null && parse.GetResult(minFreeDisk) is { Implicit: false })
                throw new InfraMindException(CliErrorCodes.UsageError, "--min-free-disk applies to the embedded log registry only: with --registry eth://… no registry starts here",
                    "leave --min-free-disk out, or leave out --registry to start the embedded registry");
            var floorBytes = ServingHosts.MinFreeDiskBytes(parse, minFreeDisk);
            var limits = connections.Limits(parse);
            // One mesh per home, whatever registry it serves: its record, token, keys and announcements are the home's.
            // (With the embedded registry the second would stop at the held log, IM5126; following a chain, nothing stopped it.)
            if (MeshRecord.Running(context.Home, out var stale) is { } running) throw MeshRecord.AlreadyRunning(context.Home, running.Pid);
            // Usage first: a command that cannot run as written says so before it needs the engine.
            using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
            if (stale)
            {
                // A mesh of this home died without cleaning up (kill -9): its containers go first, as `mesh down` removes them.
                // Null: another command cleared it first, or a mesh claimed the home since (then the claim below is refused).
                if (await MeshRecord.ClearStaleAsync(context.Home, context.Error, cancellationToken) is { } removed)
                {
                    var said = $"removed the stale record {MeshRecord.File(context.Home)} of a mesh that is gone" +
                               (removed.Count > 0 ? $", and {removed.Count} container(s) it left" : "");
                    // --json: stdout holds the one JSON document; the note goes to stderr.
                    if (parse.GetValue(json)) await context.Error.WriteLineAsync(said);
                    else context.Console.MarkupLine(ConsoleText.Escape(said));
                }
            }

            // Claimed from here (not once up): a second mesh up started meanwhile is refused, and `infra mesh down` finds
            // this one while it still starts. Released last, after everything below is disposed.
            using var claim = MeshRecord.Claim(context.Home);

            await using var registry = chainUrl is null
                ? await ServingHosts.StartRegistryAsync(context, new RegistryServerOptions(InfraHome.Ensure(context.Home.Registry)) { MinFreeDiskBytes = floorBytes, Limits = limits, Logging = logging }, fetches, ListenAt.Loopback(parse.GetValue(registryPort)), cancellationToken,
                    takenHint: "choose another --registry-port (0: any free port)")
                : null;
            var registryAnnouncement = registry is null ? null : RegistryAccess.Announce(context.Home, registry.Address);
            await using var served = registry is null
                ? await ServedRegistry.ChainAsync(context, chainUrl!, parse.GetValue(chain.StatementStore), chain.ConfirmationsOf(parse), "mesh", fetches, cancellationToken)
                : ServedRegistry.Log(new LocalRegistryService(registry.Registry), registry.Registry.PublicKey, registry.Address.ToString(), fetches);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watching = served.WatchAsync(TimeSpan.FromMilliseconds(100), watch.Token);
            var started = new List<(string Id, NodeHost Host)>();
            var keys = new List<Signing.SigningKey>();
            GatewayHost? gateway = null;
            // Whatever fails on the way up (a taken port, the engine), nothing announced or started outlives the command.
            try
            {
                // The same token file as `gateway serve`: a node started apart with this home joins too.
                var (_, token) = ServingHosts.GatewayToken(context.Home.NodeToken);
                // The nodes of this process hand the gateway their containers' connectors: jobs skip a hop, and go to no address a node claims.
                var local = new LocalNodes();
                var gatewayAt = ListenAt.Loopback(parse.GetValue(port));
                // Every server of the embedded mesh has its own key ($INFRAMIND_HOME/mesh/keys, made on first use): nodes sign
                // registrations, heartbeats and a receipt per answer; the gateway signs its registration replies.
                keys.Add(MeshKeys.Embedded(context, "mesh-gateway"));
                gateway = await ServingHosts.StartGatewayAsync(gatewayAt, ServingHosts.GrpcUrl(gatewayAt, parse.GetValue(grpcPort)), parse.GetValue(replicas), token, served.Catalog, logging, cancellationToken, local,
                    parse.GetValue(logPayloads), identity: keys[0], spotCheckShare: parse.GetValue(spotCheck),
                    // Every client of a mesh on 127.0.0.1 has the one address: the per-address limit is the whole limit here.
                    tune: o => o with { MaxInferencesInFlight = parse.GetValue(maxInFlight), MaxInferencesInFlightPerAddress = parse.GetValue(maxInFlight), Limits = limits },
                    takenHint: "choose another --port (0: any free port)");
                GatewayAnnouncement.Write(context.Home, gateway.Url);
                var imageSource = served.Images(context, engine);
                var capacity = await ServingHosts.DefaultCapacityAsync(engine, cancellationToken);
                for (var i = 1; i <= count; i++)
                {
                    keys.Add(MeshKeys.Embedded(context, $"mesh-node-{i}"));
                    started.Add(($"node-{i}", await ServingHosts.StartNodeAsync($"node-{i}", [gateway.Url], token, capacity, engine, imageSource, logging, cancellationToken, local: local,
                        resources: ResourcePolicy.SharedMachine, identity: keys[^1], imageRecords: context.Home.NodeImageRecords,
                        // Nodes of this process beat every second (not 2 s): a version published is picked up sooner, and the
                        // gateway, on the same machine, is never far; a node also beats at once when a model gets ready.
                        // The home label: what a mesh of this home that died (kill -9) left running, `infra mesh down` finds and removes.
                        tune: o => JobGateOptions.Apply(parse, o with
                        {
                            HeartbeatInterval = TimeSpan.FromSeconds(1), Limits = limits,
                            ContainerLabels = new Dictionary<string, string>(o.ContainerLabels) { [MeshRecord.HomeLabel] = MeshRecord.HomeId(context.Home) },
                        }))));
                }

                if (parse.GetValue(json))
                {
                    CliJson.Write(context.Output, new
                    {
                        gateway = gateway.Url.ToString(),
                        grpc = gateway.GrpcUrl?.ToString(),
                        registry = served.Location,
                        gatewayKey = keys[0].PublicKey.Fingerprint,
                        nodes = started.Select((n, i) => new { id = n.Id, url = n.Host.Url.ToString(), key = keys[i + 1].PublicKey.Fingerprint }),
                    });
                }
                else
                {
                    context.Console.MarkupLine($"[green]✓[/] mesh up: gateway [bold]{ConsoleText.Escape(gateway.Url.ToString())}[/], registry {ConsoleText.Escape(served.Location)} ({ConsoleText.Escape(served.Trust)}), {count} node(s)");
                    if (gateway.GrpcUrl is { } grpc) context.Console.MarkupLine($"  gRPC ingress (Open Inference Protocol V2, h2c) at [bold]{ConsoleText.Escape(grpc.ToString())}[/]");
                    foreach (var (nodeId, host) in started) context.Console.MarkupLine($"  {ConsoleText.Escape(nodeId)} at {ConsoleText.Escape(host.Url.ToString())}");
                    var publish = registry is null ? $" --registry {served.Location} --key NAME" : "";
                    context.Console.MarkupLine($"  publish: infra publish --model model.yaml --image REF{ConsoleText.Escape(publish)}   then   POST {ConsoleText.Escape(gateway.Url.ToString())}inference/v1/NAME");
                    context.Console.MarkupLine($"  more nodes: infra node serve --gateway {ConsoleText.Escape(gateway.Url.ToString())} --id ID   (with this INFRAMIND_HOME: it holds the mesh token)");
                }

                await context.Output.FlushAsync(CancellationToken.None);
                await ServingHosts.WaitForStopAsync(cancellationToken);
                if (!parse.GetValue(json)) context.Console.MarkupLine("stopping: removing containers…");
            }
            finally
            {
                // Nodes first (their containers go), then the gateway they report to. All at once: each leaves the gateway,
                // which would place a leaving node's versions on the others if they still listened one after the other.
                await Task.WhenAll(started.Select(n => n.Host.DisposeAsync().AsTask()));
                if (gateway is not null) await gateway.DisposeAsync();
                foreach (var k in keys) k.Dispose();
                await watch.CancelAsync();
                await watching;
                File.Delete(GatewayAnnouncement.File(context.Home));
                if (registryAnnouncement is not null) File.Delete(registryAnnouncement);
            }

            if (!parse.GetValue(json)) context.Console.MarkupLine("[green]✓[/] mesh stopped, containers removed");
            return ExitCodes.Ok;
        });
        mesh.Subcommands.Add(up);
        mesh.Subcommands.Add(MeshDownCommand.Create(context));
        mesh.Subcommands.Add(MeshStatusCommand.Create(context));
        return mesh;
    }
}

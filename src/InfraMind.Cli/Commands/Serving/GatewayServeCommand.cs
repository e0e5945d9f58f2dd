using System.CommandLine;
using InfraMind.Serving.Tls;
using Spectre.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>`infra gateway serve`: the inference gateway over a registry, admitting nodes that present the mesh token.</summary>
internal static class GatewayServeCommand
{
    public static Command Create(CliContext context)
    {
        var gateway = new Command("gateway", "The inference gateway.");
        var port = ServingHosts.PortOption("--port", "Port to listen on (127.0.0.1 unless --listen)", 8080);
        var listen = ServingHosts.ListenOption();
        var grpcPort = ServingHosts.GrpcPortOption();
        var advertise = new Option<string?>("--advertise")
        {
            Description = "The URL clients and nodes reach this gateway at, announced in $INFRAMIND_HOME and printed (default: the address it is bound to)",
            HelpName = "URL",
        };
        var registryUrl = RegistryAccess.UrlOption();
        var registryKey = RegistryAccess.KeyOption();
        var chain = ServedRegistry.ChainOptions.Following();
        var replicas = new Option<int>("--replicas") { Description = "Nodes each model version is placed on", DefaultValueFactory = _ => 2 };
        var attemptTimeout = ServingHosts.DurationOption("--attempt-timeout", "Longest one attempt on one node may take before the request moves on to another node", "10s");
        var queueWait = ServingHosts.DurationOption("--queue-wait",
            "Longest a job may wait at a node for a slot in its model's container while the request has other nodes left to try: then that node says busy and the next is tried " +
            "(the last choice waits half of --attempt-timeout)", "250ms");
        var connectTimeout = ServingHosts.DurationOption("--connect-timeout", "Longest wait for a connection to a node's job API (a node whose host left the network answers nothing)", "3s");
        var missedBeats = new Option<int>("--missed-beats") { Description = "Heartbeats a node may miss in a row before it is offline and gets no more jobs", DefaultValueFactory = _ => 3, HelpName = "N" };
        missedBeats.Require(v => v is >= 1 and <= 100, "--missed-beats must be between 1 and 100");
        var maxNodes = new Option<int>("--max-nodes")
        {
            Description = "Most nodes this gateway keeps (a registration beyond it is refused with IM6023 until offline nodes are forgotten); docs/scale.md sizes a gateway",
            DefaultValueFactory = _ => 256, HelpName = "N",
        };
        maxNodes.Require(v => v is >= 1 and <= 100_000, "--max-nodes must be between 1 and 100000");
        var maxModelsPerNode = new Option<int>("--max-models-per-node")
        {
            Description = "Most versions this gateway places on one node, whatever their declared resources (a node bounds what it runs for all its gateways with its own --max-models)",
            DefaultValueFactory = _ => InfraMind.Serving.ResourcePolicy.DefaultMaxModelsPerNode, HelpName = "N",
        };
        maxModelsPerNode.Require(v => v is >= 1 and <= 1024, "--max-models-per-node must be between 1 and 1024");
        var maxInFlight = ServingHosts.MaxInFlightOption();
        var maxInFlightPerAddress = new Option<int>("--max-in-flight-per-address")
        {
            Description = "Of --max-in-flight, most from one client address, an IPv6 /64 counting as one (beyond: 429 IM6027 with Retry-After); behind a proxy every client " +
                "has the proxy's address, so raise it to --max-in-flight there",
            DefaultValueFactory = _ => 256, HelpName = "N",
        };
        maxInFlightPerAddress.Require(v => v >= 1, "--max-in-flight-per-address must be at least 1");
        var connections = ServingHosts.ConnectionOptions("the gateway's REST API, and its gRPC ingress apart,");
        var verbose = new Option<bool>("--verbose") { Description = "Log placements and failures" };
        var logFormat = ServingHosts.LogFormatOption();
        var logPayloads = ServingHosts.LogPayloadsOption();
        var spotCheck = ServingHosts.SpotCheckShareOption();
        var tls = ServingTls.Options("gateway.pfx", "nodes pin its key: --gateway https://HOST:PORT/#sha256:HEX (the tlsFingerprint --json prints)");
        var json = new Option<bool>("--json") { Description = "Once listening, print {gateway, grpc, registry, registryKey, tokenFile, key, admittedNodeKeys, tlsFingerprint} as JSON (grpc: the gRPC ingress's URL, null with --grpc-port 0; registryKey is null for an eth:// registry)" };
        var tokenFile = new Option<string?>("--node-token-file")
        {
            Description = "File holding the mesh token nodes must present (default: $INFRAMIND_HOME/mesh/node-token, created with a new random token when missing)",
            HelpName = "FILE",
        };
        var key = MeshKeys.KeyOption("The gateway's own key (infra keys generate --name NAME): it signs the registration replies that carry each node's job credential, " +
            "so nodes that admit only listed gateway keys (infra node serve --admit-gateway-key) take jobs from this gateway");
        var keyPassphrase = MeshKeys.PassphraseOption();
        var admitNodeKey = MeshKeys.AdmitOption("--admit-node-key",
            "Admit only nodes with this key (its fingerprint, sha256:HEX); repeat for several. With a list, a node's key admits it and the mesh token is not needed; without one, the mesh token admits");
        var admitNodeKeys = new Option<string?>("--admit-node-keys") { Description = "File of admitted node key fingerprints, one per line (# comments); added to --admit-node-key", HelpName = "FILE" };
        var serve = new Command("serve",
            "Serve POST /inference/v1/NAME for every verified registry entry, placing models on registered nodes, and the same models over the Open Inference Protocol V2 gRPC API on --grpc-port. Only nodes that present the mesh token " +
            "(--node-token-file) may register. With --registry eth://HOST:PORT/0xCONTRACT it follows the chain's events instead (behind --confirmations; " +
            "progress kept in $INFRAMIND_HOME/chain, so a restart resumes): a version is served once its statement verified, and no longer once yanked.\n" +
            "Exit codes: 0 stopped cleanly, 1 the registry's log is damaged (IM5123), the eth:// address holds no registry, the registry serves another key than the one pinned (IM5150) " +
            "or a view its earlier checkpoints do not extend (IM5151), the kept TLS certificate (IM6047) or the kept node bindings (IM6052) cannot be read, 2 usage error, " +
            "4 registry or chain node unavailable or port taken (IM6021).\n" +
            "Node identity: a node that registers with a key (infra node serve --key) has its id bound to that key; its registrations and heartbeats must be signed by it " +
            "(IM6040 another key for a held id, IM6041 a bad or missing signature, IM6042 a time more than 120 s off or a replay); a key holds one id (IM6051 while its node is online), " +
            "and its fingerprint, not the id, decides the node's rank in placement; with --admit-node-key(s) a node with another key, " +
            "or none, is refused (IM6043). Such a node signs a receipt for every answer, returned in the InfraMind-Receipt header (infra receipt verify). " +
            "What binds each id (its credential, its key, when it was last seen) and the node's standing (its reputation, suspensions and the receipts of spot checks it lost) are kept in " +
            "$INFRAMIND_HOME/mesh/gateways/PORT.nodes.json (not with --port 0), so a restart frees no id and forgives no node: until 10 minutes after " +
            "its node was last seen, only that node registers it again, and a suspension runs to its end.")
        {
            port, grpcPort, listen, advertise, registryUrl, registryKey, replicas, attemptTimeout, queueWait, connectTimeout, missedBeats, maxNodes, maxModelsPerNode, maxInFlight, maxInFlightPerAddress, connections.Max, connections.PerAddress, tokenFile, key, keyPassphrase, admitNodeKey,
            admitNodeKeys, spotCheck,
            verbose, logFormat, logPayloads, json,
        };
        chain.AddTo(serve);
        tls.AddTo(serve);
        serve.SetAction(async (parse, cancellationToken) =>
        {
            using var tracing = ServingHosts.Tracing(context, "inframind-gateway");
            await using var served = await ServedRegistry.OpenAsync(context, parse, registryUrl, registryKey, chain, "gateway", ContentAccess.PublisherPolicy(context, [], hostLocal: false), cancellationToken);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watching = served.WatchAsync(TimeSpan.FromMilliseconds(500), watch.Token);
            var (tokenPath, token) = ServingHosts.GatewayToken(parse.GetValue(tokenFile) ?? context.Home.NodeToken);
            var at = ListenAt.From(parse, listen, port);
            var advertised = ListenAt.Advertised(parse, advertise);
            var admitted = MeshKeys.Admitted(parse.GetValue(admitNodeKey) ?? [], parse.GetValue(admitNodeKeys), "--admit-node-keys");
            using var identity = MeshKeys.Load(context, parse.GetValue(key), parse.GetValue(keyPassphrase));
            using var certificate = tls.Certificate(context, parse, at, "gateway");
            await ServingTls.CheckAsync(context, at, advertised, certificate, "the gateway", "requests, answers and the mesh token");
            await using var host = await ServingHosts.StartGatewayAsync(at, ServingHosts.GrpcUrl(at, parse.GetValue(grpcPort)), parse.GetValue(replicas), token, served.Catalog,
                ServingHosts.Logging(parse.GetValue(verbose), parse.GetValue(logFormat)!), cancellationToken, logPayloads: parse.GetValue(logPayloads),
                identity: identity, admitNodeKeys: admitted, audience: advertised, spotCheckShare: parse.GetValue(spotCheck),
                tune: o => o with
                {
                    TlsCertificate = certificate, ListenUrl = certificate is null ? o.ListenUrl : at.HttpsUrl, NodeBindingsFile = context.Home.GatewayNodeBindings(at.Port),
                    AttemptTimeout = ServingHosts.Duration(parse, attemptTimeout), QueueWaitWithOthersLeft = ServingHosts.Duration(parse, queueWait), ConnectTimeout = ServingHosts.Duration(parse, connectTimeout), MissedBeatsOffline = parse.GetValue(missedBeats),
                    MaxNodes = parse.GetValue(maxNodes), MaxModelsPerNode = parse.GetValue(maxModelsPerNode), MaxInferencesInFlight = parse.GetValue(maxInFlight),
                    MaxInferencesInFlightPerAddress = parse.GetValue(maxInFlightPerAddress), Limits = connections.Limits(parse),
                });
            var url = advertised ?? host.Url;
            var pin = certificate is null ? null : MeshTls.Fingerprint(certificate);
            // With its pin, so `infra mesh status` and `publish` here reach it over TLS too.
            GatewayAnnouncement.Write(context.Home, TlsPins.With(url, pin));
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    gateway = url.ToString(), grpc = host.GrpcUrl?.ToString(), registry = served.Location, registryKey = served.RegistryKey?.Fingerprint, tokenFile = tokenPath,
                    key = identity?.PublicKey.Fingerprint, admittedNodeKeys = admitted?.Count, tlsFingerprint = pin,
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] gateway at [bold]{ConsoleText.Escape(url.ToString())}[/] serving {ConsoleText.Escape(served.Location)} ({ConsoleText.Escape(served.Trust)})");
                if (host.GrpcUrl is { } grpc) context.Console.MarkupLine($"  gRPC (Open Inference Protocol V2, h2c) at [bold]{ConsoleText.Escape(grpc.ToString())}[/]");
                context.Console.MarkupLine($"  nodes register with the token in {ConsoleText.Escape(tokenPath)}: infra node serve --gateway {ConsoleText.Escape(TlsPins.With(url, pin).ToString())} --token-file {ConsoleText.Escape(tokenPath)}");
            }

            await context.Output.FlushAsync(CancellationToken.None);
            await ServingHosts.WaitForStopAsync(cancellationToken);
            await watch.CancelAsync();
            await watching;
            File.Delete(GatewayAnnouncement.File(context.Home));
            return ExitCodes.Ok;
        });
        gateway.Subcommands.Add(serve);
        return gateway;
    }
}

using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Serving.Tls;
using Spectre.Console;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>`infra node serve`: a node agent that registers with a gateway and runs the models placed on it.</summary>
internal static class NodeServeCommand
{
    /// <summary>Set to 1, the node alters its answers on purpose (<see cref="NodeOptions.AlterAnswers"/>).</summary>
    internal const string AlterAnswersVariable = "INFRAMIND_FAULT_ALTER_ANSWERS";

    public static Command Create(CliContext context)
    {
        var node = new Command("node", "A node agent.");
        var gateway = new Option<string>("--gateway")
        {
            Description = $"Gateway URL to register with, with #sha256:HEX after an https gateway's URL to pin its TLS certificate key (IM6046 when it presents another); several, comma-separated (at most {NodeOptions.MaxGateways}): the node registers and heartbeats with each on its own, runs what any of them assigns and takes jobs from each",
            Required = true,
            HelpName = "URL[,URL…]",
        };
        gateway.Validators.Add(r =>
        {
            var urls = (r.GetValueOrDefault<string>() ?? "").Split(',', StringSplitOptions.TrimEntries);
            foreach (var text in urls)
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    r.AddError($"--gateway '{text}' is not a URL: write e.g. --gateway http://127.0.0.1:8080 or --gateway http://10.0.0.1:8080,http://10.0.0.2:8080");
                else if (uri.Fragment is { Length: > 0 } && !(TlsPins.TrySplit(uri, out _, out var pin, out _) && pin is not null))
                    r.AddError($"--gateway '{text}': a pin follows an https URL as #sha256:HEX (64 lower-case hex digits, the tlsFingerprint `infra gateway serve --json` prints)");
            }

            if (urls.Length > NodeOptions.MaxGateways) r.AddError($"--gateway names {urls.Length} gateways; a node serves at most {NodeOptions.MaxGateways}");
            if (urls.Distinct(StringComparer.OrdinalIgnoreCase).Count() != urls.Length) r.AddError("--gateway names a gateway twice");
        });
        var heartbeat = ServingHosts.DurationOption("--heartbeat-interval", "How often the node heartbeats each gateway; a gateway counts it offline after its --missed-beats", "2s", TimeSpan.FromMinutes(1));
        var gatewayTimeout = ServingHosts.DurationOption("--gateway-timeout", "Longest a registration or heartbeat may take, connecting included, before that gateway counts as unreachable", "10s");
        var id = new Option<string>("--id") { Description = "Node id", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var port = ServingHosts.PortOption("--port", "Job API port (127.0.0.1 unless --listen; 0 = any free port)", 0);
        var listen = ServingHosts.ListenOption();
        var advertise = new Option<string?>("--advertise")
        {
            Description = "The URL the node registers, where its gateway reaches its job API (default: the address it is bound to; required with --listen 0.0.0.0)",
            HelpName = "URL",
        };
        var tls = ServingTls.Options("ID.pfx", "the registration carries its key's fingerprint and the gateway accepts that key alone (IM6046 otherwise)");
        var registryUrl = RegistryAccess.UrlOption();
        var registryKey = RegistryAccess.KeyOption();
        var chain = ServedRegistry.ChainOptions.Verifying();
        var allowLocal = new Option<bool>("--allow-local-references")
        {
            Description = "Also fetch file:// and local:// references of another registry's publishers (they resolve on this machine; the registry of this home's `infra mesh up` always may)",
        };
        var fetchAllow = new Option<string[]>("--fetch-allow")
        {
            Description = "A network this node may fetch publishers' content from although it is not public (loopback, private, link-local): a CIDR or an address; repeat for several. Also read from $" + ContentAccess.FetchAllowVariable,
            HelpName = "CIDR",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxImage = ContentAccess.MaxImageSizeOption("this node");
        var cpu = new Option<string?>("--cpu") { Description = "CPU capacity to offer (cores or millicores; default: the engine's CPUs)" };
        var memory = new Option<string?>("--memory") { Description = "Memory capacity to offer (e.g. 8Gi; default: the engine's memory)" };
        var imageCache = new Option<string>("--image-cache")
        {
            Description = "Bytes of images to keep for versions this node no longer runs (e.g. 10Gi; 0 removes each image once no version here uses it). " +
                          "Beyond them the longest-unused image goes. Only images the node brought (nameless when loaded) are its to remove: your own builds stay",
            DefaultValueFactory = _ => "10Gi",
            HelpName = "BYTES",
        };
        var gpus = new Option<int>("--gpus") { Description = "GPUs to offer", DefaultValueFactory = _ => 0 };
        var maxModels = new Option<int>("--max-models")
        {
            Description = "Most model versions this node runs at once, whatever their declared resources (beyond: refused with IM6010, placed elsewhere)",
            DefaultValueFactory = _ => ResourcePolicy.DefaultMaxModelsPerNode, HelpName = "N",
        };
        maxModels.Require(v => v is >= 1 and <= 1024, "--max-models must be between 1 and 1024");
        var jobGate = JobGateOptions.Create();
        var cpuOvercommit = new Option<double>("--cpu-overcommit")
        {
            Description = "Admit models while the sum of their CPU limits stays within this many times --cpu (1-16; limits are enforced per container either way)",
            DefaultValueFactory = _ => ResourcePolicy.Exclusive.CpuOvercommit,
            HelpName = "RATIO",
        };
        var memoryOvercommit = new Option<double>("--memory-overcommit")
        {
            Description = "The same for memory limits (1-16; a model over its own limit is killed whatever the ratio)",
            DefaultValueFactory = _ => ResourcePolicy.Exclusive.MemoryOvercommit,
            HelpName = "RATIO",
        };
        var connections = ServingHosts.ConnectionOptions("the node's job API");
        var verbose = new Option<bool>("--verbose") { Description = "Log pre-flights, health and jobs" };
        var logFormat = ServingHosts.LogFormatOption();
        var json = new Option<bool>("--json") { Description = "Once started, print {node, url, advertised, gateway, registered, key, tlsFingerprint} as JSON" };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "File holding the gateway's mesh token (default: $INFRAMIND_HOME/mesh/node-token, the file `infra gateway serve` and `infra mesh up` write)",
            HelpName = "FILE",
        };
        var key = MeshKeys.KeyOption("The node's own key (infra keys generate --name NAME): the gateway binds the node id to it at the first registration; " +
            "it signs every registration, heartbeat and job receipt. Without --token-file and without a token file in $INFRAMIND_HOME, a node with a key registers without the mesh token (for gateways that admit keys)");
        var keyPassphrase = MeshKeys.PassphraseOption();
        var admitGatewayKey = MeshKeys.AdmitOption("--admit-gateway-key",
            "Take a job credential only from a gateway whose registration reply is signed by this key (its fingerprint, sha256:HEX); repeat for several. Needs --key");
        var serve = new Command("serve",
            "Register with one gateway or several (each on its own), heartbeat, and run the models any of them places here: verified registry entry, verified image, isolated container, " +
            "pre-flight (the rules of `infra test`), then jobs. With --registry eth://HOST:PORT/0xCONTRACT each assignment is verified against the chain " +
            "(record, statement by digest, signature, signer, not yanked).\nExit codes: 0 stopped cleanly, 1 the registry's log is damaged (IM5123), or a gateway refused the node's signature (IM6041: a bad or missing one; IM6042: its clock more than 120 s off, or a replay), " +
            "2 usage error (a missing token file, IM6016, or a registration the gateway finds invalid, IM6014, included), " +
            "3 container engine unavailable or unable to isolate runs, 4 gateway or registry unavailable, port taken (IM6021), or every gateway refused this node (IM6015: wrong token; " +
            "IM6019: another node holds the id; IM6040: the id is bound to another key; IM6051: the key is bound to another node, online; IM6043: the gateway does not admit this node's key; " +
            "IM6044: the gateway's reply is not signed by a key --admit-gateway-key lists; IM6046: the gateway's TLS certificate key is not the #sha256: pin). Off loopback (or with --tls) the job API is HTTPS with a certificate kept in $INFRAMIND_HOME/mesh/tls/ID.pfx. The credential the (first) gateway issues the node is kept in " +
            "$INFRAMIND_HOME/mesh/nodes/ID.credential, each other gateway's beside it (ID.credential.gw-HASH); until a gateway's answer arrives, the credential the node proposed to it is kept there as FILE.proposal.")
        {
            gateway, heartbeat, gatewayTimeout, id, port, listen, advertise, registryUrl, registryKey, cpu, memory, gpus, maxModels, jobGate.MaxJobs, jobGate.MaxQueued, connections.Max, connections.PerAddress, cpuOvercommit, memoryOvercommit, imageCache, tokenFile, key, keyPassphrase,
            admitGatewayKey, allowLocal, fetchAllow, maxImage, verbose, logFormat, json,
        };
        chain.AddTo(serve);
        tls.AddTo(serve);
        serve.SetAction(async (parse, cancellationToken) =>
        {
            // 0 is a budget here (keep nothing unused), where a quantity of memory must be more.
            var keepImages = OptionRules.Bytes(parse, imageCache, "write a quantity such as 10Gi, 512Mi or 0", zeroAllowed: true);
            var maxImageBytes = ContentAccess.MaxImageBytes(parse, maxImage);
            using var tracing = ServingHosts.Tracing(context, "inframind-node");
            // URL#sha256:HEX: the URL without its fragment is the gateway's, the fragment its TLS pin.
            var given = parse.GetValue(gateway)!.Split(',', StringSplitOptions.TrimEntries).Select(u => TlsPins.Split(new Uri(u))).ToList();
            IReadOnlyList<Uri> gatewayUrls = [.. given.Select(g => g.Url)];
            var gatewayPins = given.Where(g => g.Pin is not null).ToDictionary(g => g.Url, g => g.Pin!);
            using var identity = MeshKeys.Load(context, parse.GetValue(key), parse.GetValue(keyPassphrase));
            var admitGateways = MeshKeys.Admitted(parse.GetValue(admitGatewayKey) ?? [], null, "--admit-gateway-key");
            if (admitGateways is not null && identity is null)
                throw new InfraMindException(CliErrorCodes.UsageError, "--admit-gateway-key needs the node's own key", "pass --key NAME (infra keys generate --name NAME makes one)");
            // A node with a key may join a gateway that admits keys without the mesh token: then no token file is needed.
            var token = identity is not null && parse.GetValue(tokenFile) is null && !File.Exists(context.Home.NodeToken)
                ? null
                : ServingHosts.NodeToken(parse.GetValue(tokenFile) ?? context.Home.NodeToken);
            using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
            // Publishers of a registry other than this home's are strangers: public sources only, unless the operator allows more.
            var strangers = ContentAccess.PublisherPolicy(context, parse.GetValue(fetchAllow)!.SelectMany(a => ContentAccess.ParseNetworks(a, "--fetch-allow")), parse.GetValue(allowLocal), maxImageBytes);
            await using var served = await ServedRegistry.OpenAsync(context, parse, registryUrl, registryKey, chain, $"node-{parse.GetValue(id)}", strangers, cancellationToken);
            var capacity = await ServingHosts.DefaultCapacityAsync(engine, cancellationToken);
            if (parse.GetValue(cpu) is { } c)
            {
                capacity = capacity with
                {
                    CpuMillicores = Quantity.TryParseMillicores(c, out var m, out var e) ? m : throw new InfraMindException(ManifestCodes.InvalidCpu, $"--cpu: {e}", "write cores (2, 0.5) or millicores (500m)"),
                };
            }

            if (parse.GetValue(memory) is { } mem)
            {
                capacity = capacity with
                {
                    MemoryBytes = Quantity.TryParseBytes(mem, out var b, out var e) ? b : throw new InfraMindException(ManifestCodes.InvalidMemory, $"--memory: {e}", "write a quantity such as 8Gi or 512Mi"),
                };
            }

            capacity = capacity with { GpuCount = parse.GetValue(gpus) };
            var source = served.Images(context, engine);
            var at = ListenAt.From(parse, listen, port);
            // Fault injection for labs and fault tests (docs/mesh.md): a node that lies on purpose, as a patched one could.
            var alterAnswers = Environment.GetEnvironmentVariable(AlterAnswersVariable) == "1";
            if (alterAnswers)
                await context.Error.WriteLineAsync($"warning: {AlterAnswersVariable}=1: node {parse.GetValue(id)} alters every answer it returns on purpose (fault injection; its gateways' spot-checks should suspend it)");
            using var certificate = tls.Certificate(context, parse, at, parse.GetValue(id)!);
            await ServingTls.CheckAsync(context, at, ListenAt.Advertised(parse, advertise), certificate, $"node {parse.GetValue(id)}", "jobs, answers and its credential");
            await using var host = await ServingHosts.StartNodeAsync(parse.GetValue(id)!, gatewayUrls, token, capacity, engine, source, ServingHosts.Logging(parse.GetValue(verbose), parse.GetValue(logFormat)!), cancellationToken,
                at, context.Home.NodeCredential(parse.GetValue(id)!), resources: new ResourcePolicy(parse.GetValue(cpuOvercommit), parse.GetValue(memoryOvercommit)),
                advertise: ListenAt.Advertised(parse, advertise), identity: identity, admitGateways: admitGateways, tls: certificate, imageRecords: context.Home.NodeImageRecords,
                tune: o => JobGateOptions.Apply(parse, o with
                {
                    GatewayTlsPins = gatewayPins, HeartbeatInterval = ServingHosts.Duration(parse, heartbeat), GatewayTimeout = ServingHosts.Duration(parse, gatewayTimeout),
                    AlterAnswers = alterAnswers, UnusedImageBytes = keepImages, MaxModels = parse.GetValue(maxModels),
                    Limits = connections.Limits(parse),
                }));
            var registered = await ServingHosts.RegisteredAsync(host.Agent, cancellationToken);
            var named = string.Join(", ", gatewayUrls);
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    node = parse.GetValue(id), url = host.Url.ToString(), advertised = host.Agent.Address?.ToString(), gateway = gatewayUrls[0].ToString(),
                    gateways = gatewayUrls.Select(u => u.ToString()).ToList(), registered, key = identity?.PublicKey.Fingerprint,
                    tlsFingerprint = certificate is null ? null : MeshTls.Fingerprint(certificate),
                });
                // stdout stays the one JSON object; the person watching the process learns on stderr, as of every warning.
                if (!registered)
                    await context.Error.WriteLineAsync($"warning: node {parse.GetValue(id)} at {host.Url}: no gateway of {named} answers yet; retrying every heartbeat");
            }
            else if (registered)
            {
                context.Console.MarkupLine($"[green]✓[/] node {ConsoleText.Escape(parse.GetValue(id)!)} at {ConsoleText.Escape(host.Url.ToString())}, registered with {ConsoleText.Escape(named)}");
            }
            else
            {
                context.Console.MarkupLine($"[yellow]![/] node {ConsoleText.Escape(parse.GetValue(id)!)} at {ConsoleText.Escape(host.Url.ToString())}: no gateway of {ConsoleText.Escape(named)} answers yet; retrying every heartbeat");
            }
            await context.Output.FlushAsync(CancellationToken.None);
            var stop = ServingHosts.WaitForStopAsync(cancellationToken);
            // Every gateway refusing the node after the first 10 s (they were down, then came back and refused it) ends
            // the node as a refusal within them does: with the refusal's code, not serving on with no gateway at all.
            if (!registered && await Task.WhenAny(stop, host.Agent.Registered) == host.Agent.Registered && host.Agent.Registered.IsFaulted)
                await host.Agent.Registered;
            await stop;
            return ExitCodes.Ok;
        });
        node.Subcommands.Add(serve);
        return node;
    }
}

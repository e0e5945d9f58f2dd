using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Hosting;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Registry.Http;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using InfraMind.Storage;
using Microsoft.Extensions.Logging;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// The in-process set-up of the serving side, shared by `infra mesh up`, `infra gateway serve`, `infra node serve` and
/// `infra registry serve`: starting each host on 127.0.0.1 (a taken port is IM6021), the mesh token files, a node's
/// default capacity, logging, and waiting for Ctrl-C.
/// </summary>
internal static class ServingHosts
{
    /// <summary>A port on 127.0.0.1 a serving command listens on: 0 (any free port) to 65535.</summary>
    public static Option<int> PortOption(string name, string description, int defaultPort)
    {
        var port = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultPort, HelpName = "PORT" };
        port.Require(v => v is >= 0 and <= 65535, $"{name} must be a port between 0 (any free port) and 65535");
        return port;
    }

    /// <summary>`--grpc-port`: the gateway's V2 gRPC ingress; unset: the gateway's port + 1 (a free port when that is 0); 0: none.</summary>
    public static Option<int?> GrpcPortOption()
    {
        var port = new Option<int?>("--grpc-port")
        {
            Description = "Port of the gateway's V2 gRPC ingress (GRPCInferenceService + grpc.health.v1, cleartext HTTP/2) on the gateway's address. " +
                "Default: the gateway's port + 1 (a free port when --port is 0); 0 serves no gRPC ingress",
            HelpName = "PORT",
        };
        port.Require(v => v is null or (>= 0 and <= 65535), "--grpc-port must be a port between 0 (no gRPC ingress) and 65535");
        return port;
    }

    /// <summary>`--min-free-disk`: the registry's floor of free space on its data directory's disk (registry serve; mesh up's embedded registry).</summary>
    public static Option<string> MinFreeDiskOption() => new("--min-free-disk")
    {
        Description = "Take no publish (503 IM5153) while the disk of the registry's data directory has less than SIZE free, so that publishers cannot fill it " +
            "(each log entry keeps up to 1 MiB, forever); reads go on. 0: no floor",
        DefaultValueFactory = _ => "1Gi", HelpName = "SIZE",
    };

    /// <summary>The bytes of <see cref="MinFreeDiskOption"/>'s value; a value that is no size is a usage error naming the option.</summary>
    public static long MinFreeDiskBytes(ParseResult parse, Option<string> option) =>
        OptionRules.Bytes(parse, option, "write a size such as 1Gi or 500Mi, or 0 for no floor", zeroAllowed: true);

    /// <summary>`--max-in-flight`: most inference requests a gateway holds at once (gateway serve; mesh up, where it is the per-address limit too).</summary>
    public static Option<int> MaxInFlightOption(string also = "")
    {
        var option = new Option<int>("--max-in-flight")
        {
            Description = "Most inference requests in flight at once, REST and gRPC together (beyond: 503 IM6026 with Retry-After); bounds the memory bodies and answers take " +
                "to this many times (1 MiB + 16 MiB)" + also,
            DefaultValueFactory = _ => 1024, HelpName = "N",
        };
        option.Require(v => v is >= 1 and <= 1_000_000, "--max-in-flight must be between 1 and 1000000");
        return option;
    }

    /// <summary>
    /// `--max-connections` and `--max-connections-per-address` of a command that starts servers (gateway serve and its
    /// gRPC ingress, node serve, registry serve, each server of mesh up): <see cref="ServerLimits.MaxConnections"/> and
    /// <see cref="ServerLimits.MaxConnectionsPerAddress"/>, defined once for all four.
    /// </summary>
    public static ConnectionLimitOptions ConnectionOptions(string servers)
    {
        var max = new Option<int>("--max-connections")
        {
            Description = $"Most client connections {servers} holds open at once, idle or not; one beyond is closed as soon as it is accepted, without an answer " +
                "(each connection is a file descriptor and ~10 KiB; docs/operations.md lists every connection limit)",
            DefaultValueFactory = _ => ServerLimits.DefaultMaxConnections, HelpName = "N",
        };
        max.Require(v => v is >= 1 and <= ServerLimits.MaxMaxConnections, $"--max-connections must be between 1 and {ServerLimits.MaxMaxConnections}");
        var perAddress = new Option<int>("--max-connections-per-address")
        {
            Description = "Of those, most from one client address (an IPv6 /64 as one; at most --max-connections), so that no one address shuts the others out; " +
                "one beyond is closed as soon as it is accepted. Behind a reverse proxy every client has the proxy's address: raise it there",
            DefaultValueFactory = _ => ServerLimits.DefaultMaxConnectionsPerAddress, HelpName = "N",
        };
        perAddress.Require(v => v is >= 1 and <= ServerLimits.MaxMaxConnections, $"--max-connections-per-address must be between 1 and {ServerLimits.MaxMaxConnections}");
        return new ConnectionLimitOptions(max, perAddress);
    }

    /// <summary>Where the gRPC ingress listens for the gateway at <paramref name="at"/>: null when `--grpc-port 0` turned it off.</summary>
    public static string? GrpcUrl(ListenAt at, int? grpcPort)
    {
        if (grpcPort == 0) return null;
        if (grpcPort is null && at.Port == 65535)
            throw new InfraMindException(CliErrorCodes.UsageError, "the gateway's port is 65535, so the gRPC ingress has no default port (the gateway's + 1)",
                "pass --grpc-port PORT, or --grpc-port 0 to serve no gRPC ingress");
        return (at with { Port = grpcPort ?? (at.Port == 0 ? 0 : at.Port + 1) }).Url;
    }

    /// <summary>
    /// A duration option of the serving commands (failure detection: timeouts, heartbeats), written as model.yaml's
    /// timeout is (3s, 500ms, 2m, a bare number of seconds; 1ms to 10m) and at most <paramref name="max"/>.
    /// </summary>
    public static Option<string> DurationOption(string name, string description, string defaultValue, TimeSpan? max = null)
    {
        var option = new Option<string>(name) { Description = $"{description} (e.g. 500ms, 2s)", DefaultValueFactory = _ => defaultValue, HelpName = "DURATION" };
        option.Validators.Add(r =>
        {
            var text = r.GetValueOrDefault<string>() ?? "";
            if (!Manifest.Quantity.TryParseTimeout(text, out var value, out var error)) r.AddError($"{name}: {error}");
            else if (max is { } limit && value > limit) r.AddError($"{name}: at most {limit.TotalSeconds:0.###}s");
        });
        return option;
    }

    /// <summary>The value of a <see cref="DurationOption"/> (validated at parse).</summary>
    public static TimeSpan Duration(ParseResult parse, Option<string> option) =>
        Manifest.Quantity.TryParseTimeout(parse.GetValue(option)!, out var value, out _) ? value : throw new InvalidOperationException($"{option.Name} was not validated");

    /// <summary>`--listen ADDRESS[:PORT]` of the serving commands: the address to bind instead of 127.0.0.1 (a port given here wins over --port).</summary>
    public static Option<string?> ListenOption() => new("--listen")
    {
        Description = "Address to listen on instead of 127.0.0.1 (e.g. 10.0.0.5, 0.0.0.0, [::]), optionally with :PORT. Off loopback the server speaks HTTPS with its self-signed certificate, which peers pin (--plaintext: HTTP)",
        HelpName = "ADDRESS[:PORT]",
    };

    /// <summary>A registry server at <paramref name="at"/> whose admission fetches under <paramref name="policy"/>.
    /// <paramref name="takenHint"/> is what to change when the address is taken, in the options of the command that
    /// starts it (`mesh up` has no --listen, and its registry's port is --registry-port).</summary>
    public static async Task<RegistryServer> StartRegistryAsync(CliContext context, RegistryServerOptions options, FetchPolicy policy, ListenAt at, CancellationToken cancellationToken,
        long? keepBytes = null, string takenHint = "choose another --port or --listen address")
    {
        try
        {
            return await RegistryServer.StartAsync(options with { Url = options.TlsCertificate is null ? at.Url : at.HttpsUrl, Admission = Admission.ForRegistry(context, policy, keepBytes) },
                cancellationToken);
        }
        catch (IOException e)
        {
            throw new InfraMindException(MeshErrorCodes.ListenFailed, $"the registry cannot listen on {at}: {NetworkFailure.Describe(e)}", takenHint, e);
        }
    }

    public static async Task<GatewayHost> StartGatewayAsync(
        ListenAt at, string? grpcUrl, int replicas, string token, IModelCatalog catalog, Action<ILoggingBuilder>? logging, CancellationToken cancellationToken,
        LocalNodes? local = null, bool logPayloads = false, Signing.SigningKey? identity = null, IReadOnlySet<string>? admitNodeKeys = null, Uri? audience = null,
        double spotCheckShare = 0.02, Func<GatewayOptions, GatewayOptions>? tune = null, string takenHint = "choose another --port or --listen address")
    {
        try
        {
            var options = new GatewayOptions
            {
                ListenUrl = at.Url, GrpcListenUrl = grpcUrl, Replicas = replicas, CatalogRefresh = TimeSpan.FromSeconds(2), NodeToken = token, LocalNodes = local, LogPayloads = logPayloads,
                Identity = identity, AdmitNodeKeys = admitNodeKeys, Audience = audience, SpotCheckShare = spotCheckShare,
            };
            return await GatewayHost.StartAsync(tune?.Invoke(options) ?? options, catalog, TimeProvider.System, logging, cancellationToken);
        }
        catch (IOException e)
        {
            throw new InfraMindException(MeshErrorCodes.ListenFailed, $"the gateway cannot listen on {at}: {NetworkFailure.Describe(e)}", takenHint, e);
        }
    }

    public static async Task<NodeHost> StartNodeAsync(
        string id, IReadOnlyList<Uri> gateways, string? token, NodeCapacity capacity, ContainerEngine engine, IModelImageSource source, Action<ILoggingBuilder>? logging,
        CancellationToken cancellationToken, ListenAt? at = null, string? credentialFile = null, LocalNodes? local = null, ResourcePolicy? resources = null, Uri? advertise = null,
        Signing.SigningKey? identity = null, IReadOnlySet<string>? admitGateways = null, Func<NodeOptions, NodeOptions>? tune = null,
        System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null, string? imageRecords = null)
    {
        at ??= ListenAt.Loopback(0);
        if (at.IsUnspecified && advertise is null)
            throw new InfraMindException(CliErrorCodes.UsageError, $"--listen {at.Host} binds every address, so the node cannot tell the gateway which one reaches it",
                $"pass --advertise {(tls is null ? "http" : "https")}://ADDRESS:PORT/ (the URL the gateway reaches this node at), or --listen one address");
        var options = new NodeOptions
        {
            NodeId = id, Gateways = gateways, GatewayToken = token, Capacity = capacity, ListenUrl = tls is null ? at.Url : at.HttpsUrl, TlsCertificate = tls, CredentialFile = credentialFile, LocalNodes = local,
            Resources = resources ?? ResourcePolicy.Exclusive, Advertise = advertise, Identity = identity, AdmitGatewayKeys = admitGateways,
            UnusedImageBytes = NodeOptions.DefaultUnusedImageBytes, ImageRecordDirectory = imageRecords,
        };
        options = tune?.Invoke(options) ?? options;
        var errors = options.Validate();
        if (errors.Count > 0) throw new InfraMindException(MeshErrorCodes.RegistrationInvalid, string.Join("; ", errors));
        try
        {
            return await NodeHost.StartAsync(options, engine, source, TimeProvider.System, logging, cancellationToken);
        }
        catch (IOException e)
        {
            throw new InfraMindException(MeshErrorCodes.ListenFailed, $"node {id} cannot listen on {at}: {NetworkFailure.Describe(e)}", "choose another --port or --listen address", e);
        }
    }

    /// <summary>True once a gateway accepted the node; false when none has answered within 10 s (the node keeps trying).</summary>
    public static async Task<bool> RegisteredAsync(NodeAgent agent, CancellationToken cancellationToken)
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
    }

    /// <summary>The gateway's token file, created (owner-only) with a new token when missing.</summary>
    public static (string Path, string Token) GatewayToken(string file)
    {
        file = Path.GetFullPath(file);
        // Made whole or not at all (a crash leaves no empty token file); another gateway or mesh up that made it in
        // the meantime wins, and its token is read below.
        if (!File.Exists(file))
        {
            var created = MeshToken.Create();
            if (AtomicFile.CreateOnce(file, System.Text.Encoding.UTF8.GetBytes(created + "\n"))) return (file, created);
        }

        return (file, ReadToken(file, "remove it to have a new token made, or name another file with --node-token-file"));
    }

    /// <summary>A node's token from its file: a missing or empty file is a usage error that says where the token comes from.</summary>
    public static string NodeToken(string file) =>
        ReadToken(file, "`infra gateway serve` writes the token to $INFRAMIND_HOME/mesh/node-token on its machine; copy that file here or pass --token-file");

    /// <summary>On one machine every node may offer the whole engine: they share it, the limits are per container.</summary>
    public static async Task<NodeCapacity> DefaultCapacityAsync(ContainerEngine engine, CancellationToken cancellationToken)
    {
        var info = await engine.GetInfoAsync(cancellationToken);
        return new NodeCapacity(Math.Max(1, info.Cpus) * 1000L, info.MemoryBytes, info.HasGpuRuntime ? 1 : 0);
    }

    /// <summary>
    /// The process's traces, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, else
    /// null: nothing recorded, nothing sent. Disposing it flushes what is buffered. OTEL_SERVICE_NAME overrides <paramref name="service"/>.
    /// </summary>
    public static IDisposable? Tracing(CliContext context, string service)
    {
        try
        {
            return MeshTracing.Start(service, context.Get);
        }
        catch (ArgumentException e)
        {
            throw new InfraMindException(CliErrorCodes.UsageError, e.Message, "set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's http:// URL, e.g. http://127.0.0.1:4318", e);
        }
    }

    /// <summary>`--log-format text|json`: the readable default (<see cref="TextLogFormatter"/>), or one JSON object per line (<see cref="JsonLogFormatter"/>).</summary>
    public static Option<string> LogFormatOption()
    {
        var format = new Option<string>("--log-format")
        {
            Description = "Log lines as text (readable) or json (one object per line: timestamp, level, message, traceId, requestId, model, node, verdict, …); json turns logging on",
            DefaultValueFactory = _ => "text",
            HelpName = "text|json",
        };
        format.AcceptOnlyFromAmong("text", "json");
        return format;
    }

    /// <summary>`--spot-check-share`: the share of a deterministic model's requests a gateway also sends to a second node.</summary>
    public static Option<double> SpotCheckShareOption()
    {
        var share = new Option<double>("--spot-check-share")
        {
            Description = "Share (0-1) of answered requests to models declared deterministic: true that are also sent to a second node and compared; " +
                "a node that disagrees with two others is suspended (0 turns spot checks off)",
            DefaultValueFactory = _ => 0.02,
            HelpName = "SHARE",
        };
        share.Require(v => v is >= 0 and <= 1, "--spot-check-share must be between 0 and 1");
        return share;
    }

    /// <summary>`--log-payloads`: the gateway logs inputs and answers too (off by default: they are the users' data).</summary>
    public static Option<bool> LogPayloadsOption() =>
        new("--log-payloads") { Description = "Also log inference inputs and answers, and the answers quoted in failed attempts (cut at 4096 characters); off by default" };

    /// <summary>
    /// Logging on stderr (stdout stays for --json output), at Information, with the trace and span ids of each line's
    /// request; nothing at all without --verbose or --log-format json.
    /// </summary>
    public static Action<ILoggingBuilder>? Logging(bool verbose, string format = "text")
    {
        if (!verbose && format != "json") return null;
        return b =>
        {
            b.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
            if (format == "json")
            {
                b.AddConsole(o =>
                {
                    o.FormatterName = JsonLogFormatter.FormatterName;
                    o.LogToStandardErrorThreshold = LogLevel.Trace;
                }).AddConsoleFormatter<JsonLogFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
            }
            else
            {
                b.AddConsole(o =>
                {
                    o.FormatterName = TextLogFormatter.FormatterName;
                    o.LogToStandardErrorThreshold = LogLevel.Trace;
                }).AddConsoleFormatter<TextLogFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
            }

            // ASP.NET Core's own per-request lines repeat what the gateway's request log says; the host's lifetime
            // lines ("Application started. Press Ctrl+C to shut down.", the content root), once per server of a
            // process, repeat what infra prints of each server, and the content root means nothing to an operator.
            b.SetMinimumLevel(LogLevel.Information).AddFilter("Microsoft.AspNetCore", LogLevel.Warning).AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        };
    }

    /// <summary>Serves until Ctrl-C or SIGTERM; returns normally then, so the caller stops what it started.</summary>
    public static async Task WaitForStopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string ReadToken(string file, string hint)
    {
        if (!File.Exists(file)) throw new InfraMindException(MeshErrorCodes.TokenFileInvalid, $"no mesh token file at {file}", hint);
        string? read;
        try
        {
            read = MeshToken.Read(file);
        }
        catch (InvalidDataException e)
        {
            throw new InfraMindException(MeshErrorCodes.TokenFileInvalid, e.Message, hint);
        }

        var token = read ?? throw new InfraMindException(MeshErrorCodes.TokenFileInvalid, $"the mesh token file {file} is empty", hint);
        if (!MeshToken.IsWellFormed(token))
            throw new InfraMindException(MeshErrorCodes.TokenFileInvalid, $"{file} does not hold a mesh token (one line of at least 16 characters, no spaces)", hint);
        return token;
    }
}

/// <summary>The connection limits' flags of a serving command (<see cref="ServingHosts.ConnectionOptions"/>).</summary>
public sealed record ConnectionLimitOptions(Option<int> Max, Option<int> PerAddress)
{
    /// <summary>Every server's <see cref="ServerLimits"/> with the flags given.</summary>
    public ServerLimits Limits(ParseResult parse) => ServerLimits.Default with { MaxConnections = parse.GetValue(Max), MaxConnectionsPerAddress = parse.GetValue(PerAddress) };
}

using System.CommandLine;
using InfraMind.Cli.Commands.Serving;
using InfraMind.Manifest;
using InfraMind.Registry.Http;
using InfraMind.Serving.Tls;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra registry serve`: the model registry's HTTP API over the local data directory, for publishers who are strangers.</summary>
internal static class RegistryCommand
{
    public static Command Create(CliContext context)
    {
        var registry = new Command("registry", "The model registry (transparency log of signed publishes).");
        var port = ServingHosts.PortOption("--port", "Port to listen on (127.0.0.1 unless --listen)", 7400);
        var listen = ServingHosts.ListenOption();
        var data = new Option<string?>("--data") { Description = "Data directory (default $INFRAMIND_HOME/registry)" };
        var json = new Option<bool>("--json") { Description = "Once listening, print {registry, data, key, tlsFingerprint} as JSON (registry: the URL clients pass to --registry, with #sha256:HEX when it serves TLS)" };
        var tls = ServingTls.Options("registry.pfx", "clients pin its key: --registry https://HOST:PORT/#sha256:HEX (the registry URL --json prints)");
        var allowLocal = new Option<bool>("--allow-local-references")
        {
            Description = "Also accept file:// and local:// references, which resolve on this machine (only for a registry that serves this machine's own user)",
        };
        var fetchAllow = new Option<string[]>("--fetch-allow")
        {
            Description = "A network the registry may fetch publishers' content from although it is not public (loopback, private, link-local): a CIDR or an address; repeat for several. Also read from $" + ContentAccess.FetchAllowVariable,
            HelpName = "CIDR",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxImage = ContentAccess.MaxImageSizeOption("the registry");
        var perAddress = new Option<int>("--publish-rate-per-address")
        {
            Description = "Publishes one client address may send per minute, an IPv6 /64 counting as one (429 IM5104 beyond; 0: no limit)", DefaultValueFactory = _ => 60, HelpName = "N",
        };
        var perKey = new Option<int>("--publish-rate-per-key")
        {
            Description = "Publishes one publisher key may make per minute (429 IM5104 beyond; 0: no limit)", DefaultValueFactory = _ => 30, HelpName = "N",
        };
        var keepImages = new Option<string>("--keep-images")
        {
            Description = "Keep accepted publishes' images in this home's store (for nodes that share it) only while the store stays within SIZE; beyond, the entry is " +
                "logged all the same and its image not kept (nodes fetch it from its references). 0 keeps none",
            DefaultValueFactory = _ => "10Gi", HelpName = "SIZE",
        };
        var maxFetches = new Option<int>("--max-fetches")
        {
            Description = "Publishes whose content the registry checks at once, each fetch taking up to --max-image-size of staging space until it is kept or removed " +
                "(503 IM5114 with Retry-After beyond)",
            DefaultValueFactory = _ => 4, HelpName = "N",
        };
        maxFetches.Require(v => v is >= 1 and <= 1024, "--max-fetches must be between 1 and 1024");
        var minFreeDisk = ServingHosts.MinFreeDiskOption();
        var connections = ServingHosts.ConnectionOptions("the registry");
        foreach (var rate in new[] { perAddress, perKey })
            rate.Require(v => v >= 0, $"{rate.Name} must be 0 (no limit) or more");
        var serve = new Command("serve",
            "Serve the registry API on 127.0.0.1 until Ctrl-C. A publish is decided in this order, each step only after the one before passed: " +
            "the envelope (at most 1 MiB, IM5108; at most 4 signatures, IM5109), the publisher's signature, the per-address and per-key rates (IM5104), " +
            "ownership of the name and immutability of the version, the manifest (exactly the one its model.yaml produces), the references " +
            "(at most 8, remote and content-addressed: oci://…@sha256:, https://…#sha256=, ipfs://CID; IM5145/IM5146), and only then the content, " +
            "fetched into a throwaway area (public hosts only unless --fetch-allow, no redirect to another host, --max-image-size) and kept once the entry is logged, " +
            "while the store stays within --keep-images.\n" +
            "Off loopback it serves HTTPS by default (--plaintext: HTTP) with a self-signed certificate its clients pin.\n" +
            "Publishes stop (IM5153) while the data directory's disk has less than --min-free-disk free.\n" +
            "Exit codes: 0 stopped cleanly, 1 the log is damaged (IM5123) or the kept TLS certificate cannot be read (IM6047), 2 usage error, 4 the log is owned by another process (IM5126) or the port is taken (IM6021).")
        {
            port, listen, data, allowLocal, fetchAllow, maxImage, keepImages, maxFetches, minFreeDisk, connections.Max, connections.PerAddress, perAddress, perKey, json,
        };
        tls.AddTo(serve);
        serve.SetAction(async (parse, cancellationToken) =>
        {
            using var tracing = ServingHosts.Tracing(context, "inframind-registry");
            if (parse.GetValue(data) is { } given && File.Exists(given))
                throw new InfraMindException(CliErrorCodes.FileAccess, $"--data {given} is a file, not a directory",
                    "name a directory with --data (made where it does not exist), or leave --data out for $INFRAMIND_HOME/registry");
            var dir = InfraHome.Ensure(parse.GetValue(data) ?? context.Home.Registry);
            var maxBytes = ContentAccess.MaxImageBytes(parse, maxImage);
            var keepBytes = OptionRules.Bytes(parse, keepImages, "write a size such as 10Gi or 500Mi, or 0 to keep none", zeroAllowed: true);
            var floorBytes = ServingHosts.MinFreeDiskBytes(parse, minFreeDisk);
            var policy = ContentAccess.PublisherPolicy(context,
                parse.GetValue(fetchAllow)!.SelectMany(a => ContentAccess.ParseNetworks(a, "--fetch-allow")), parse.GetValue(allowLocal), maxBytes);
            var at = ListenAt.From(parse, listen, port);
            using var certificate = tls.Certificate(context, parse, at, "registry");
            await ServingTls.CheckAsync(context, at, null, certificate, "the registry", "publishes and the log");
            var options = new RegistryServerOptions(dir)
            {
                TlsCertificate = certificate,
                PublishesPerMinutePerAddress = parse.GetValue(perAddress),
                PublishesPerMinutePerKey = parse.GetValue(perKey),
                MaxAdmissionsInFlight = parse.GetValue(maxFetches),
                MinFreeDiskBytes = floorBytes,
                Limits = connections.Limits(parse),
            };
            await using var server = await ServingHosts.StartRegistryAsync(context, options, policy, at, cancellationToken, keepBytes);
            var pin = certificate is null ? null : MeshTls.Fingerprint(certificate);
            // The URL with its pin: what this machine's commands (through the announcement) and other hosts' --registry take.
            var address = TlsPins.With(server.Address, pin);
            var announcement = RegistryAccess.Announce(context.Home, address);
            if (parse.GetValue(json))
                CliJson.Write(context.Output, new { registry = address.ToString(), data = dir, key = server.Registry.PublicKey.Fingerprint, tlsFingerprint = pin });
            else
                context.Console.MarkupLine($"[green]✓[/] registry at [bold]{ConsoleText.Escape(address.ToString())}[/] (data {ConsoleText.Escape(dir)}, key {ConsoleText.Escape(server.Registry.PublicKey.Fingerprint)})");
            await context.Output.FlushAsync(CancellationToken.None);
            await ServingHosts.WaitForStopAsync(cancellationToken);
            File.Delete(announcement);
            return ExitCodes.Ok;
        });
        registry.Subcommands.Add(serve);
        return registry;
    }
}

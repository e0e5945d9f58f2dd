using System.CommandLine;
using InfraMind.Cli.Commands.Serving;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra registry serve`: the model registry's HTTP API over the local data directory.</summary>
internal static class RegistryCommand
{
    public static Command Create(CliContext context)
    {
        var registry = new Command("registry", "The model registry (transparency log of signed publishes).");
        var port = ServingHosts.PortOption("--port", "Port on 127.0.0.1", 7400);
        var data = new Option<string?>("--data") { Description = "Data directory (default $INFRAMIND_HOME/registry)" };
        var json = new Option<bool>("--json") { Description = "Once listening, print {registry, data, key} as JSON" };
        var serve = new Command("serve", "Serve the registry API on 127.0.0.1 until Ctrl-C.\n" +
            "Exit codes: 0 stopped cleanly, 1 the log is damaged (IM5123), 2 usage error, 4 the log is owned by another process (IM5126) or the port is taken (IM6021).")
        {
            port, data, json,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var dir = InfraHome.Ensure(parse.GetValue(data) ?? context.Home.Registry);
            await using var server = await ServingHosts.StartRegistryAsync(context, dir, parse.GetValue(port), cancellationToken);
            var announcement = RegistryAccess.Announce(context.Home, server.Address);
            if (parse.GetValue(json))
                CliJson.Write(context.Output, new { registry = server.Address.ToString(), data = dir, key = server.Registry.PublicKey.Fingerprint });
            else
                context.Console.MarkupLine($"[green]✓[/] registry at [bold]{Markup.Escape(server.Address.ToString())}[/] (data {Markup.Escape(dir)}, key {Markup.Escape(server.Registry.PublicKey.Fingerprint)})");
            await context.Output.FlushAsync(CancellationToken.None);
            await ServingHosts.WaitForStopAsync(cancellationToken);
            File.Delete(announcement);
            return ExitCodes.Ok;
        });
        registry.Subcommands.Add(serve);
        return registry;
    }
}

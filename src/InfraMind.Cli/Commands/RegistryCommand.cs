using System.CommandLine;
using InfraMind.Registry.Http;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra registry serve`: the model registry's HTTP API over the local data directory.</summary>
internal static class RegistryCommand
{
    public static Command Create(CliContext context)
    {
        var registry = new Command("registry", "The model registry (transparency log of signed publishes).");
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1", DefaultValueFactory = _ => 7400 };
        var data = new Option<string?>("--data") { Description = "Data directory (default $INFRAMIND_HOME/registry)" };
        var serve = new Command("serve", "Serve the registry API on 127.0.0.1 until Ctrl-C.\nExit codes: 0 stopped cleanly, 4 the log is owned by another process or the port is taken.")
        {
            port, data,
        };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            var dir = InfraHome.Ensure(parse.GetValue(data) ?? context.Home.Registry);
            await using var server = await StartAsync(context, dir, parse.GetValue(port), cancellationToken);
            var announcement = RegistryAccess.Announce(context.Home, server.Address);
            context.Console.MarkupLine($"[green]✓[/] registry at [bold]{Markup.Escape(server.Address.ToString())}[/] (data {Markup.Escape(dir)}, key {Markup.Escape(server.Registry.PublicKey.Fingerprint)})");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                File.Delete(announcement);
            }

            return ExitCodes.Ok;
        });
        registry.Subcommands.Add(serve);
        return registry;
    }

    public static async Task<RegistryServer> StartAsync(CliContext context, string dataDirectory, int port, CancellationToken cancellationToken)
    {
        try
        {
            return await RegistryServer.StartAsync(new RegistryServerOptions(dataDirectory, $"http://127.0.0.1:{port}") { Admission = Admission.ForRegistry(context) }, cancellationToken);
        }
        catch (InfraMind.Registry.RegistryException e)
        {
            throw VerifyCommand.ToCli(e);
        }
        catch (IOException e)
        {
            throw new CliException(MeshCommands.ListenFailed, $"cannot listen on 127.0.0.1:{port}: {e.Message}", "choose another --port", ExitCodes.Unavailable);
        }
    }
}

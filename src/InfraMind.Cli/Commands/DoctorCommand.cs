using System.CommandLine;
using InfraMind.Containers;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra doctor [--prune]`: is the engine there, and what did InfraMind leave running.</summary>
internal static class DoctorCommand
{
    public static Command Create(CliContext context)
    {
        var prune = new Option<bool>("--prune") { Description = "Remove every container and network InfraMind labelled (leftovers of killed runs)" };
        var json = new Option<bool>("--json") { Description = "Print the findings as JSON" };
        var command = new Command("doctor",
            "Check the container engine and the home directory; with --prune, remove InfraMind's leftover containers and networks.\n" +
            "Exit codes: 0 healthy, 3 container engine unavailable.")
        {
            prune, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
            PruneResult? removed = null;
            if (parse.GetValue(prune)) removed = await engine.PruneAsync(null, cancellationToken);
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    engine = engine.Endpoint.ToString(),
                    home = context.Home.Root,
                    removedContainers = removed?.Containers ?? [],
                    removedNetworks = removed?.Networks ?? [],
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] container engine answers at {Markup.Escape(engine.Endpoint.ToString())}");
                context.Console.MarkupLine($"  home: {Markup.Escape(context.Home.Root)}");
                if (removed is not null)
                    context.Console.MarkupLine($"  pruned {removed.Containers.Count} container(s) and {removed.Networks.Count} network(s)");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}

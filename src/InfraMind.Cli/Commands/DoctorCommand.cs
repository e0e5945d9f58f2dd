using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra doctor [--prune] [--repair]`: is the engine there, what did InfraMind leave running, is the local store whole.</summary>
internal static class DoctorCommand
{
    public static Command Create(CliContext context)
    {
        var prune = new Option<bool>("--prune") { Description = "Remove every container and network InfraMind labelled (leftovers of killed runs)" };
        var repair = new Option<bool>("--repair")
        {
            Description = "Make the local content store whole: remove staging areas of killed transfers and blobs that do not match their digest, and " +
                          "rebuild an unreadable index.json from the blobs (the damaged one is kept beside it; image names are lost, digests stay)",
        };
        var json = new Option<bool>("--json") { Description = "Print the findings as JSON" };
        var command = new Command("doctor",
            "Check the container engine and the home directory; with --prune, remove InfraMind's leftover containers and networks; " +
            "with --repair, repair the local content store first (it needs no engine).\n" +
            "Exit codes: 0 healthy, 1 the store could not be repaired, 3 container engine unavailable.")
        {
            prune, repair, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            StoreRepair? repaired = null;
            if (parse.GetValue(repair))
            {
                repaired = await new LocalContentStore(context.Home.Store).RepairAsync(cancellationToken);
                if (!parse.GetValue(json))
                {
                    context.Console.MarkupLine($"[green]✓[/] local store {Markup.Escape(context.Home.Store)}: {repaired.Images} image(s) listed" +
                        (repaired.IndexRebuilt ? $", index rebuilt from the blobs (the damaged one kept as {Markup.Escape(repaired.IndexBackup!)})" : "") +
                        $", {repaired.EntriesDropped} broken entr{(repaired.EntriesDropped == 1 ? "y" : "ies")} dropped, {repaired.BlobsRemoved} damaged blob(s) and " +
                        $"{repaired.StagingAreasRemoved} staging area(s) of killed transfers removed");
                }
            }

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
                    store = repaired,
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

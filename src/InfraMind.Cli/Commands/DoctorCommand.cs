using System.CommandLine;
using InfraMind.Containers;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra doctor [--prune] [--repair] [--image IMAGE]`: is the engine there, are runs isolated, what did InfraMind leave running, is the local store whole.</summary>
internal static class DoctorCommand
{
    /// <summary>On the throwaway container of the isolation check, so that a killed doctor's leftover is recognisable (and pruned).</summary>
    private const string CheckLabel = "org.inframind.doctor";

    public static Command Create(CliContext context)
    {
        var prune = new Option<bool>("--prune") { Description = "Remove every container and network InfraMind labelled (leftovers of killed runs)" };
        var repair = new Option<bool>("--repair")
        {
            Description = "Make the local content store whole: remove staging areas of killed transfers and blobs that do not match their digest, and " +
                          "rebuild an unreadable index.json from the blobs (the damaged one is kept beside it; image names are lost, digests stay)",
        };
        var image = new Option<string[]>("--image")
        {
            Description = "Image for the isolation check's throwaway container (it runs `sleep`); default: images InfraMind built",
            AllowMultipleArgumentsPerToken = false,
        };
        image.RequireImageName();
        var json = new Option<bool>("--json") { Description = "Print the findings as JSON" };
        var command = new Command("doctor",
            "Check the container engine, whether runs are isolated (a throwaway container is started with no network and " +
            "entered as every run is), and the home directory; with --prune, remove InfraMind's leftover containers and networks; " +
            "with --repair, repair the local content store first (it needs no engine).\n" +
            "Exit codes: 0 healthy, 1 the store could not be repaired or an --image is not in the engine (IM3006), 2 usage error, 3 container engine unavailable or isolation cannot be enforced (IM3009), 4 with --repair, the local store stayed locked by another infra process for 60 s (IM4203).")
        {
            prune, repair, image, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            StoreRepair? repaired = null;
            if (parse.GetValue(repair))
            {
                repaired = await new LocalContentStore(context.Home.Store).RepairAsync(cancellationToken);
                if (!parse.GetValue(json))
                    context.Console.MarkupLine($"[green]✓[/] {ConsoleText.Escape(Describe(context.Home.Store, repaired))}");
            }

            try
            {
                return await CheckEngineAsync();
            }
            catch (InfraMindException e) when (repaired is not null && parse.GetValue(json))
            {
                // The human view printed the repair above; the JSON view is the error object alone, so it says it there
                // (no engine, an --image it lacks, isolation it cannot enforce: each keeps its code).
                throw new ContainerEngineException(e.Code, $"{Describe(context.Home.Store, repaired)}; then: {e.Message}", e, e.Hint);
            }

            async Task<int> CheckEngineAsync()
            {
                using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
                // An image the user named is not skipped as one "that cannot run sleep": the check would pass unverified.
                foreach (var named in parse.GetValue(image) ?? [])
                {
                    if (!await engine.ImageExistsAsync(named, cancellationToken))
                        throw new ContainerEngineException(ContainerErrorCodes.ImageNotFound, $"--image {named} is not in the engine; doctor never pulls an image",
                            hint: "name an image the engine has (`docker image ls` lists them), build one with `infra build DIR`, or load one with `infra pull REFERENCE --load`");
                }

                PruneResult? removed = null;
                if (parse.GetValue(prune)) removed = await engine.PruneAsync(null, cancellationToken);
                var isolation = await engine.CheckIsolationAsync(parse.GetValue(image), new Dictionary<string, string> { [CheckLabel] = "isolation" }, cancellationToken);
                // Isolation that cannot be enforced is the failure this command exists to find: exit 3 with IM3009 (with --json,
                // the error object), after the human view has shown what was checked.
                var refused = isolation.Verified && !isolation.Enforced ? new IsolationUnsupportedException(engine.Endpoint, isolation.Detail) : null;
                if (parse.GetValue(json))
                {
                    if (refused is not null) throw refused;
                    CliJson.Write(context.Output, new
                    {
                        engine = engine.Endpoint.ToString(),
                        home = context.Home.Root,
                        isolation = new
                        {
                            enforced = isolation.Enforced,
                            verified = isolation.Verified,
                            image = isolation.Image,
                            interfaces = isolation.Interfaces,
                            detail = isolation.Detail,
                        },
                        removedContainers = removed?.Containers ?? [],
                        removedNetworks = removed?.Networks ?? [],
                        store = repaired,
                    });
                }
                else
                {
                    context.Console.MarkupLine($"[green]✓[/] container engine answers at {ConsoleText.Escape(engine.Endpoint.ToString())}");
                    var mark = isolation.Enforced ? "[green]✓[/]" : isolation.Verified ? "[red]✗[/]" : "[yellow]?[/]";
                    var what = isolation.Enforced ? "isolation enforced" : isolation.Verified ? "isolation NOT enforced" : "isolation not verified";
                    context.Console.MarkupLine($"{mark} {what}: {ConsoleText.Escape(isolation.Detail)}");
                    context.Console.MarkupLine($"  home: {ConsoleText.Escape(context.Home.Root)}");
                    if (removed is not null)
                        context.Console.MarkupLine($"  pruned {removed.Containers.Count} container(s) and {removed.Networks.Count} network(s)");
                    if (refused is not null) throw refused;
                }

                return ExitCodes.Ok;
            }
        });
        return command;
    }

    /// <summary>What a repair of the store at <paramref name="store"/> did, in one line.</summary>
    private static string Describe(string store, StoreRepair repaired) =>
        $"local store {store}: {repaired.Images} image(s) listed" +
        (repaired.IndexRebuilt ? $", index rebuilt from the blobs (the damaged one kept as {repaired.IndexBackup})" : "") +
        $", {repaired.EntriesDropped} broken entr{(repaired.EntriesDropped == 1 ? "y" : "ies")} dropped, {repaired.BlobsRemoved} damaged blob(s) and " +
        $"{repaired.StagingAreasRemoved} staging area(s) of killed transfers removed";
}

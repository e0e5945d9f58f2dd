using System.CommandLine;
using System.Diagnostics;
using InfraMind.Containers;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra pull REF [--load]`: fetch, verify every byte against the reference, store, optionally load into the engine.</summary>
internal static class PullCommand
{
    public static Command Create(CliContext context)
    {
        var reference = new Argument<string>("reference") { Description = "Content reference: " + ContentReference.ValidForms };
        var load = new Option<bool>("--load") { Description = "Also load the verified image into the container engine" };
        var json = new Option<bool>("--json") { Description = "Print {reference, imageDigest, size, configDigest, loaded} as JSON" };
        var command = new Command("pull",
            "Fetch an image by content reference, verify it (registry manifests against the @sha256 digest, every blob against the " +
            "manifest, https files against #sha256=), and store it in the local content store. Nothing is stored unless everything " +
            "verifies. ipfs://CID is fetched through the node's RPC API ($" + ContentAccess.IpfsApiVariable + ", default 127.0.0.1:5001) and " +
            "verified against the CID. An image index (multi-platform) gives this machine's platform's image. Registry credentials: " +
            ContentAccess.UserVariable + "/" + ContentAccess.PasswordVariable + ", else docker's config.json and credential helpers. " +
            "With --load, load it into the container engine.\n" +
            "Exit codes: 0 pulled, 1 content does not match its digest or is not a usable image, 2 usage error, " +
            "3 container engine unavailable (--load), 4 source unreachable or refused, 130 interrupted.")
        {
            reference, load, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var parsed = ContentReference.Parse(parse.GetValue(reference)!);
            var asJson = parse.GetValue(json);
            var resolver = ContentAccess.CreateResolver(context, [parsed]);
            var started = Stopwatch.GetTimestamp();
            var image = await ContentAccess.WithProgressAsync(context, asJson, progress => resolver.ResolveAsync(parsed, progress, cancellationToken));
            IReadOnlyList<string> loaded = [];
            if (parse.GetValue(load))
            {
                using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
                // The layout tar is written while the engine reads it: no copy of the image on disk or in memory.
                loaded = await image.ReadTarAsync(engine.LoadImageAsync, cancellationToken);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            if (asJson)
            {
                CliJson.Write(context.Output, new
                {
                    reference = parsed.ToString(),
                    imageDigest = image.ManifestDigest.Value,
                    size = image.Size,
                    configDigest = image.ConfigDigest.Value,
                    loaded,
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] pulled and verified {ConsoleText.Escape(parsed.ToString())} ({ContentAccess.Bytes(image.Size)} in {elapsed.TotalSeconds:0.0} s)");
                context.Output.WriteLine($"image digest: {image.ManifestDigest}");
                context.Output.WriteLine($"stored as:    local://{image.ManifestDigest}");
                foreach (var l in loaded) context.Output.WriteLine($"loaded:       {l}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}

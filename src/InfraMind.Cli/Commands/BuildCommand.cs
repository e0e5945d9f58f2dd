using System.CommandLine;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra build DIR`: validate, then build the image `name:version` labelled with the manifest digest.</summary>
internal static class BuildCommand
{
    public static Command Create(CliContext context)
    {
        var dir = new Argument<string>("dir") { Description = "Package directory", DefaultValueFactory = _ => "." };
        var json = new Option<bool>("--json") { Description = "Print {image, imageId, manifestDigest} as JSON" };
        var command = new Command("build",
            "Build a package's image, tagged NAME:VERSION and labelled with the manifest and context digests; streams the build output.\n" +
            "Exit codes: 0 built, 1 invalid package or failed build, 2 usage error, 3 container engine unavailable, 130 interrupted.")
        {
            dir, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var validation = ManifestReader.Validate(parse.GetValue(dir)!);
            var manifest = validation.EnsureValid();
            var asJson = parse.GetValue(json);
            using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
            var contextDigest = ImageIdentity.ContextDigest(validation.PackageDirectory);
            var labels = ImageIdentity.Labels(manifest, contextDigest);
            // Under --json the build's output goes to stderr, as push's and pull's progress does: stdout holds the document alone.
            var console = asJson ? context.ErrorConsole : context.Console;
            var progress = new SyncProgress<string>(line => { if (line.Trim().Length > 0) console.MarkupLine($"  [dim]{ConsoleText.Escape(line.TrimEnd())}[/]"); });
            var id = await engine.BuildImageAsync(validation.PackageDirectory, manifest.ImageTag, labels, progress, cancellationToken);
            new ImageIndex(context.Home.ImageIndex).RememberBuild(manifest, contextDigest, id);
            if (asJson) CliJson.Write(context.Output, new { image = manifest.ImageTag, imageId = id, manifestDigest = manifest.ManifestDigest });
            else context.Console.MarkupLine($"[green]✓[/] built {ConsoleText.Escape(manifest.ImageTag)} ({ConsoleText.Escape(id)})");
            return ExitCodes.Ok;
        });
        return command;
    }
}

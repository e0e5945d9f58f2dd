using System.CommandLine;
using System.Diagnostics;
using System.IO.Pipelines;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Oci;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra push [DIR | --image NAME:VERSION] --to TARGET`: export the image deterministically, store it, send it.</summary>
internal static class PushCommand
{
    public static Command Create(CliContext context)
    {
        var dir = new Argument<string?>("dir") { Description = "Package directory whose model.yaml names the image (default: .)", Arity = ArgumentArity.ZeroOrOne };
        var image = new Option<string?>("--image", "-i") { Description = "Image in the engine to push, NAME:VERSION (instead of a package directory)" };
        image.RequireImageName();
        var to = new Option<string>("--to", "-t")
        {
            Description = "Destination: " + ContentReference.ValidTargets,
            DefaultValueFactory = _ => "local",
        };
        var mountFrom = new Option<string?>("--mount-from") { Description = "Repository on the same registry to mount existing blobs from instead of uploading them (without it, blobs this store pushed to or pulled from another repository of the registry are mounted from there)" };
        var json = new Option<bool>("--json") { Description = "Print {reference, imageDigest, size} as JSON" };
        var command = new Command("push",
            "Export an image from the container engine as a deterministic OCI layout (layers gzip-compressed on all cores, the same bytes " +
            "on every export of the same image; its manifest digest is the container hash), " +
            "keep it in the local content store, and push it to the destination. Prints the content reference to publish, " +
            "pinned to the content: local://sha256:…, oci://HOST/REPO@sha256:…, https://…/HEX.tar#sha256=… (the file's digest).\n" +
            "Destinations: local (the store under $INFRAMIND_HOME/store); oci://HOST[:PORT]/REPO[:TAG] (OCI distribution registry; " +
            "tag defaults to the image version; plain http only to 127.0.0.1; credentials from " + ContentAccess.UserVariable + "/" +
            ContentAccess.PasswordVariable + ", else docker's config.json and credential helpers, as `docker login` left them); https://HOST/PATH/ (HTTP PUT of the layout tar, named HEX.tar when the path ends in /; " +
            "http:// only to 127.0.0.1); ipfs or ipfs://HOST:PORT (ipfs add --wrap-with-directory of the layout tar through the node's RPC API; " +
            "default $" + ContentAccess.IpfsApiVariable + " or 127.0.0.1:5001; the reference is ipfs://<directory CID>).\n" +
            "Exit codes: 0 pushed, 1 invalid package, image not in the engine, or DIR's NAME:VERSION image built from another model.yaml (IM5147), 2 usage error, 3 container engine unavailable, " +
            "4 destination unreachable or refused the upload, 130 interrupted.")
        {
            dir, image, to, mountFrom, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(dir) is { } given && parse.GetValue(image) is { } named)
                throw new InfraMindException(CliErrorCodes.UsageError, $"both a package directory ({given}) and --image {named}: push takes one or the other",
                    "write `infra push DIR` to push the image DIR's model.yaml names, or `infra push --image NAME:VERSION`");
            var target = ContentReference.ParseTarget(parse.GetValue(to) ?? "local");
            var package = parse.GetValue(image) is null ? ManifestReader.Validate(parse.GetValue(dir) ?? ".").EnsureValid() : null;
            string name = parse.GetValue(image) ?? package!.ImageTag;
            if (target is OciReference { Tag: null } oci && name.LastIndexOf(':') is int colon && colon > name.LastIndexOf('/'))
            {
                target = oci with { Tag = name[(colon + 1)..] };
            }

            var asJson = parse.GetValue(json);
            var resolver = ContentAccess.CreateResolver(context, [target], parse.GetValue(mountFrom));
            var started = Stopwatch.GetTimestamp();
            var result = await ContentAccess.WithProgressAsync(context, asJson, async progress =>
            {
                var archive = await ExportAsync(resolver.Store, name, progress, cancellationToken);
                // The package's NAME:VERSION may name an image built from another model.yaml of the same name and
                // version (a copy, built or tested since): refused here, not first at publish.
                if (package is not null)
                    Admission.CheckBinding($"{name} ({archive.ManifestDigest})", await Admission.LabelsAsync(archive, cancellationToken), package.ManifestDigest,
                        $"build the image from this package with `infra build {parse.GetValue(dir) ?? "."}` (or `infra test` it), then push again");
                return await resolver.PushAsync(archive, target, progress, cancellationToken);
            });
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (asJson)
            {
                CliJson.Write(context.Output, new { reference = result.Reference.ToString(), imageDigest = result.ManifestDigest.Value, size = result.Size });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] pushed {ConsoleText.Escape(name)} ({ContentAccess.Bytes(result.Size)} in {elapsed.TotalSeconds:0.0} s)");
                // Plain lines, never wrapped: these get copied into `infra publish` and scripts.
                context.Output.WriteLine($"reference:    {result.Reference}");
                context.Output.WriteLine($"image digest: {result.ManifestDigest}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// `docker save` → deterministic OCI layout in the local store, streamed through a pipe so the archive is never
    /// written to disk whole (the import hashes each blob as it spools it).
    /// </summary>
    private static async Task<ImageArchive> ExportAsync(LocalContentStore store, string name, IProgress<TransferProgress> progress, CancellationToken cancellationToken)
    {
        using var engine = await ContainerEngine.ConnectAsync(cancellationToken);
        if (await ReuseAsync(engine, store, name, cancellationToken) is { } stored)
        {
            progress.Report(new TransferProgress("export " + name, stored.Size, stored.Size, true, Skipped: true));
            return stored;
        }

        progress.Report(new TransferProgress("export " + name, 0, null, false));
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20));
        var save = Task.Run(async () =>
        {
            try
            {
                await engine.SaveImageAsync(name, new CountingStream(pipe.Writer.AsStream(leaveOpen: true), "export " + name, progress), cancellationToken);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception e)
            {
                // The reader sees the engine's own error (image not found…) instead of a truncated tar.
                await pipe.Writer.CompleteAsync(e);
            }
        }, cancellationToken);
        try
        {
            await using var input = pipe.Reader.AsStream(leaveOpen: true);
            var archive = await store.ImportDockerArchiveAsync(input, cancellationToken);
            progress.Report(new TransferProgress("export " + name, archive.Size, archive.Size, true));
            return archive;
        }
        finally
        {
            await pipe.Reader.CompleteAsync();
            await save;
        }
    }

    /// <summary>
    /// The image as stored by an earlier export, when the engine's image is still the same one. An equal config digest
    /// (= image id) fixes the layer tars (their diff_ids), and an export's manifest is built from exactly those,
    /// gzip-compressed deterministically, so the export would give the same bytes; anything else in the store (Docker
    /// media types, plain or zstd layers, as a pull or an older InfraMind left them) is exported afresh.
    /// </summary>
    private static async Task<ImageArchive?> ReuseAsync(ContainerEngine engine, LocalContentStore store, string name, CancellationToken cancellationToken)
    {
        if (await store.FindAsync(name, cancellationToken) is not { } stored
            || stored.ManifestMediaType != MediaTypes.OciManifest
            || stored.Image.Layers.Any(l => l.MediaType != MediaTypes.OciLayerTarGzip))
        {
            return null;
        }

        var images = await engine.FindImagesAsync(new Dictionary<string, string>(), cancellationToken);
        var id = images.FirstOrDefault(i => i.Tags.Contains(name))?.Id;
        return id == stored.ConfigDigest.Value ? stored : null;
    }

    /// <summary>Passes writes through, reporting the bytes written so far (the engine's save has no size up front).</summary>
    private sealed class CountingStream(Stream inner, string what, IProgress<TransferProgress> progress) : WriteOnlyStream(inner)
    {
        private long _lastReport = Environment.TickCount64;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Inner.WriteAsync(buffer, cancellationToken);
            Written += buffer.Length;
            if (Environment.TickCount64 - _lastReport >= 250)
            {
                _lastReport = Environment.TickCount64;
                progress.Report(new TransferProgress(what, Written, null, false));
            }
        }
    }
}

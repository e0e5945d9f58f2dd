using System.CommandLine;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Cli.Commands;

/// <summary>`infra cid FILE [--cid-version 0|1] [--wrap NAME] [--json]`: the CID `ipfs add --only-hash` would print.</summary>
internal static class CidCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "The file to hash (e.g. the output of `docker save`), or - for standard input" };
        var version = new Option<int>("--cid-version")
        {
            Description = "0: kubo's default `ipfs add` (Qm…, dag-pb leaves); 1: `ipfs add --cid-version 1` (b…, raw leaves)",
            DefaultValueFactory = _ => 0,
        };
        version.AcceptOnlyFromAmong("0", "1");
        var wrap = new Option<string?>("--wrap")
        {
            Description = "Wrap the file in a directory with NAME as its entry, as `ipfs add --wrap-with-directory` does for a file named NAME " +
                          "(the CID is then the directory's; use image.tar for `docker save img | ipfs add --wrap-with-directory`)",
            HelpName = "NAME",
        };
        wrap.Validators.Add(r =>
        {
            // "." and ".." are no file's name, and UnixFS takes neither as a link's name: no ipfs add makes that directory.
            if (r.GetValueOrDefault<string?>() is { } name && (name.Length == 0 || name is "." or ".." || name.Contains('/', StringComparison.Ordinal)))
                r.AddError($"--wrap takes a plain file name such as image.tar, not '{name}'");
        });
        var json = new Option<bool>("--json") { Description = "Print {cid, fileCid, size, dagSize, cidVersion, rawLeaves, wrap, command} as JSON" };
        var command = new Command("cid",
            "Compute the IPFS CID of a file locally, exactly as kubo's `ipfs add --only-hash` would (256 KiB chunks, balanced " +
            "layout, 174 links per node, sha2-256). Nothing is uploaded.\n" +
            "Exit codes: 0 ok, 2 usage error (e.g. the file does not exist or cannot be read).")
        {
            file, version, wrap, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            var fromStdin = path == "-";
            if (!fromStdin && Directory.Exists(path))
                throw new IpfsException(IpfsErrorCodes.FileUnreadable, $"{path} is a directory", hint: "pass a file; to hash an image, `docker save IMAGE | infra cid - --wrap image.tar`");
            if (!fromStdin && !File.Exists(path))
                throw new IpfsException(IpfsErrorCodes.FileUnreadable, $"{path} does not exist", hint: "pass the path of an existing file, or - for standard input");
            var options = (parse.GetValue(version) == 1 ? UnixFsOptions.KuboCidV1 : UnixFsOptions.KuboDefault) with { WrapName = parse.GetValue(wrap) };
            // Standard input lets `docker save IMAGE | infra cid - --wrap image.tar` mirror `… | ipfs add --wrap-with-directory`.
            UnixFsResult result;
            await using (var stream = fromStdin
                             ? Console.OpenStandardInput(1 << 20)
                             : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            {
                result = await UnixFsImporter.ComputeAsync(stream, options, cancellationToken);
            }

            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    cid = result.Root.ToString(),
                    fileCid = result.File.ToString(),
                    size = result.FileSize,
                    dagSize = result.DagSize,
                    cidVersion = options.CidVersion,
                    rawLeaves = options.EffectiveRawLeaves,
                    wrap = options.WrapName,
                    command = options.ToCommandLine(),
                });
            }
            else
            {
                await context.Output.WriteLineAsync(result.Root.ToString());
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}

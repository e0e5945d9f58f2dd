using System.CommandLine;
using InfraMind.Manifest;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra init NAME`: a complete, working package to start from.</summary>
internal static class InitCommand
{
    public static Command Create(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "Model name (lowercase DNS label, e.g. sentiment-v1)" };
        var protocol = new Option<string>("--protocol") { Description = "rest or grpc", DefaultValueFactory = _ => "rest" };
        protocol.AcceptOnlyFromAmong("rest", "grpc");
        var dir = new Option<string?>("--dir") { Description = "Directory to create (default ./NAME); must be empty or absent" };
        var json = new Option<bool>("--json") { Description = "Print {directory, files, valid} as JSON" };
        var command = new Command("init",
            "Create a model package: Dockerfile, model.yaml, serve.py (a real model: standard library only for rest; with grpcio, and inference_v2.json beside it, for grpc), hooks, README.\n" +
            "Exit codes: 0 created, 1 the directory is not empty, 2 usage error (an invalid name; a --dir that is a file or cannot be created, IM0005).")
        {
            name, protocol, dir, json,
        };
        command.SetAction(parse =>
        {
            var modelName = parse.GetValue(name)!;
            if (modelName.Length > 63 || !System.Text.RegularExpressions.Regex.IsMatch(modelName, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))
            {
                throw new InfraMindException(ManifestCodes.InvalidName, $"'{modelName}' is not a valid model name",
                    "use lowercase letters, digits and '-' (at most 63), starting and ending with a letter or digit");
            }

            var given = parse.GetValue(dir);
            if (given is not null && string.IsNullOrWhiteSpace(given))
                throw new InfraMindException(CliErrorCodes.FileAccess, "--dir is empty", "name the directory to create, or leave --dir out for ./NAME");
            var target = Path.GetFullPath(given ?? modelName);
            if (File.Exists(target))
                throw new InfraMindException(CliErrorCodes.FileAccess, $"{target} is a file; init creates a directory", "choose another --dir: a directory that is empty or absent");
            if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
                throw new InfraMindException(CliErrorCodes.InitDirectoryNotEmpty, $"{target} already exists and is not empty");
            CreateDirectory(target);

            var grpc = parse.GetValue(protocol) == "grpc";
            var files = PackageTemplate.Files(modelName, grpc);
            foreach (var (relative, content) in files)
            {
                var path = Path.Combine(target, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, content.ReplaceLineEndings("\n"));
                if (relative.EndsWith(".sh", StringComparison.Ordinal) || relative == "serve.py")
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                               UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                }
            }

            var validation = ManifestReader.Validate(target);
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new { directory = target, files = files.Keys.Order().ToArray(), valid = validation.IsValid });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] created {ConsoleText.Escape(target)} ({(grpc ? "grpc" : "rest")})");
                foreach (var f in files.Keys.Order()) context.Console.MarkupLine($"    {ConsoleText.Escape(f)}");
                context.Console.MarkupLine($"  next: [bold]infra validate {ConsoleText.Escape(target)}[/] then [bold]infra test --container {ConsoleText.Escape(target)}[/]");
            }

            return validation.IsValid ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    /// <summary>
    /// Creates <paramref name="target"/> and its parents; a path it cannot be made at is named with why (a file on the
    /// way, or a directory that takes no new entries), not in .NET's words ("Could not find file '/proc/nope'").
    /// </summary>
    private static void CreateDirectory(string target)
    {
        try
        {
            Directory.CreateDirectory(target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var existing = Path.GetDirectoryName(target);
            while (existing is not null && !Path.Exists(existing)) existing = Path.GetDirectoryName(existing);
            var why = existing is null ? "no part of the path exists"
                : File.Exists(existing) ? $"{existing} is a file, not a directory"
                : e is UnauthorizedAccessException ? $"{existing} does not let this user create entries in it"
                : $"{existing} takes no new directories";
            throw new InfraMindException(CliErrorCodes.FileAccess, $"cannot create {target}: {why}", "choose another --dir, in a directory you can write to", e);
        }
    }
}

using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra log`: the registry's entries in log order.</summary>
internal static class LogCommand
{
    public static Command Create(CliContext context)
    {
        var registry = new Option<string?>("--registry") { Description = "Registry URL (default: the local registry)" };
        var start = new Option<long>("--start") { Description = "First entry index", DefaultValueFactory = _ => 0 };
        var limit = new Option<int>("--limit") { Description = "Most entries to show (1-1000)", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print {size, entries[]} as JSON" };
        var command = new Command("log", "Show the registry's transparency log: every accepted publish, in order.\nExit codes: 0 ok, 2 usage error, 4 registry unavailable.")
        {
            registry, start, limit, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(limit) is < 1 or > 1000 || parse.GetValue(start) < 0)
                throw new CliException("IM0002", "use --start ≥ 0 and --limit between 1 and 1000", null, ExitCodes.Usage);
            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken);
            var (size, entries) = await VerifyCommand.GuardAsync(() => handle.Service.ListEntriesAsync(parse.GetValue(start), parse.GetValue(limit), cancellationToken));
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new { size, entries });
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("#", "model", "version", "image", "publisher", "integrated");
            foreach (var e in entries)
            {
                table.AddRow(e.Index.ToString(CultureInfo.InvariantCulture), Markup.Escape(e.Name), Markup.Escape(e.Version), Markup.Escape(e.ImageDigest[..19]) + "…",
                    Markup.Escape(e.Publisher[..19]) + "…", e.IntegratedAt.UtcDateTime.ToString("u", CultureInfo.InvariantCulture));
            }

            context.Console.Write(table);
            context.Console.MarkupLine($"{size} entries in {Markup.Escape(handle.Location)}");
            return ExitCodes.Ok;
        });
        return command;
    }
}

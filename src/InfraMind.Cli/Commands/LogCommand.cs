using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra log`: the registry's entries in log order.</summary>
internal static class LogCommand
{
    public static Command Create(CliContext context)
    {
        var registry = RegistryAccess.UrlOption();
        var start = new Option<long>("--start") { Description = "First entry index (≥ 0)", DefaultValueFactory = _ => 0 };
        start.Validators.Add(r => { if (r.GetValueOrDefault<long>() < 0) r.AddError("--start must be 0 or more"); });
        var limit = new Option<int>("--limit") { Description = "Most entries to show (1-1000)", DefaultValueFactory = _ => 100 };
        limit.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 1000) r.AddError("--limit must be between 1 and 1000"); });
        var json = new Option<bool>("--json") { Description = "Print {size, entries[]} as JSON" };
        var command = new Command("log",
            "Show the registry's transparency log: every accepted publish, in order.\n" +
            "Exit codes: 0 ok, 1 the log is damaged (IM5123), 2 usage error, 4 registry unavailable.")
        {
            registry, start, limit, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken);
            var (size, entries) = await handle.Service.ListEntriesAsync(parse.GetValue(start), parse.GetValue(limit), cancellationToken);
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new { size, entries });
                return ExitCodes.Ok;
            }

            var table = new Table().Border(TableBorder.Simple).AddColumns("#", "model", "version", "image", "publisher", "integrated");
            foreach (var e in entries)
            {
                table.AddRow(e.Index.ToString(CultureInfo.InvariantCulture), Markup.Escape(e.Name), Markup.Escape(e.Version), Markup.Escape(Short(e.ImageDigest)),
                    Markup.Escape(Short(e.Publisher)), e.IntegratedAt.UtcDateTime.ToString("u", CultureInfo.InvariantCulture));
            }

            context.Console.Write(table);
            context.Console.MarkupLine($"{size} entries in {Markup.Escape(handle.Location)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    // A registry over HTTP is not trusted to send well-formed digests: never index past what it sent.
    private static string Short(string digest) => digest.Length > 19 ? digest[..19] + "…" : digest;
}

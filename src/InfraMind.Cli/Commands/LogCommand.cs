using System.CommandLine;
using System.Globalization;
using InfraMind.Registry.Chain;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra log`: the registry's entries in log order; on an eth:// registry its events (publish, yank, transfer) in chain order.</summary>
internal static class LogCommand
{
    public static Command Create(CliContext context)
    {
        var registry = RegistryAccess.UrlOption();
        var start = new Option<long>("--start") { Description = "First entry index (≥ 0)", DefaultValueFactory = _ => 0 };
        start.Require(v => v >= 0, "--start must be 0 or more");
        var limit = new Option<int>("--limit") { Description = "Most entries to show (1-1000)", DefaultValueFactory = _ => 100 };
        limit.Require(v => v is >= 1 and <= 1000, "--limit must be between 1 and 1000");
        var json = new Option<bool>("--json") { Description = "Print {size, entries[]} as JSON; on an eth:// registry {registry, head, events[]}" };
        var command = new Command("log",
            "Show the registry's transparency log: every accepted publish, in order. On an eth:// registry: the contract's events from its deployment block " +
            "(published, yanked, transferred) in chain order; --start and --limit count events.\n" +
            "Exit codes: 0 ok, 1 the log is damaged (IM5123), or an eth:// address is on another chain (IM5702), holds no contract (IM5703) or another one (IM5704), 2 usage error, 4 registry or chain node unavailable.")
        {
            registry, start, limit, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (ChainAccess.IsChain(parse.GetValue(registry)))
                return await ChainEventsAsync(context, parse.GetValue(registry)!, parse.GetValue(start), parse.GetValue(limit), parse.GetValue(json), cancellationToken);
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
                table.AddRow(e.Index.ToString(CultureInfo.InvariantCulture), ConsoleText.Escape(e.Name), ConsoleText.Escape(e.Version), ConsoleText.Escape(Short(e.ImageDigest)),
                    ConsoleText.Escape(Short(e.Publisher)), e.IntegratedAt.UtcDateTime.ToString("u", CultureInfo.InvariantCulture));
            }

            context.Console.Write(table);
            context.Console.MarkupLine($"{size} entries in {ConsoleText.Escape(handle.Location)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> ChainEventsAsync(CliContext context, string url, long start, int limit, bool asJson, CancellationToken cancellationToken)
    {
        using var chain = await ChainModelRegistry.ConnectAsync(url, null, cancellationToken);
        var events = new List<ChainEvent>();
        long seen = 0;
        var head = await ChainAccess.ReadEventsAsync(context, chain, e =>
        {
            if (seen++ >= start) events.Add(e);
            return events.Count < limit;
        }, cancellationToken);
        if (asJson)
        {
            CliJson.Write(context.Output, new { registry = chain.Address.ToString(), head, events = events.Select(Json) });
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Simple).AddColumns("block", "event", "model", "version", "image", "by", "transaction");
        foreach (var e in events)
        {
            var (what, name, version, image, by) = e switch
            {
                ChainEvent.Published p => ("published", p.Record.Name, p.Record.Version, Short(p.Record.Record.ImageDigest), p.Record.Publisher),
                ChainEvent.Yanked y => ("yanked", y.Name, y.Version, y.Reason, y.Owner),
                ChainEvent.Transferred t => ("transferred", t.Name, "", $"to {t.To}", t.From),
                _ => ("?", "", "", "", ""),
            };
            table.AddRow(e.BlockNumber.ToString(CultureInfo.InvariantCulture), what, ConsoleText.Escape(name), ConsoleText.Escape(version), ConsoleText.Escape(image), ConsoleText.Escape(by), ConsoleText.Escape(Short(e.TransactionHash)));
        }

        context.Console.Write(table);
        context.Console.MarkupLine($"{events.Count} events from block {chain.DeployedAt} to {head} in {ConsoleText.Escape(chain.Address.ToString())}");
        return ExitCodes.Ok;
    }

    private static object Json(ChainEvent e) => e switch
    {
        ChainEvent.Published p => new
        {
            type = "published", block = e.BlockNumber, txHash = e.TransactionHash, logIndex = e.LogIndex, name = p.Record.Name, version = p.Record.Version,
            imageDigest = p.Record.Record.ImageDigest, manifestDigest = p.Record.Record.ManifestDigest, endpointId = p.Record.Record.EndpointId,
            statementDigest = p.Record.Record.StatementDigest, statementUri = p.Record.Record.StatementUri, publisher = p.Record.Publisher,
            timestamp = (DateTimeOffset?)p.Record.Timestamp,
        },
        ChainEvent.Yanked y => (object)new { type = "yanked", block = e.BlockNumber, txHash = e.TransactionHash, logIndex = e.LogIndex, name = y.Name, version = y.Version, reason = y.Reason, owner = y.Owner },
        ChainEvent.Transferred t => new { type = "transferred", block = e.BlockNumber, txHash = e.TransactionHash, logIndex = e.LogIndex, name = t.Name, from = t.From, to = t.To },
        _ => new { type = "unknown", block = e.BlockNumber, txHash = e.TransactionHash, logIndex = e.LogIndex },
    };

    // A registry over HTTP is not trusted to send well-formed digests: never index past what it sent.
    private static string Short(string digest) => digest.Length > 19 ? digest[..19] + "…" : digest;
}

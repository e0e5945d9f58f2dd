using System.CommandLine;
using InfraMind.Manifest;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra validate [DIR|FILE]`: every finding about a package, in one run.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliContext context)
    {
        var path = new Argument<string>("path")
        {
            Description = "Package directory or model.yaml file",
            DefaultValueFactory = _ => ".",
        };
        var json = new Option<bool>("--json") { Description = "Print {valid, manifestDigest, errors, warnings, errorCount, warningCount} as JSON (at most 100 findings listed, then IM1014 with the count of the rest)" };
        var command = new Command("validate",
            "Validate a model package: model.yaml fields, JSON Schemas (draft-07), hook and entrypoint paths, Dockerfile.\n" +
            "Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage error (e.g. the path does not exist).")
        {
            path, json,
        };
        command.SetAction(parse =>
        {
            var result = ManifestReader.Validate(parse.GetValue(path)!);
            if (parse.GetValue(json)) WriteJson(context, result);
            else WriteHuman(context, result);
            return result.PathMissing ? ExitCodes.Usage : result.IsValid ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    internal static object ToJson(ManifestValidation result) => new
    {
        valid = result.IsValid,
        manifestDigest = result.ManifestDigest,
        manifest = result.ManifestPath,
        name = result.Name,
        version = result.Version?.ToString(),
        errors = result.Errors.Select(d => d.ToJson()).ToArray(),
        warnings = result.Warnings.Select(d => d.ToJson()).ToArray(),
        // Every finding, listed or not: errors[] and warnings[] hold at most 100 in all, then IM1014 counting the rest.
        errorCount = result.ErrorCount,
        warningCount = result.WarningCount,
    };

    private static void WriteJson(CliContext context, ManifestValidation result) => CliJson.Write(context.Output, ToJson(result));

    internal static void WriteHuman(CliContext context, ManifestValidation result)
    {
        var console = context.Console;
        var errors = result.Errors.ToList();
        var warnings = result.Warnings.ToList();
        if (result.IsValid)
        {
            var m = result.Manifest!;
            console.MarkupLine($"[green]✓[/] {ConsoleText.Escape(result.ManifestPath)} is valid: [bold]{ConsoleText.Escape(m.Name)}[/] {ConsoleText.Escape(m.Version.ToString())}" +
                               $" ({m.Protocol.ToString().ToLowerInvariant()} on port {m.Port})");
        }
        else
        {
            // Which model it is, whenever its name or version reads: the rest of the manifest may be what is wrong.
            var model = string.Join(' ', new[] { result.Name, result.Version?.ToString() }.OfType<string>());
            console.MarkupLine($"[red]✗[/] {ConsoleText.Escape(result.ManifestPath)}{(model.Length > 0 ? $" ([bold]{ConsoleText.Escape(model)}[/])" : "")}: {ManifestValidation.Plural(result.ErrorCount, "error")}" +
                               (result.WarningCount > 0 ? $", {ManifestValidation.Plural(result.WarningCount, "warning")}" : ""));
        }

        if (result.ManifestDigest is { } digest) console.MarkupLine($"  manifest digest: {digest}");
        Section(console, "error", "red", errors);
        Section(console, "warning", "yellow", warnings);
    }

    private static void Section(IAnsiConsole console, string label, string colour, List<ManifestDiagnostic> items)
    {
        foreach (var group in items.GroupBy(d => d.File))
        {
            console.MarkupLine($"  [bold]{ConsoleText.Escape(group.Key)}[/]");
            // Already in file order (ManifestValidation.Errors/Warnings: line, column, and IM1014 last); a group keeps it.
            foreach (var d in group)
            {
                var where = d.Line > 0 ? $"{d.Line}:{d.Column}" : "-";
                console.MarkupLine($"    [{colour}]{label} {d.Code}[/] {ConsoleText.Escape(where)} {ConsoleText.Escape(d.Message)}" +
                                   (d.Path.Length > 0 ? $" [dim]({ConsoleText.Escape(d.Path)})[/]" : ""));
                if (d.Hint.Length > 0) console.MarkupLine($"        [dim]fix:[/] {ConsoleText.Escape(d.Hint)}");
            }
        }
    }
}

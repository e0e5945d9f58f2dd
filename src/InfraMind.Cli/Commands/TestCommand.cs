using System.CommandLine;
using System.Globalization;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra test --container DIR`: build (or reuse), start, hooks, readiness, synthetic cases, report, clean up.</summary>
internal static class TestCommand
{
    public static Command Create(CliContext context)
    {
        var container = new Option<string?>("--container", "-c") { Description = "Package directory to test (Dockerfile + model.yaml)" };
        var dirArgument = new Argument<string?>("dir") { Description = "Package directory (same as --container; default: the current directory)", Arity = ArgumentArity.ZeroOrOne };
        var cases = new Option<int>("--cases") { Description = "Number of valid synthetic inputs (1-1000)", DefaultValueFactory = _ => 10 };
        cases.Require(v => v is >= 1 and <= 1000, "--cases must be between 1 and 1000");
        var seed = new Option<int>("--seed") { Description = "Seed of the synthetic inputs (same seed, same inputs)", DefaultValueFactory = _ => 1 };
        var timeout = new Option<string?>("--timeout")
        {
            Description = "Time the port has to accept after init, as model.yaml's timeout: 500ms, 3s, 2m or seconds, at most 10m " +
                          "(default: the manifest's timeout, else 3s)",
            HelpName = "DURATION",
        };
        var requestTimeout = new Option<double>("--request-timeout") { Description = "Seconds each request may take (at most 3600)", DefaultValueFactory = _ => 10 };
        requestTimeout.Require(v => v is > 0 and <= 3600, "--request-timeout must be more than 0 and at most 3600 seconds");
        var maxResponse = new Option<string>("--max-response")
        {
            Description = "Most of an answer that is read, a quantity from 1Ki to 1Gi; a longer answer is cut off there and judged response-too-large",
            HelpName = "QUANTITY",
            DefaultValueFactory = _ => "16Mi",
        };
        maxResponse.Validators.Add(r =>
        {
            if (MaxResponseBytes(r.GetValueOrDefault<string>(), out var error) is null) r.AddError($"--max-response: {error}");
        });
        var noNegative = new Option<bool>("--no-negative") { Description = "Skip the invalid inputs that must get a 4xx" };
        var rebuild = new Option<bool>("--rebuild") { Description = "Build even when an image of the same manifest and context exists" };
        var report = new Option<string[]>("--report")
        {
            Description = "Write a report: --report json FILE or --report junit FILE",
            Arity = new ArgumentArity(2, 2),
            AllowMultipleArgumentsPerToken = true,
        };
        report.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string[]>() is { Length: 2 } given && given[0] is not ("json" or "junit"))
                r.AddError($"unknown report format '{given[0]}': use --report json FILE or --report junit FILE");
        });
        var json = new Option<bool>("--json") { Description = "Print the report as JSON instead of the console view" };
        var command = new Command("test",
            "Test a model container the way nodes will: build or reuse its image, start it isolated (no network), run init, wait for its port, " +
            "run warmup and healthcheck, send synthetic inputs from input_schema and check each answer against output_schema.\n" +
            "Exit codes: 0 all passed, 1 the model failed, 2 usage error, 3 container engine unavailable or unable to isolate runs, 130 interrupted.")
        {
            dirArgument, container, cases, seed, timeout, requestTimeout, maxResponse, noNegative, rebuild, report, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            // No package named: the current directory, as validate, build and push take it.
            var dir = parse.GetValue(container) ?? parse.GetValue(dirArgument) ?? ".";
            // Both forms name the package: two different ones would test one and silently drop the other.
            if (parse.GetValue(dirArgument) is { } positional && parse.GetValue(container) is { } named &&
                !string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(positional)),
                    Path.TrimEndingDirectorySeparator(Path.GetFullPath(named)), StringComparison.Ordinal))
            {
                throw new InfraMindException(CliErrorCodes.UsageError, $"two packages given: {positional} and --container {named}",
                    "name one package directory, either as the argument or with --container");
            }
            if (File.Exists(dir))
            {
                // A package is built from its directory (model.yaml, Dockerfile, hooks): named by one of its files, say which.
                var parent = Path.GetDirectoryName(Path.GetFullPath(dir)) ?? ".";
                throw new InfraMindException(CliErrorCodes.UsageError, $"{dir} is a file; infra test takes the package's directory",
                    $"pass the directory that holds model.yaml and the Dockerfile: infra test --container {Path.GetRelativePath(Environment.CurrentDirectory, parent)}");
            }

            if (!Directory.Exists(dir))
                throw new InfraMindException(ManifestCodes.PathNotFound, $"{dir} does not exist", "pass the package directory (with model.yaml and Dockerfile)");
            var reportArgs = parse.GetValue(report);
            // Before anything is built or started: a report that cannot be written would lose the whole run's result at its end.
            if (reportArgs is { Length: 2 }) CheckReportDestination(reportArgs[0], reportArgs[1]);
            var options = new ConformanceOptions
            {
                Cases = parse.GetValue(cases),
                Seed = parse.GetValue(seed),
                ReadinessTimeout = ReadinessTimeout(parse.GetValue(timeout)),
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(requestTimeout)),
                MaxResponseBytes = MaxResponseBytes(parse.GetValue(maxResponse), out _) ?? ModelAnswer.DefaultBodyLimit,
                NegativeCases = !parse.GetValue(noNegative),
                Rebuild = parse.GetValue(rebuild),
                ImageIndex = new ImageIndex(context.Home.ImageIndex),
            };

            var asJson = parse.GetValue(json);
            // Connected on another thread while the manifest is validated; a package whose manifest is invalid is
            // reported without waiting for (or needing) an engine.
            var connecting = Task.Run(() => ContainerEngine.ConnectAsync(cancellationToken), cancellationToken);
            try
            {
                // Under --json the steps and cases go to stderr, as push's and pull's progress does: stdout holds the report alone.
                var view = new ConsoleView(asJson ? context.ErrorConsole : context.Console);
                var result = await new ConformanceRunner(connecting, view).RunPackageAsync(dir, options, cancellationToken);
                if (reportArgs is { Length: 2 })
                {
                    await File.WriteAllTextAsync(reportArgs[1], reportArgs[0] == "json" ? ReportWriter.ToJson(result) : ReportWriter.ToJUnit(result), CancellationToken.None);
                }

                if (asJson) await context.Output.WriteLineAsync(ReportWriter.ToJson(result));
                else Summary(context.Console, result, dir);
                return result.Passed ? ExitCodes.Ok : ExitCodes.Failed;
            }
            finally
            {
                if (connecting.IsCompletedSuccessfully) connecting.Result.Dispose();
            }
        });
        return command;
    }

    /// <summary>
    /// --report's FILE can be written: it is not a directory, its directory exists, and that directory (or FILE, when
    /// it exists and has content) takes a write. Checked by doing it, as nothing else tells (root, a read-only mount):
    /// a file of its own made in the directory and removed, or FILE opened for writing and left unchanged. IM0005 when not.
    /// </summary>
    private static void CheckReportDestination(string format, string file)
    {
        var full = Path.GetFullPath(file);
        if (Directory.Exists(full))
            throw new InfraMindException(CliErrorCodes.FileAccess, $"--report {file}: {full} is a directory", $"name the report's file: --report {format} DIR/report.{(format == "junit" ? "xml" : "json")}");
        var directory = Path.GetDirectoryName(full) ?? full;
        if (!Directory.Exists(directory))
        {
            throw File.Exists(directory)
                ? new InfraMindException(CliErrorCodes.FileAccess, $"--report {file}: {directory} is not a directory", "name a report file in a directory")
                : new InfraMindException(CliErrorCodes.FileAccess, $"--report {file}: the directory {directory} does not exist",
                    "create it first (`mkdir -p`), or name a report file in a directory that exists");
        }

        try
        {
            // An existing FILE of length 0 may be a FIFO or a device, whose opening can block: the directory is tried instead.
            if (File.Exists(full) && new FileInfo(full).Length > 0)
            {
                using var existing = new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            }
            else
            {
                using var probe = new FileStream(Path.Combine(directory, $".infra-report-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.Write,
                    FileShare.None, 1, FileOptions.DeleteOnClose);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InfraMindException(CliErrorCodes.FileAccess, $"--report {file}: cannot write to {(File.Exists(full) ? full : directory)}: {e.Message}",
                "name a report file where you may write (check the permissions, and that the disk is not full or mounted read-only)", e);
        }
    }

    /// <summary>--timeout under the rule of model.yaml's `timeout` (one rule, <see cref="Quantity.TryParseTimeout(string, out TimeSpan, out string)"/>), and its code.</summary>
    private static TimeSpan? ReadinessTimeout(string? text) =>
        text is null ? null
        : Quantity.TryParseTimeout(text, out var value, out var error) ? value
        : throw new InfraMindException(ManifestCodes.InvalidTimeout, $"--timeout: {error}", "write e.g. 3s, 500ms or 2m, as model.yaml's timeout");

    /// <summary>--max-response as a number of bytes (1Ki to 1Gi), or null with why not.</summary>
    private static long? MaxResponseBytes(string? text, out string error)
    {
        if (!Quantity.TryParseBytes(text ?? "", out var bytes, out error)) return null;
        if (bytes is >= 1024 and <= 1L << 30) return bytes;
        error = $"'{text}' is outside 1Ki to 1Gi";
        return null;
    }

    /// <summary>Most characters of a failed case's request the console quotes; --json and --report keep what the run recorded.</summary>
    internal const int RequestShown = 200;

    /// <summary>
    /// The run's table and verdict. <paramref name="directory"/> (the package as given) names a package whose
    /// model.yaml did not validate: it has no model name or version to show.
    /// </summary>
    internal static void Summary(IAnsiConsole console, ConformanceReport report, string directory)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("step").AddColumn("result").AddColumn("detail").AddColumn(new TableColumn("time").RightAligned());
        foreach (var s in report.Steps)
            table.AddRow(ConsoleText.Escape(s.Step), Status(s.Status, s.Verdict), ConsoleText.Escape(s.Detail), $"{s.Duration.TotalMilliseconds:0} ms");
        console.Write(table);
        var positives = report.Cases.Where(c => c.Positive).ToList();
        var passedCases = report.Cases.Count(c => c.Status == CheckStatus.Passed);
        if (report.Passed)
        {
            console.MarkupLine($"[green]PASSED[/] {ConsoleText.Escape(report.Model)} {ConsoleText.Escape(report.Version ?? "")}: {passedCases}/{report.Cases.Count} cases " +
                               $"({positives.Count} valid, {report.Cases.Count - positives.Count} invalid) in {report.Duration.TotalSeconds:0.0} s");
        }
        else
        {
            var what = report.Version is { } version ? $"{report.Model} {version}" : Shown(directory);
            console.MarkupLine($"[red]FAILED[/] {ConsoleText.Escape(what)}: {ConsoleText.Escape(string.Join(", ", report.Verdicts))}");
            foreach (var c in report.Cases.Where(c => c.Status == CheckStatus.Failed).Take(10))
            {
                console.MarkupLine($"  [red]{ConsoleText.Escape(c.Verdict?.WireName ?? "failed")}[/] case {ConsoleText.Escape(c.Name)}: {ConsoleText.Escape(c.Detail)}");
                // A boundary case's request of thousands of characters would bury the failures after it.
                var request = c.RequestLength > RequestShown
                    ? TerminalText.Shorten(c.Request, RequestShown) + string.Create(CultureInfo.InvariantCulture, $" ({c.RequestLength:N0} characters)")
                    : c.Request;
                console.MarkupLine($"    [dim]request:[/] {ConsoleText.Escape(request)}");
                if (c.Response is not null) console.MarkupLine($"    [dim]answer:[/] {ConsoleText.Escape(c.Response)}");
            }
        }
    }

    /// <summary>A package directory as a path in a line: ./NAME for one under the current directory, else as given.</summary>
    private static string Shown(string directory)
    {
        var trimmed = Path.TrimEndingDirectorySeparator(directory);
        return Path.IsPathRooted(trimmed) || trimmed is "." or ".." || trimmed.StartsWith("./", StringComparison.Ordinal) ||
               trimmed.StartsWith("../", StringComparison.Ordinal)
            ? trimmed
            : $"./{trimmed}";
    }

    private static string Status(CheckStatus status, InfraMind.Serving.Verdict? verdict) => status switch
    {
        CheckStatus.Passed => "[green]passed[/]",
        CheckStatus.Skipped => "[dim]skipped[/]",
        _ => $"[red]{ConsoleText.Escape(verdict?.WireName ?? "failed")}[/]",
    };

    /// <summary>Live progress: one line per step and case as they happen (on stderr under `--json`, so that stdout holds the report alone).</summary>
    internal sealed class ConsoleView(IAnsiConsole console) : IProgress<ConformanceEvent>
    {
        public void Report(ConformanceEvent value)
        {
            switch (value)
            {
                case StepStarted s:
                    console.MarkupLine($"[blue]▶[/] {ConsoleText.Escape(s.Step)}: {ConsoleText.Escape(s.Description)}");
                    break;
                case BuildOutput b when b.Line.Trim().Length > 0:
                    console.MarkupLine($"    [dim]{ConsoleText.Escape(b.Line.TrimEnd())}[/]");
                    break;
                case StepFinished f:
                    var mark = f.Result.Status switch { CheckStatus.Passed => "[green]✓[/]", CheckStatus.Skipped => "[dim]-[/]", _ => "[red]✗[/]" };
                    // A detail of several lines (a hook's output) goes on indented, under its step, not at the margin as if it were a step.
                    console.MarkupLine($"{mark} {ConsoleText.Escape(f.Result.Step)}: {ConsoleText.Escape(f.Result.Detail).ReplaceLineEndings("\n    ")}");
                    break;
                case CaseFinished c:
                    var m = c.Result.Status == CheckStatus.Passed ? "[green]✓[/]" : "[red]✗[/]";
                    // A gRPC model's own status (its HTTP equivalent is what the judge reads, not what it said).
                    var said = c.Result.GrpcStatus is { } grpc ? $"{grpc,-16}" : c.Result.StatusCode?.ToString(CultureInfo.InvariantCulture) ?? "---";
                    console.MarkupLine($"    {m} {(c.Result.Positive ? "valid  " : "invalid")} {ConsoleText.Escape(c.Result.Name),-28} {said} {c.Result.LatencyMs,8:0.0} ms" +
                                       (c.Result.Status == CheckStatus.Passed ? "" : $"  [red]{ConsoleText.Escape(c.Result.Verdict?.WireName ?? "")}[/]"));
                    break;
            }
        }
    }
}

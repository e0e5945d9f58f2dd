using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InfraMind.Cli;

/// <summary>
/// The one map from a failure to what the user gets: the exit code (the code's <see cref="FailureKind"/>), the
/// <c>error IMnnnn: message</c> and <c>hint:</c> lines on stderr, and with <c>--json</c> the object
/// <c>{"error": {"code", "message", "hint"}}</c> on stdout. <see cref="InfraCli.RunAsync"/> calls it once for every
/// command, so a verb throws and writes no catch block for a documented failure.
/// </summary>
/// <remarks>
/// An exception that carries no code is a defect of infra: it is reported as <see cref="CliErrorCodes.Internal"/>
/// (exit 70) in one line naming the exception's type and message; its stack trace goes to a file under
/// <c>$INFRAMIND_HOME/logs</c> that the hint names, never to the terminal.
/// </remarks>
internal sealed partial record FailureReport(ErrorCode Code, string Message, string? Hint)
{
    public int ExitCode => (int)Code.Kind;

    /// <summary>What the user gets for <paramref name="exception"/>, whatever it is.</summary>
    public static FailureReport From(Exception exception, InfraHome home, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            InfraMindException e => new FailureReport(e.Code, e.Message, e.Hint),
            // A timeout that a library did not turn into its own coded error is a defect, not an interruption.
            OperationCanceledException { InnerException: not TimeoutException } => new FailureReport(CliErrorCodes.Interrupted, "interrupted", null),
            UnauthorizedAccessException or DirectoryNotFoundException or FileNotFoundException or PathTooLongException
                => FileAccess(exception, home),
            IOException when exception.GetType() == typeof(IOException) => FileAccess(exception, home),
            _ => Internal(exception, home, args),
        };
    }

    /// <summary>
    /// A file that could not be read or written, in the system's words; when infra's home is a file (INFRAMIND_HOME set
    /// to one), that is said first, as nothing under it can be.
    /// </summary>
    private static FailureReport FileAccess(Exception exception, InfraHome home) =>
        File.Exists(home.Root)
            ? new FailureReport(CliErrorCodes.FileAccess, $"${InfraHome.Variable} is {home.Root}, a file, not a directory: {exception.Message}",
                $"point {InfraHome.Variable} at a directory (infra makes it where it does not exist), or unset it for ~/.inframind")
            : new FailureReport(CliErrorCodes.FileAccess, exception.Message, CliErrorCodes.FileAccess.DefaultHint);

    /// <summary>The command line did not parse: every parse error in one message, and the help to read.</summary>
    public static FailureReport Usage(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var errors = parse.Errors.Select(e => e.Message.StartsWith("Required argument missing", StringComparison.Ordinal) && MissingArguments(parse) is { Length: > 0 } missing
            ? $"{CommandPath(parse.CommandResult.Command)} needs {missing}"
            : UsageMessage(e.Message.TrimEnd('.'))).ToList();
        // An unknown option taken for a command's argument is the error, whatever else followed from it.
        if (AbsorbedOption(parse) is { } option)
            errors = [$"unknown option '{option}' (a path that starts with '-' is written ./{option})", .. errors.Where(e => !e.Contains("Unrecognized command or argument", StringComparison.Ordinal))];
        return new FailureReport(CliErrorCodes.UsageError, string.Join("; ", errors), $"see `{CommandPath(parse.CommandResult.Command)} --help`");
    }

    /// <summary>
    /// The command's required arguments the line left out, as its usage writes them, each with its description
    /// ("its NAME argument: Model name …"); System.CommandLine names only the command ("Required argument missing for
    /// command: 'init'").
    /// </summary>
    private static string MissingArguments(ParseResult parse) =>
        string.Join("; ", parse.CommandResult.Command.Arguments
            .Where(a => !a.Hidden && a.Arity.MinimumNumberOfValues > 0 && parse.CommandResult.GetResult(a) is not { Tokens.Count: > 0 })
            .Select(a => $"its {a.Name.ToUpperInvariant()} argument" + (string.IsNullOrEmpty(a.Description) ? "" : $": {a.Description}")));

    /// <summary>
    /// A token that looks like an option (<c>--bogus</c>) but that no option of the command takes, which
    /// System.CommandLine then binds to the command's free argument (<c>infra validate --json --bogus</c> validated a
    /// package named "--bogus"); null when there is none. Tokens after <c>--</c> are arguments as written.
    /// </summary>
    internal static string? AbsorbedOption(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var tokens = parse.Tokens.ToList();
        var doubleDash = tokens.FindIndex(t => t.Type == TokenType.DoubleDash);
        var free = parse.CommandResult.Children.OfType<ArgumentResult>().SelectMany(a => a.Tokens);
        return free.FirstOrDefault(t => t.Value.Length > 2 && t.Value.StartsWith("--", StringComparison.Ordinal) && char.IsAsciiLetter(t.Value[2])
                && (doubleDash < 0 || tokens.IndexOf(t) < doubleDash))?.Value;
    }

    /// <summary>
    /// A parse error as the user reads it: System.CommandLine names the .NET type a value did not convert to
    /// ("Cannot parse argument 'abc' for option '--cases' as expected type 'System.Int32'"); the user is told what to
    /// write instead, as the options' own rules do ("--cases: 'abc' is not a whole number").
    /// </summary>
    internal static string UsageMessage(string message)
    {
        // "Argument 'http' not recognized. Must be one of:\n\t'rest'\n\t'grpc'": one line, as every other message is.
        if (NotOneOf().Match(message) is { Success: true } choice)
            return $"'{choice.Groups["value"].Value}' is not one of: {string.Join(", ", choice.Groups["choice"].Captures.Select(c => c.Value))}";
        var m = NotConverted().Match(message);
        if (!m.Success) return message;
        var type = m.Groups["type"].Value;
        var kind = type.Contains("Int", StringComparison.Ordinal) || type.Contains("Byte", StringComparison.Ordinal) ? "a whole number"
            : type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) || type.Contains("Decimal", StringComparison.Ordinal) ? "a number"
            : type.Contains("Boolean", StringComparison.Ordinal) ? "true or false"
            : "a valid value";
        var name = m.Groups["name"].Success ? m.Groups["name"].Value + ": " : "";
        var value = m.Groups["value"].Value;
        // Digits that did not convert are out of the type's range: said so, with the range, not "not a whole number".
        if (kind == "a whole number" && value.Length > 0 && value.TrimStart('-', '+').Length > 0 && value.TrimStart('-', '+').All(char.IsAsciiDigit))
        {
            var range = type switch
            {
                _ when type.Contains("System.UInt16", StringComparison.Ordinal) => "0 to 65535",
                _ when type.Contains("System.Int16", StringComparison.Ordinal) => "-32768 to 32767",
                _ when type.Contains("System.UInt32", StringComparison.Ordinal) => "0 to 4294967295",
                _ when type.Contains("System.UInt64", StringComparison.Ordinal) => "0 to 18446744073709551615",
                _ when type.Contains("System.Int64", StringComparison.Ordinal) => "-9223372036854775808 to 9223372036854775807",
                _ when type.Contains("System.SByte", StringComparison.Ordinal) => "-128 to 127",
                _ when type.Contains("System.Byte", StringComparison.Ordinal) => "0 to 255",
                _ => "-2147483648 to 2147483647",
            };
            return $"{name}'{value}' is out of range: a whole number from {range}";
        }

        return $"{name}'{value}' is not {kind}";
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*?)'(?: for (?:option|command) '(?<name>[^']*)')? as expected type '(?<type>.*)'$", RegexOptions.Singleline)]
    private static partial Regex NotConverted();

    [GeneratedRegex(@"^Argument '(?<value>.*?)' not recognized\. Must be one of:(?:\s*'(?<choice>[^']*)')+\s*$", RegexOptions.Singleline)]
    private static partial Regex NotOneOf();

    /// <summary>A command's path as the user types it, such as <c>infra keys generate</c>.</summary>
    public static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = s.Parents.FirstOrDefault())
            names.Insert(0, s.Parents.Any() ? c.Name : "infra");
        return string.Join(' ', names);
    }

    public async Task WriteAsync(CliContext context, bool asJson)
    {
        ArgumentNullException.ThrowIfNull(context);
        // A message may quote a stranger (a package, a build's output, a peer's answer): no control sequence reaches the
        // terminal. Lines stay lines (a build's output tail); --json escapes every control character anyway.
        await context.Error.WriteLineAsync($"error {Code}: {TerminalText.Escape(Message, keepLines: true)}");
        if (Hint is { Length: > 0 }) await context.Error.WriteLineAsync($"  hint: {TerminalText.Escape(Hint, keepLines: true)}");
        if (asJson) CliJson.Write(context.Output, new { error = new { code = Code, message = Message, hint = Hint } });
        await context.Output.FlushAsync();
    }

    private static FailureReport Internal(Exception exception, InfraHome home, IReadOnlyList<string> args)
    {
        var summary = $"internal error: {exception.GetType().FullName}: {exception.Message}";
        var file = WriteDetails(exception, home, args);
        return new FailureReport(CliErrorCodes.Internal, summary,
            "this is a defect of infra, not of your input: please report it" + (file is null ? "" : $" with the details in {file}"));
    }

    /// <summary>The stack trace and the command line, in a file the user can attach to a report; null when it cannot be written.</summary>
    private static string? WriteDetails(Exception exception, InfraHome home, IReadOnlyList<string> args)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var file = Path.Combine(home.Root, "logs", $"internal-error-{stamp}-{Environment.ProcessId}.txt");
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"infra {typeof(FailureReport).Assembly.GetName().Version} on {Environment.OSVersion}, .NET {Environment.Version}")
            .AppendLine(CultureInfo.InvariantCulture, $"command: infra {string.Join(' ', args)}")
            .AppendLine()
            .AppendLine(exception.ToString())
            .ToString();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, text);
            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the one-line report still stands; nothing more to tell
        }
    }
}

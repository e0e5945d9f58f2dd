using Spectre.Console;

namespace InfraMind.Cli;

/// <summary>What a command runs against: its output streams, its environment and the InfraMind home directory.</summary>
public sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?> environment, bool interactive)
    {
        Output = output;
        Error = error;
        Environment = environment;
        Interactive = interactive;
        Home = InfraHome.Resolve(environment);
        var color = interactive && string.IsNullOrEmpty(Get("NO_COLOR"));
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = color ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = color ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
        });
        // Piped or redirected: a line is not broken at a width (80 is Spectre's guess without a terminal), so a
        // reference and its digest stay on the line a script greps; tables still fit their content.
        if (!interactive) Console.Profile.Width = PipedWidth;
        ErrorConsole = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(error),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        ErrorConsole.Profile.Width = PipedWidth;
    }

    /// <summary>The width human output is laid out to when stdout is not a terminal.</summary>
    internal const int PipedWidth = 4096;

    public TextWriter Output { get; }

    public TextWriter Error { get; }

    public IReadOnlyDictionary<string, string?> Environment { get; }

    /// <summary>True when stdout is a terminal: colours and live progress are allowed.</summary>
    public bool Interactive { get; }

    public InfraHome Home { get; }

    /// <summary>Human output (tables, colours only on a terminal, NO_COLOR honoured).</summary>
    public IAnsiConsole Console { get; }

    /// <summary>
    /// Human output on stderr, plain (no colours, no live display): the progress of a command under --json, whose
    /// stdout holds the JSON document alone.
    /// </summary>
    public IAnsiConsole ErrorConsole { get; }

    public string? Get(string name) => Environment.TryGetValue(name, out var v) ? v : null;

    public static CliContext FromProcess()
    {
        var env = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
        return new CliContext(System.Console.Out, System.Console.Error, env, !System.Console.IsOutputRedirected);
    }
}

using System.CommandLine;
using System.CommandLine.Help;
using InfraMind.Cli.Commands;
using InfraMind.Cli.Commands.Serving;

namespace InfraMind.Cli;

/// <summary>Builds the `infra` command tree and runs one command line, mapping every outcome to an exit code.</summary>
public static class InfraCli
{
    public static RootCommand Build(CliContext context)
    {
        var root = new RootCommand(
            "infra: package AI models as OCI containers with a model.yaml manifest, test them, push them to " +
            "content-addressed storage, publish them signed, and serve them on a mesh.\n" +
            $"Home directory: ${InfraHome.Variable} (default ~/.inframind).\n" + ExitCodes.HelpText);
        root.Subcommands.Add(ValidateCommand.Create(context));
        root.Subcommands.Add(InitCommand.Create(context));
        root.Subcommands.Add(BuildCommand.Create(context));
        root.Subcommands.Add(TestCommand.Create(context));
        root.Subcommands.Add(PushCommand.Create(context));
        root.Subcommands.Add(PullCommand.Create(context));
        root.Subcommands.Add(KeysCommand.Create(context));
        root.Subcommands.Add(PublishCommand.Create(context));
        root.Subcommands.Add(VerifyCommand.Create(context));
        root.Subcommands.Add(LogCommand.Create(context));
        root.Subcommands.Add(ChainCommand.Create(context));
        root.Subcommands.Add(RegistryCommand.Create(context));
        root.Subcommands.Add(MeshUpCommand.Create(context));
        root.Subcommands.Add(GatewayServeCommand.Create(context));
        root.Subcommands.Add(NodeServeCommand.Create(context));
        root.Subcommands.Add(ReceiptCommand.Create(context));
        root.Subcommands.Add(DoctorCommand.Create(context));
        root.Subcommands.Add(CidCommand.Create(context));
        root.Subcommands.Add(CompletionCommand.Create(context));
        ShowHelpWhenBare(root);
        return root;
    }

    /// <summary>
    /// Runs one command line. Every failure, whatever the command, goes through <see cref="FailureReport"/> here and
    /// only here: its exit code, its `error` line and hint on stderr, and with --json its error object on stdout.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var asJson = AsksForJson(args);
        var root = Build(context);
        try
        {
            // Parsing runs the options' validators: a defect there is reported as any other, never as a crash.
            // No response files: System.CommandLine would replace any argument starting with '@' by the words of the
            // file it names, so `--input @in.json` (curl's habit) spliced a JSON document into the command line.
            var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parse.Errors.Count > 0 || FailureReport.AbsorbedOption(parse) is not null)
            {
                var usage = FailureReport.Usage(parse);
                await usage.WriteAsync(context, asJson);
                return usage.ExitCode;
            }

            return await parse.InvokeAsync(
                new InvocationConfiguration
                {
                    Output = context.Output,
                    Error = context.Error,
                    EnableDefaultExceptionHandler = false,
                    // Ctrl-C cancels the command; give it time to remove its containers before the process ends.
                    ProcessTerminationTimeout = TimeSpan.FromSeconds(20),
                },
                cancellationToken);
        }
#pragma warning disable CA1031 // the one place where any failure becomes an exit code and a message, never a stack trace
        catch (Exception e)
#pragma warning restore CA1031
        {
            var failure = FailureReport.From(e, context.Home, args);
            await failure.WriteAsync(context, asJson);
            return failure.ExitCode;
        }
    }

    /// <summary>
    /// `--json` anywhere before a `--` asks for JSON, failures included: the runner honours it even when the command
    /// line does not parse, or names a command without a --json of its own.
    /// </summary>
    internal static bool AsksForJson(IEnumerable<string> args) => args.TakeWhile(a => a != "--").Contains("--json", StringComparer.Ordinal);

    /// <summary>
    /// `infra` alone, or a group alone (`infra keys`), prints that command's help and exits 0, as `docker` and
    /// `kubectl` do: asking what there is is not an error.
    /// </summary>
    private static void ShowHelpWhenBare(Command command)
    {
        if (command.Subcommands.Count == 0) return;
        command.SetAction(parse => new HelpAction().Invoke(parse));
        foreach (var sub in command.Subcommands) ShowHelpWhenBare(sub);
    }
}

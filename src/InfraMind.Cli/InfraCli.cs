using System.CommandLine;
using InfraMind.Cli.Commands;
using InfraMind.Containers;

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
        root.Subcommands.Add(RegistryCommand.Create(context));
        root.Subcommands.Add(MeshCommands.Mesh(context));
        root.Subcommands.Add(MeshCommands.Gateway(context));
        root.Subcommands.Add(MeshCommands.Node(context));
        root.Subcommands.Add(DoctorCommand.Create(context));
        root.Subcommands.Add(CidCommand.Create(context));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = Build(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) await context.Error.WriteLineAsync($"error IM0002: {e.Message}");
            var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? [] : Ancestry(parse.CommandResult.Command));
            await context.Error.WriteLineAsync($"See `infra {command}{(command.Length > 0 ? " " : "")}--help`.");
            return ExitCodes.Usage;
        }

        try
        {
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
        catch (OperationCanceledException)
        {
            await context.Error.WriteLineAsync("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (CliException e)
        {
            await context.Error.WriteLineAsync($"error {e.Code}: {e.Message}");
            if (e.Hint is { Length: > 0 }) await context.Error.WriteLineAsync($"  hint: {e.Hint}");
            return e.ExitCode;
        }
        catch (ContainerEngineException e)
        {
            // What a command did not turn into its own report: the engine went away mid-way, or cannot isolate runs.
            await context.Error.WriteLineAsync($"error {e.Message}");
            return e is EngineUnavailableException or IsolationUnsupportedException ? ExitCodes.EngineUnavailable : ExitCodes.Failed;
        }
    }

    private static List<string> Ancestry(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c && s.Parents.Any(); s = s.Parents.FirstOrDefault()) names.Insert(0, c.Name);
        return names;
    }
}

/// <summary>A failure a user can fix: a stable code, a message, a hint, and the exit code it maps to.</summary>
public sealed class CliException(string code, string message, string? hint = null, int exitCode = ExitCodes.Failed) : Exception(message)
{
    public string Code { get; } = code;

    public string? Hint { get; } = hint;

    public int ExitCode { get; } = exitCode;
}

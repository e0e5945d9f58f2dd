using System.CommandLine;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra completion bash`: prints a shell completion script. The script asks infra itself what may follow, through
/// System.CommandLine's <c>[suggest:POSITION]</c> directive (the protocol dotnet-suggest speaks), so completions of
/// verbs, options and option values always match this build's command tree; nothing is generated per release.
/// </summary>
internal static class CompletionCommand
{
    // The line up to the cursor, without the program name, is handed to infra as two arguments, [suggest:N] and the
    // line; it prints one candidate per line (already filtered by the word under the cursor). -o default falls back to
    // file names when infra offers nothing (paths of model directories, archives).
    private const string Bash = """
        # bash completion for infra (InfraMind). Load it in the current shell:   source <(infra completion bash)
        # or for every shell:   infra completion bash > ~/.local/share/bash-completion/completions/infra
        _infra_complete() {
            local line="${COMP_LINE:0:COMP_POINT}"
            local rest=""
            case "$line" in
                *[[:space:]]*) rest="${line#*[[:space:]]}" ;;
            esac
            local IFS=$'\n'
            COMPREPLY=($("${COMP_WORDS[0]}" "[suggest:${#rest}]" "$rest" 2>/dev/null))
            return 0
        }
        complete -o default -F _infra_complete infra

        """;

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("shell") { Description = "The shell to complete in: bash" };
        shell.AcceptOnlyFromAmong("bash");
        var command = new Command("completion",
            "Print a shell completion script for infra. bash: `source <(infra completion bash)`, or save it as " +
            "~/.local/share/bash-completion/completions/infra. Completes verbs, options and option values by asking infra.\n" +
            "Exit codes: 0 ok, 2 usage error (a shell other than bash).")
        {
            shell,
        };
        command.SetAction(_ =>
        {
            context.Output.Write(Bash);
            return 0;
        });
        return command;
    }
}

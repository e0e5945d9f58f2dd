using System.CommandLine;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra completion bash|zsh|fish`: prints a shell completion script. Every script asks infra itself what may follow,
/// through System.CommandLine's <c>[suggest:POSITION]</c> directive (the protocol dotnet-suggest speaks), so completions
/// of verbs, options and option values always match this build's command tree; nothing is generated per release.
/// Each script hands infra the line up to the cursor without the program name, as two arguments ([suggest:N] and the
/// line); infra prints one candidate per line, already filtered by the word under the cursor. Where infra offers
/// nothing, each falls back to file names (model directories, archives).
/// </summary>
internal static class CompletionCommand
{
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

    // words/CURRENT are what zsh's completion system sets: the words of the line and the index of the one under the
    // cursor. Loaded from a file named _infra on $fpath (its #compdef line) it runs as the autoloaded function itself;
    // sourced, it registers with compdef.
    private const string Zsh = """
        #compdef infra
        # zsh completion for infra (InfraMind). Load it in the current shell (after compinit):   source <(infra completion zsh)
        # or for every shell:   infra completion zsh > "${fpath[1]}/_infra"   (a directory on $fpath; then compinit)
        _infra() {
            local rest="${(j: :)words[2,CURRENT]}"
            local -a candidates
            candidates=(${(f)"$("${words[1]}" "[suggest:${#rest}]" "$rest" 2>/dev/null)"})
            if (( ${#candidates} )); then
                compadd -- "${candidates[@]}"
            else
                _files
            fi
        }
        if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
            _infra "$@"
        else
            compdef _infra infra
        fi

        """;

    // commandline -cp is the line up to the cursor; -opc its words before the cursor, the first being the program. infra
    // prints an empty line when it has nothing to offer: dropped, so that the fallback to paths applies.
    private const string Fish = """
        # fish completion for infra (InfraMind). Load it in the current shell:   infra completion fish | source
        # or for every shell:   infra completion fish > ~/.config/fish/completions/infra.fish
        function __infra_complete
            set -l rest (string replace -r -- '^\S+\s' '' (commandline -cp))
            set -l program (commandline -opc)[1]
            set -l candidates ($program "[suggest:"(string length -- "$rest")"]" "$rest" 2>/dev/null | string match -v -- '')
            if test (count $candidates) -gt 0
                printf '%s\n' $candidates
            else
                __fish_complete_path (commandline -ct)
            end
        end
        complete -c infra -f -a '(__infra_complete)'

        """;

    private static readonly Dictionary<string, string> Scripts = new(StringComparer.Ordinal)
    {
        ["bash"] = Bash,
        ["zsh"] = Zsh,
        ["fish"] = Fish,
    };

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("shell") { Description = "The shell to complete in: bash, zsh or fish" };
        shell.AcceptOnlyFromAmong([.. Scripts.Keys]);
        var command = new Command("completion",
            "Print a shell completion script for infra. bash: `source <(infra completion bash)`, or save it as " +
            "~/.local/share/bash-completion/completions/infra. zsh (after compinit): `source <(infra completion zsh)`, " +
            "or save it as _infra in a directory on $fpath. fish: `infra completion fish | source`, or save it as " +
            "~/.config/fish/completions/infra.fish. Completes verbs, options and option values by asking infra.\n" +
            "Exit codes: 0 ok, 2 usage error (a shell other than bash, zsh or fish).")
        {
            shell,
        };
        command.SetAction(parse =>
        {
            context.Output.Write(Scripts[parse.GetValue(shell)!]);
            return 0;
        });
        return command;
    }
}

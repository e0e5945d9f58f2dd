using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// infra as people install it (#18): `dotnet pack` of the CLI (the build the tests already made), `dotnet tool install`
/// into a temporary tool path from that package alone, then the installed `infra` runs: `--version`, `validate` of an
/// example, and its bash, zsh and fish completions loaded in the real shells, each completing a verb, an option and an
/// option's value.
/// </summary>
public sealed class ToolInstallTests(ToolInstallTests.InstalledTool tool) : IClassFixture<ToolInstallTests.InstalledTool>
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    /// <summary>The package, packed once and installed once for the class.</summary>
    public sealed class InstalledTool : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _dir = new("im-tool");

        public string Package { get; private set; } = "";

        public string ToolPath => _dir.Combine("tools");

        public string Infra => Path.Combine(ToolPath, "infra");

        public string Home => _dir.Combine("home");

        public async Task InitializeAsync()
        {
            string packages = _dir.Combine("packages");
            string project = Path.Combine(TestEngine.RepoRoot, "src", "InfraMind.Cli", "InfraMind.Cli.csproj");
            await RunAsync("dotnet", "pack", project, "-c", Configuration, "--no-build", "-o", packages, "--nologo", "-v", "quiet");
            Package = Assert.Single(Directory.GetFiles(packages, "InfraMind.Cli.*.nupkg"));
            string version = Path.GetFileNameWithoutExtension(Package)["InfraMind.Cli.".Length..];

            // Only the package just made is a source: the install proves the package stands alone.
            string config = _dir.Combine("nuget.config");
            await File.WriteAllTextAsync(config,
                $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /><add key="local" value="{packages}" /></packageSources></configuration>""");
            await RunAsync("dotnet", "tool", "install", "InfraMind.Cli", "--version", version, "--tool-path", ToolPath, "--configfile", config);
            Directory.CreateDirectory(Home);
        }

        public Task DisposeAsync() => Task.CompletedTask;

        public void Dispose() => _dir.Dispose();
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestEngine.RepoRoot };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        var result = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(3));
        Assert.True(result.Code == 0, $"{program} {string.Join(' ', args)}: exit {result.Code}\n{result.Out}\n{result.Err}");
        return result;
    }

    private Task<(int Code, string Out, string Err)> InfraAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(tool.Infra, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestEngine.RepoRoot };
        psi.Environment["INFRAMIND_HOME"] = tool.Home;
        psi.Environment["NO_COLOR"] = "1";
        return InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task The_package_carries_licence_readme_and_metadata_and_the_installed_tool_runs()
    {
        using (var zip = ZipFile.OpenRead(tool.Package))
        {
            Assert.NotNull(zip.GetEntry("LICENSE"));
            Assert.NotNull(zip.GetEntry("README.md"));
            var nuspecEntry = Assert.Single(zip.Entries, e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
            using var nuspec = nuspecEntry.Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string Field(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
            Assert.Equal("Apache-2.0", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            Assert.Equal("The InfraMind authors", Field("authors"));
            Assert.Contains("DotnetTool", metadata.Elements().Single(e => e.Name.LocalName == "packageTypes").ToString(), StringComparison.Ordinal);
        }

        var (code, output, error) = await InfraAsync("--version");
        Assert.True(code == 0, error);
        Assert.Matches(@"^\d+\.\d+\.\d+", output.Trim());

        (code, output, error) = await InfraAsync("validate", "examples/summarizer-v1");
        Assert.True(code == 0, $"infra validate: exit {code}\n{output}\n{error}");
        Assert.Contains("summarizer", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bash_completion_of_the_installed_tool_completes_a_verb_an_option_and_a_value()
    {
        var (code, script, error) = await InfraAsync("completion", "bash");
        Assert.True(code == 0, error);
        string file = Path.Combine(tool.Home, "infra.bash");
        await File.WriteAllTextAsync(file, script);

        // A real bash sources the script and calls the function bash's `complete` registered for infra, with the
        // variables bash sets on TAB.
        string driver = $$"""
            set -e
            source '{{file}}'
            spec="$(complete -p infra)"; echo "spec: $spec"
            fn="$(echo "$spec" | sed -n 's/.*-F \([^ ]*\).*/\1/p')"
            ask() { COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -r -a COMP_WORDS <<< "$1"; [ "${1: -1}" = " " ] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); "$fn"; echo "$2: ${COMPREPLY[*]}"; }
            ask "infra val" verb
            ask "infra cid --cid" option
            ask "infra cid --cid-version " value
            ask "infra completion " shell
            """;
        var psi = new ProcessStartInfo("bash", ["--norc", "--noprofile", "-c", driver]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["PATH"] = tool.ToolPath + ":" + Environment.GetEnvironmentVariable("PATH");
        psi.Environment["INFRAMIND_HOME"] = tool.Home;
        var (bashCode, output, bashError) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
        Assert.True(bashCode == 0, $"bash: exit {bashCode}\n{output}\n{bashError}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Contains("spec: complete -o default -F _infra_complete infra"), output);
        Assert.True(lines.Contains("verb: validate"), output);
        Assert.True(lines.Contains("option: --cid-version"), output);
        Assert.StartsWith("value: 0 1", lines.Single(l => l.StartsWith("value:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("bash", lines.Single(l => l.StartsWith("shell:", StringComparison.Ordinal)).Split(' '));
    }

    [Fact]
    public async Task Zsh_completion_of_the_installed_tool_registers_with_compinit_and_completes_a_verb_an_option_and_a_value()
    {
        string zsh = Shell("zsh");
        var (code, script, error) = await InfraAsync("completion", "zsh");
        Assert.True(code == 0, error);
        Assert.StartsWith("#compdef infra\n", script, StringComparison.Ordinal);
        string file = Path.Combine(tool.Home, "infra.zsh");
        await File.WriteAllTextAsync(file, script);

        // A real zsh with the real completion system (compinit) sources the script; the function compdef registered
        // for infra runs with the words/CURRENT zsh sets on TAB. compadd only works inside a completion widget, so it
        // is replaced by one that prints what it is given; _files (the fallback) likewise.
        string driver = $$"""
            autoload -Uz compinit && compinit -u -d '{{Path.Combine(tool.Home, "zcompdump")}}'
            source '{{file}}'
            print -r -- "registered: $_comps[infra]"
            compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }
            _files() { print -r -- "(files)"; }
            ask() { words=(${=1}); [[ $1 == *' ' ]] && words+=(''); CURRENT=${#words}; print -rn -- "$2: "; $_comps[infra]; }
            ask 'infra val' verb
            ask 'infra cid --cid' option
            ask 'infra cid --cid-version ' value
            ask 'infra completion ' shell
            ask 'infra validate examples/su' path
            """;
        var lines = await ShellLinesAsync(zsh, ["-f", "-c", driver]);
        Assert.Contains("registered: _infra", lines);
        Assert.Contains("verb: validate", lines);
        Assert.Contains("option: --cid-version", lines);
        Assert.StartsWith("value: 0 1", lines.Single(l => l.StartsWith("value:", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("zsh", lines.Single(l => l.StartsWith("shell:", StringComparison.Ordinal)).Split(' '));
        Assert.Contains("path: (files)", lines);
    }

    [Fact]
    public async Task Fish_completion_of_the_installed_tool_completes_a_verb_an_option_a_value_and_falls_back_to_paths()
    {
        string fish = Shell("fish");
        var (code, script, error) = await InfraAsync("completion", "fish");
        Assert.True(code == 0, error);
        string file = Path.Combine(tool.Home, "infra.fish");
        await File.WriteAllTextAsync(file, script);

        // fish's own `complete -C LINE` runs the completions registered for the line, as TAB does.
        string driver = $$"""
            source '{{file}}'
            for line in 'infra val' 'infra cid --cid' 'infra cid --cid-version ' 'infra completion ' 'infra validate examples/su'
                set -l found (complete -C"$line")
                echo "$line => $found"
            end
            """;
        var lines = await ShellLinesAsync(fish, ["--no-config", "-c", driver]);
        Assert.Contains("infra val => validate", lines);
        Assert.Contains("infra cid --cid => --cid-version", lines);
        Assert.StartsWith("infra cid --cid-version  => 0 1", lines.Single(l => l.StartsWith("infra cid --cid-version ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("fish", lines.Single(l => l.StartsWith("infra completion ", StringComparison.Ordinal)).Split(' '));
        // infra offers nothing for a path: fish's own path completion takes over.
        Assert.Contains("infra validate examples/su => examples/summarizer-v1/", lines);
    }

    private static string Shell(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        }

        throw Peers.Missing($"{name} is not installed", "run tests/peers/shells/install.sh (or scripts/setup-peers.sh)");
    }

    private async Task<string[]> ShellLinesAsync(string shell, string[] args)
    {
        var psi = new ProcessStartInfo(shell, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestEngine.RepoRoot };
        psi.Environment["PATH"] = tool.ToolPath + ":" + Environment.GetEnvironmentVariable("PATH");
        psi.Environment["INFRAMIND_HOME"] = tool.Home;
        psi.Environment["HOME"] = tool.Home;
        var (code, output, error) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"{shell}: exit {code}\n{output}\n{error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}

using System.CommandLine;
using InfraMind.Cli.Commands.Serving;
using InfraMind.Node;
using InfraMind.Serving;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `--max-jobs-per-model` and `--max-queued-jobs-per-model` (each model container's JobGate): one definition that
/// `infra node serve` and `infra mesh up` share: the same bounds and usage errors (IM0002, exit 2), the same help, and
/// the NodeOptions of every node each starts built from them.
/// </summary>
public sealed class JobGateFlagsTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>Each command that starts nodes, with what it requires besides.</summary>
    public static TheoryData<string[]> Commands => new()
    {
        new[] { "node", "serve", "--gateway", "http://127.0.0.1:9/" },
        new[] { "mesh", "up" },
    };

    private static NodeOptions Node() => new() { NodeId = "n", Capacity = new NodeCapacity(1000, 1L << 30, 0) };

    private static RootCommand Root() => InfraCli.Build(new CliContext(TextWriter.Null, TextWriter.Null, new Dictionary<string, string?>(), interactive: false));

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Out_of_range_values_are_usage_errors_before_anything_starts(string[] command)
    {
        foreach (var (option, value, says) in new[]
        {
            ("--max-jobs-per-model", "0", "--max-jobs-per-model must be between 1 and 4096"),
            ("--max-jobs-per-model", "4097", "--max-jobs-per-model must be between 1 and 4096"),
            ("--max-queued-jobs-per-model", "-1", "--max-queued-jobs-per-model must be between 0 and 65536"),
            ("--max-queued-jobs-per-model", "65537", "--max-queued-jobs-per-model must be between 0 and 65536"),
        })
        {
            var (code, _, err) = await _cli.RunAsync([.. command, option, value]);
            Assert.True(code == 2, $"{string.Join(' ', command)} {option} {value}: exit {code}\n{err}");
            Assert.Contains(says, err, StringComparison.Ordinal);
            Assert.Contains("IM0002", err, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_node_a_command_starts_gets_the_gate_its_flags_say_and_the_defaults_without_them(string[] command)
    {
        var root = Root();
        var given = root.Parse([.. command, "--max-jobs-per-model", "3", "--max-queued-jobs-per-model", "0"]);
        Assert.Empty(given.Errors);
        var tuned = JobGateOptions.Apply(given, Node());
        Assert.Equal((3, 0), (tuned.MaxJobsPerModel, tuned.MaxQueuedJobsPerModel));
        Assert.Equal("n", tuned.NodeId);

        var bare = root.Parse(command);
        Assert.Empty(bare.Errors);
        var defaults = JobGateOptions.Apply(bare, Node());
        Assert.Equal((JobGate.DefaultInFlight, JobGate.DefaultQueued), (defaults.MaxJobsPerModel, defaults.MaxQueuedJobsPerModel));
    }

    [Fact]
    public void Node_serve_and_mesh_up_describe_the_flags_alike()
    {
        var root = Root();
        Option Find(string command, string name) =>
            root.Parse([.. command.Split(' '), "--help"]).CommandResult.Command.Options.Single(o => o.Name == name);
        foreach (var name in new[] { JobGateOptions.MaxJobsName, JobGateOptions.MaxQueuedName })
        {
            var node = Find("node serve", name);
            var mesh = Find("mesh up", name);
            Assert.NotSame(node, mesh);
            Assert.Equal((node.Description, node.HelpName), (mesh.Description, mesh.HelpName));
        }
    }
}

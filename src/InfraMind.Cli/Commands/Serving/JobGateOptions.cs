using System.CommandLine;
using InfraMind.Node;
using InfraMind.Serving;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// `--max-jobs-per-model` and `--max-queued-jobs-per-model`: each model container's <see cref="JobGate"/>, one
/// definition (names, bounds, help, usage errors IM0002) for every command that starts nodes — `infra node serve` and
/// `infra mesh up`, which passes them to every node it starts.
/// </summary>
internal sealed class JobGateOptions
{
    /// <summary>The name of <see cref="MaxJobs"/>.</summary>
    public const string MaxJobsName = "--max-jobs-per-model";

    /// <summary>The name of <see cref="MaxQueued"/>.</summary>
    public const string MaxQueuedName = "--max-queued-jobs-per-model";

    /// <summary>The most <see cref="MaxJobs"/> may say.</summary>
    public const int MaxInFlight = 4096;

    /// <summary>The most <see cref="MaxQueued"/> may say.</summary>
    public const int MaxQueuedLimit = 65536;

    private JobGateOptions(Option<int> maxJobs, Option<int> maxQueued) => (MaxJobs, MaxQueued) = (maxJobs, maxQueued);

    /// <summary>Jobs one model container is sent at once (<see cref="NodeOptions.MaxJobsPerModel"/>), 1–<see cref="MaxInFlight"/>.</summary>
    public Option<int> MaxJobs { get; }

    /// <summary>Jobs that may wait for one model container (<see cref="NodeOptions.MaxQueuedJobsPerModel"/>), 0–<see cref="MaxQueuedLimit"/>.</summary>
    public Option<int> MaxQueued { get; }

    /// <summary>A fresh pair (an option belongs to one command), defined alike for every command.</summary>
    public static JobGateOptions Create()
    {
        var maxJobs = new Option<int>(MaxJobsName)
        {
            Description = "Jobs one model container is sent at once (beyond: they wait, see --max-queued-jobs-per-model)",
            DefaultValueFactory = _ => JobGate.DefaultInFlight, HelpName = "N",
        };
        maxJobs.Require(v => v is >= 1 and <= MaxInFlight, $"--max-jobs-per-model must be between 1 and {MaxInFlight}");
        var maxQueued = new Option<int>(MaxQueuedName)
        {
            Description = "Jobs that may wait for one model container; beyond them, or after waiting half its time limit, a job is refused as node-busy (503, IM6038), " +
                          "which the gateway re-routes and holds against no one",
            DefaultValueFactory = _ => JobGate.DefaultQueued, HelpName = "N",
        };
        maxQueued.Require(v => v is >= 0 and <= MaxQueuedLimit, $"--max-queued-jobs-per-model must be between 0 and {MaxQueuedLimit}");
        return new JobGateOptions(maxJobs, maxQueued);
    }

    /// <summary>
    /// <paramref name="options"/> with the gate the command line gives (the defaults where it gives none), for a parse of
    /// a command these options were added to.
    /// </summary>
    public static NodeOptions Apply(ParseResult parse, NodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(options);
        return options with { MaxJobsPerModel = parse.GetValue<int>(MaxJobsName), MaxQueuedJobsPerModel = parse.GetValue<int>(MaxQueuedName) };
    }
}

using InfraMind.Containers;
using InfraMind.Serving;

namespace InfraMind.Conformance;

/// <summary>
/// Why a model stopped answering, when the container knows: it exited (with which code, after which log lines), the
/// kernel killed it for its memory limit, or it ran into its pids limit. A refused connection or a hook that could not
/// run is only the symptom; the verdict names the cause.
/// </summary>
public static class ContainerDiagnosis
{
    /// <summary>Log lines quoted in a verdict's detail.</summary>
    internal const int LogTail = 30;

    /// <summary>How long a failure waits for the engine to record an exit that caused it (a dying process closes its sockets first).</summary>
    internal static TimeSpan ExitGrace { get; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The cause behind a failure seen at <paramref name="step"/>, or null when the container is alive and within its
    /// limits (the symptom is then the verdict). Waits up to <see cref="ExitGrace"/> for an exit to be recorded.
    /// </summary>
    public static async Task<StepResult?> CauseAsync(string step, RunningContainer container, Task<long> exited, CancellationToken cancellationToken)
    {
        await Task.WhenAny(exited, Task.Delay(ExitGrace, cancellationToken));
        if (exited.IsCompleted) return await ExitedAsync(step, container, cancellationToken);
        return await PidsLimitAsync(step, container, cancellationToken);
    }

    /// <summary>The container has exited: killed for memory (<see cref="Verdict.OomKilled"/>) or exited with its code (<see cref="Verdict.ContainerExited"/>), with its last log lines (see <see cref="Exit"/>).</summary>
    public static async Task<StepResult> ExitedAsync(string step, RunningContainer container, CancellationToken cancellationToken)
    {
        var state = await container.InspectStateAsync(cancellationToken);
        var logs = await LogsAsync(container, cancellationToken);
        var (verdict, detail) = Exit(state);
        return new StepResult(step, CheckStatus.Failed, verdict, detail + Tail("; last log lines: ", logs, 800), TimeSpan.Zero);
    }

    /// <summary>
    /// The verdict and its first words for an exited container: killed for memory; SIGKILL's code with no memory kill on
    /// record (the model's main process cannot take SIGKILL from inside its container, so: a kill from the host, an exit
    /// with that code, or a memory kill the engine missed), said as such; or its own exit code.
    /// </summary>
    internal static (Verdict Verdict, string Detail) Exit(ContainerStatus state) => state switch
    {
        { OomKilled: true } => (Verdict.OomKilled, $"the container was killed for running out of memory (limit from resources.memory); exit code {state.ExitCode}"),
        { ExitCode: RunningContainer.KilledExitCode } => (Verdict.ContainerExited, $"the container exited with code {state.ExitCode} (SIGKILL's) with no " +
            "out-of-memory kill on record: a kill from the host, an exit with that code, or a memory overrun the engine did not report (check resources.memory)"),
        _ => (Verdict.ContainerExited, $"the container exited with code {state.ExitCode}"),
    };

    /// <summary><see cref="Verdict.PidsLimitReached"/> when the kernel refused the model a process or thread; else null.</summary>
    public static async Task<StepResult?> PidsLimitAsync(string step, RunningContainer container, CancellationToken cancellationToken) =>
        await container.GetPidsAsync(cancellationToken) is { Refused: > 0 } pids ? PidsLimit(step, pids, await LogsAsync(container, cancellationToken)) : null;

    /// <summary>
    /// <see cref="Verdict.PidsLimitReached"/> with <paramref name="logs"/> when <paramref name="pids"/> shows a refused
    /// fork; else null. For a caller that has read both already (one read of each per failure).
    /// </summary>
    public static StepResult? PidsLimit(string step, PidsUsage? pids, string logs) =>
        pids is not { Refused: > 0 } p ? null : new StepResult(step, CheckStatus.Failed, Verdict.PidsLimitReached,
            $"the model ran into its limit of {p.Limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} processes and threads " +
            $"({p.Refused} fork(s) refused, {p.Current} running): a fork bomb or a process/thread leak" + Tail("; last log lines: ", logs, 600),
            TimeSpan.Zero);

    /// <summary>
    /// "; N of its L processes and threads in use" when the model holds half its pids limit or more (a model still
    /// starting many when the wait ended, or one that never stops starting them), else "".
    /// </summary>
    public static string Crowded(PidsUsage? pids) =>
        pids is { Limit: { } limit } p && limit > 0 && p.Current * 2 >= limit
            ? $"; {p.Current.ToString(System.Globalization.CultureInfo.InvariantCulture)} of its {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} processes and threads in use"
            : "";

    internal static async Task<string> LogsAsync(RunningContainer container, CancellationToken cancellationToken)
    {
        try
        {
            return (await container.GetLogsAsync(LogTail, cancellationToken)).Combined;
        }
        catch (ContainerEngineException)
        {
            return "";
        }
    }

    internal static string Tail(string prefix, string text, int max)
    {
        var t = text.Trim();
        if (t.Length == 0) return "";
        return prefix + (t.Length <= max ? t : "…" + t[^max..]);
    }
}

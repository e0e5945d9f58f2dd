using System.Diagnostics;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using InfraMind.Containers.Run;

namespace InfraMind.Containers;

/// <summary>
/// A container started under the isolation policy: no network, reached only through its <see cref="Connector"/>.
/// Disposing it removes the container, forced, whatever state it is in; <see cref="ContainerEngine.PruneAsync"/>
/// catches what a killed process left behind.
/// </summary>
public sealed class RunningContainer : IAsyncDisposable
{
    private const int OutputLimitBytes = 64 * 1024;
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);
    private readonly DockerClient _client;
    private readonly string? _pidsCgroup;
    private int _disposed;

    internal RunningContainer(DockerClient client, string runId, string containerId, ContainerConnector connector, string? pidsCgroup)
    {
        _client = client;
        RunId = runId;
        Id = containerId;
        Connector = connector;
        _pidsCgroup = pidsCgroup;
    }

    public string RunId { get; }

    public string Id { get; }

    /// <summary>
    /// The way to the model's port, inside the container's network namespace; closed (every connection refused) when the
    /// container had already stopped by the time it was started and entered (see <see cref="InspectStateAsync"/>).
    /// </summary>
    public ContainerConnector Connector { get; }

    public int ContainerPort => Connector.Port;

    /// <summary>
    /// Runs a command in the container (hooks: <c>["sh", "hooks/init.sh"]</c>, in the image's working directory) and
    /// returns its exit code and the last 64 KiB of stdout and stderr. On timeout the result says so and, for a
    /// command run with <c>sh</c> (every hook), the command and everything it started is killed: the engine API has
    /// no way to kill an exec, and a health check that hangs every period would otherwise pile up processes until
    /// the pids limit breaks the model. Other commands may go on until the container is removed.
    /// </summary>
    public async Task<ExecResult> ExecAsync(IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Count == 0)
        {
            throw new ContainerEngineException(ContainerErrorCodes.InvalidContainerSpec, "exec command is empty: give the program and its arguments.");
        }

        var watch = Stopwatch.StartNew();
        var killable = command[0] is "sh" or "/bin/sh";
        List<string> cmd = killable ? ["sh", "-c", $"echo \"{PidMarker}$$\" >&2; exec \"$@\"", "sh", .. command] : [.. command];
        var exec = await Call(() => _client.Exec.ExecCreateContainerAsync(
            Id,
            new ContainerExecCreateParameters { Cmd = cmd, AttachStdout = true, AttachStderr = true },
            cancellationToken), "create exec");
        var output = new MultiplexedOutput(OutputLimitBytes);
        using var stream = await Call(() => _client.Exec.StartAndAttachContainerExecAsync(exec.ID, false, cancellationToken), "start exec");
        using var readCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = output.ReadToEndAsync(stream, readCancel.Token);
        var finished = await Task.WhenAny(reading, Task.Delay(timeout, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        if (finished != reading)
        {
            // A hook whose shell has not printed its PID yet (the engine started the exec later than the hook's whole
            // timeout) is waited for, within a bounded grace, so that it is killed too rather than left running.
            var pid = killable ? await AwaitPidAsync(output, reading, cancellationToken) : null;
            // The read may not observe cancellation on a hijacked socket: closing the stream is what ends it.
            await readCancel.CancelAsync();
            stream.Dispose();
            await reading.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            if (killable && (pid ?? ParsePid(output.StderrHead)) is { } target)
            {
                await KillProcessTreeAsync(target, cancellationToken);
            }

            return new ExecResult(-1, output.Stdout, StripMarker(output.Stderr, killable), TimedOut: true, watch.Elapsed);
        }

        await reading;
        var inspect = await Call(() => _client.Exec.InspectContainerExecAsync(exec.ID, cancellationToken), "inspect exec");
        // The stream can end a moment before the engine records the exit code.
        var polls = 0;
        while (inspect.Running && polls++ < 100)
        {
            await Task.Delay(10, cancellationToken);
            inspect = await Call(() => _client.Exec.InspectContainerExecAsync(exec.ID, cancellationToken), "inspect exec");
        }

        return new ExecResult(inspect.ExitCode, output.Stdout, StripMarker(output.Stderr, killable), TimedOut: false, watch.Elapsed);
    }

    private const string PidMarker = "@@inframind-exec-pid ";

    /// <summary>
    /// How long past its timeout a hook's PID is waited for when its shell had not printed it yet: an engine that slow
    /// to start an exec is rare, and past this the hook is left to the container's removal.
    /// </summary>
    internal static readonly TimeSpan PidGrace = TimeSpan.FromSeconds(5);

    /// <summary>The PID the hook's shell printed, once its whole line is read; null when the output ended first or the grace ran out.</summary>
    private static async Task<int?> AwaitPidAsync(MultiplexedOutput output, Task reading, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            var head = output.StderrHead;
            // The line is whole, or longer than a PID line can be (the marker, 10 digits, a newline): it says what it says.
            if (head.Contains('\n', StringComparison.Ordinal) || head.Length > PidMarker.Length + 11)
            {
                return ParsePid(head);
            }

            if (reading.IsCompleted || waited.Elapsed >= PidGrace)
            {
                return null;
            }

            await Task.WhenAny(reading, Task.Delay(10, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    // Stops the process, then kills its descendants (found through /proc/<pid>/task/*/children) and itself.
    // The function body is a subshell so that each level of the recursion has its own loop variables.
    private const string KillTreeScript =
        "k() ( for t in /proc/$1/task/*; do for c in $(cat \"$t/children\" 2>/dev/null); do k \"$c\"; done; done; " +
        "kill -KILL \"$1\" 2>/dev/null ); kill -STOP \"$1\" 2>/dev/null; k \"$1\"";

    private static int? ParsePid(string stderrHead)
    {
        if (!stderrHead.StartsWith(PidMarker, StringComparison.Ordinal))
        {
            return null;
        }

        var end = stderrHead.IndexOf('\n', StringComparison.Ordinal);
        var digits = end < 0 ? stderrHead[PidMarker.Length..] : stderrHead[PidMarker.Length..end];
        return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    private static string StripMarker(string stderr, bool killable)
    {
        if (!killable || !stderr.StartsWith(PidMarker, StringComparison.Ordinal))
        {
            return stderr;
        }

        var end = stderr.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? "" : stderr[(end + 1)..];
    }

    private async Task KillProcessTreeAsync(int pid, CancellationToken cancellationToken)
    {
        try
        {
            var pidText = pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var kill = await _client.Exec.ExecCreateContainerAsync(
                Id,
                new ContainerExecCreateParameters { Cmd = ["sh", "-c", KillTreeScript, "sh", pidText], AttachStdout = true, AttachStderr = true },
                cancellationToken);
            using var stream = await _client.Exec.StartAndAttachContainerExecAsync(kill.ID, false, cancellationToken);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(5));
            await new MultiplexedOutput(4096).ReadToEndAsync(stream, bounded.Token);
        }
        catch (Exception e) when (e is DockerApiException or OperationCanceledException or IOException)
        {
            // Best effort: the timeout is already reported, and removing the container ends the process anyway.
        }
    }

    /// <summary>
    /// Whether something accepts connections on the model's port now. Inside the container's namespace there is no
    /// proxy in between: a connection that is accepted reached a listener, one that is refused found none.
    /// </summary>
    public async Task<bool> ProbePortAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var socket = await Connector.ConnectAsync(cancellationToken);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// The container's processes against its pids limit, as the kernel counts them (its pids cgroup), with the number
    /// of forks the limit refused; null where the cgroup cannot be read.
    /// </summary>
    public async Task<PidsUsage?> GetPidsAsync(CancellationToken cancellationToken)
    {
        if (_pidsCgroup is null) return null;
        try
        {
            var current = long.Parse((await File.ReadAllTextAsync(Path.Combine(_pidsCgroup, "pids.current"), cancellationToken)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var max = (await File.ReadAllTextAsync(Path.Combine(_pidsCgroup, "pids.max"), cancellationToken)).Trim();
            var events = await File.ReadAllTextAsync(Path.Combine(_pidsCgroup, "pids.events"), cancellationToken);
            var refused = events.Split('\n').Select(l => l.Split(' ', 2)).Where(kv => kv is ["max", _]).Select(kv => long.Parse(kv[1], System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
            return new PidsUsage(current, long.TryParse(max, System.Globalization.CultureInfo.InvariantCulture, out var limit) ? limit : null, refused);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // The container is gone (its cgroup with it), or the cgroup is not where /proc said.
            return null;
        }
    }

    /// <summary>The exit code of a process ended by SIGKILL (128 + 9): what the kernel's out-of-memory killer leaves.</summary>
    public const long KilledExitCode = 137;

    /// <summary>How long the state of a container that ended by SIGKILL without the engine's out-of-memory flag is read again.</summary>
    private static readonly TimeSpan OomSettle = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan OomSettleStep = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan EventsTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The container's state. A container that ended by SIGKILL (exit 137) is reported killed for memory when the engine
    /// says so in its state or, failing that, in its event log: the engine sets the state's flag only when the runtime's
    /// out-of-memory event reaches it before the exit event, and under load the two arrive in either order (the late
    /// event is still logged, and sets the flag later). So such a state is read again for up to
    /// <see cref="OomSettle"/>, then the engine's events since the container started are asked for an <c>oom</c>.
    /// A container that is running, or that exited any other way, costs one inspect as before.
    /// </summary>
    public async Task<ContainerStatus> InspectStateAsync(CancellationToken cancellationToken)
    {
        var (state, startedAt) = await ReadStateAsync(cancellationToken);
        if (state.Running || state.OomKilled || state.ExitCode != KilledExitCode) return state;
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < OomSettle)
        {
            await Task.Delay(OomSettleStep, cancellationToken);
            (state, _) = await ReadStateAsync(cancellationToken);
            if (state.OomKilled) return state;
        }

        return await EngineLoggedOomAsync(startedAt, cancellationToken) ? state with { OomKilled = true } : state;
    }

    private async Task<(ContainerStatus State, DateTimeOffset? StartedAt)> ReadStateAsync(CancellationToken cancellationToken)
    {
        var inspect = await Call(() => _client.Containers.InspectContainerAsync(Id, cancellationToken), "inspect container");
        var s = inspect.State;
        DateTimeOffset? startedAt = DateTimeOffset.TryParse(s.StartedAt, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var started) && started.Year > 1 ? started : null;
        return (new ContainerStatus(s.Status, s.Running, s.ExitCode, s.OOMKilled, string.IsNullOrEmpty(s.Error) ? null : s.Error), startedAt);
    }

    /// <summary>
    /// Whether the engine's event log holds an <c>oom</c> for this container between its start and now. Bounded: the
    /// query ends at now (the engine answers from what it keeps, then closes) and within <see cref="EventsTimeout"/>.
    /// </summary>
    internal async Task<bool> EngineLoggedOomAsync(DateTimeOffset? startedAt, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var parameters = new ContainerEventsParameters
        {
            Since = UnixSeconds((startedAt ?? now.AddHours(-1)).AddSeconds(-1)),
            Until = UnixSeconds(now),
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["container"] = new Dictionary<string, bool> { [Id] = true },
                ["event"] = new Dictionary<string, bool> { ["oom"] = true },
            },
        };
        var seen = new OomSeen();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(EventsTimeout);
        try
        {
            await _client.System.MonitorEventsAsync(parameters, seen, timeout.Token);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // No answer from the event log: the state's flag is all there is.
        }

        return seen.Oom;
    }

    private static string UnixSeconds(DateTimeOffset at) =>
        (at.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Records an <c>oom</c> as it is read (a <see cref="Progress{T}"/> would report it later, on the pool).</summary>
    private sealed class OomSeen : IProgress<Message>
    {
        public bool Oom { get; private set; }

        public void Report(Message value) => Oom |= value.Action == "oom";
    }

    /// <summary>The container's output so far; <paramref name="tail"/> lines of it, or all when null.</summary>
    public async Task<ContainerLogs> GetLogsAsync(int? tail, CancellationToken cancellationToken)
    {
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = true,
            ShowStderr = true,
            Tail = tail is null ? "all" : Math.Max(0, tail.Value).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        using var stream = await Call(() => _client.Containers.GetContainerLogsAsync(Id, false, parameters, cancellationToken), "read logs");
        var output = new MultiplexedOutput(1024 * 1024);
        await output.ReadToEndAsync(stream, cancellationToken);
        return new ContainerLogs(output.Stdout, output.Stderr, output.Combined);
    }

    /// <summary>Waits until the container stops and returns its exit code.</summary>
    public async Task<long> WaitForExitAsync(CancellationToken cancellationToken)
    {
        var response = await Call(() => _client.Containers.WaitContainerAsync(Id, cancellationToken), "wait for container");
        return response.StatusCode;
    }

    /// <summary>Sends a signal (default SIGKILL); a container that already stopped is not an error.</summary>
    public async Task KillAsync(string signal, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Containers.KillContainerAsync(Id, new ContainerKillParameters { Signal = signal }, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            // Not running any more: the outcome the caller wanted.
        }
    }

    public Task KillAsync(CancellationToken cancellationToken) => KillAsync("KILL", cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Connector.Dispose();
        // Never the caller's token: cleanup must also run after the caller was cancelled (Ctrl-C).
        using var cts = new CancellationTokenSource(CleanupTimeout);
        await Cleanup.RemoveAsync(_client, Id, cts.Token);
    }

    private static async Task<T> Call<T>(Func<Task<T>> call, string what)
    {
        try
        {
            return await call();
        }
        catch (DockerApiException e)
        {
            throw new ContainerEngineException(ContainerErrorCodes.EngineRequestFailed,
                $"the engine refused to {what}: {Cleanup.ApiMessage(e)}", e);
        }
    }
}

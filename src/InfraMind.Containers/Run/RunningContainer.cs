using System.Diagnostics;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using InfraMind.Containers.Run;

namespace InfraMind.Containers;

/// <summary>
/// A container started under the isolation policy. Disposing it removes the container and its network, forced,
/// whatever state they are in; <see cref="ContainerEngine.PruneAsync"/> catches what a killed process left behind.
/// </summary>
public sealed class RunningContainer : IAsyncDisposable
{
    private const int OutputLimitBytes = 64 * 1024;
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(30);
    private readonly DockerClient _client;
    private int _disposed;

    internal RunningContainer(DockerClient client, string runId, string containerId, string networkId, int containerPort, int hostPort)
    {
        _client = client;
        RunId = runId;
        Id = containerId;
        NetworkId = networkId;
        ContainerPort = containerPort;
        HostPort = hostPort;
    }

    public string RunId { get; }

    public string Id { get; }

    public string NetworkId { get; }

    public int ContainerPort { get; }

    /// <summary>
    /// The ephemeral port on 127.0.0.1 that the engine published <see cref="ContainerPort"/> on; 0 when the container
    /// had already exited by the time it was started and inspected (see <see cref="InspectStateAsync"/>).
    /// </summary>
    public int HostPort { get; }

    /// <summary>Where to reach the model from this machine: <c>http://127.0.0.1:HostPort/</c>.</summary>
    public Uri BaseAddress => new($"http://{IsolationPolicy.LoopbackAddress}:{HostPort}/");

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
            // The read may not observe cancellation on a hijacked socket: closing the stream is what ends it.
            await readCancel.CancelAsync();
            stream.Dispose();
            await reading.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            if (killable && ParsePid(output.StderrHead) is { } pid)
            {
                await KillProcessTreeAsync(pid, cancellationToken);
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
    /// Whether the model accepts connections on its port now. A bare TCP connect to <see cref="HostPort"/> is not
    /// proof: the engine's port proxy accepts every connection itself, then dials the container and, when nothing
    /// listens there, closes ours at once (seen on Engine 20.10 with docker-proxy). So after connecting we wait
    /// <paramref name="settle"/> for that close: a connection still open after it reached the model.
    /// </summary>
    public async Task<bool> ProbePortAsync(TimeSpan settle, CancellationToken cancellationToken) =>
        await ProbePortAsync(settle, ReadOnlyMemory<byte>.Empty, cancellationToken) != PortProbe.Closed;

    /// <summary>
    /// As <see cref="ProbePortAsync(TimeSpan, CancellationToken)"/>, first sending <paramref name="greeting"/> (e.g. a
    /// minimal HTTP request): the proxy never writes to us itself, so any byte back proves a listener at once,
    /// where silence has to be waited out for <paramref name="settle"/>.
    /// </summary>
    public async Task<PortProbe> ProbePortAsync(TimeSpan settle, ReadOnlyMemory<byte> greeting, CancellationToken cancellationToken)
    {
        if (HostPort == 0)
        {
            return PortProbe.Closed;
        }

        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, HostPort, cancellationToken);
            if (!greeting.IsEmpty)
            {
                await socket.SendAsync(greeting, System.Net.Sockets.SocketFlags.None, cancellationToken);
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(settle);
            var buffer = new byte[1];
            try
            {
                // 0 bytes = closed by the proxy (nothing listens); data = a server that answered (or speaks first).
                return await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, wait.Token) > 0 ? PortProbe.Answered : PortProbe.Closed;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return PortProbe.Open;
            }
        }
        catch (System.Net.Sockets.SocketException)
        {
            return PortProbe.Closed;
        }
    }

    public async Task<ContainerStatus> InspectStateAsync(CancellationToken cancellationToken)
    {
        var inspect = await Call(() => _client.Containers.InspectContainerAsync(Id, cancellationToken), "inspect container");
        var s = inspect.State;
        return new ContainerStatus(s.Status, s.Running, s.ExitCode, s.OOMKilled, string.IsNullOrEmpty(s.Error) ? null : s.Error);
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

        // Never the caller's token: cleanup must also run after the caller was cancelled (Ctrl-C).
        using var cts = new CancellationTokenSource(CleanupTimeout);
        await Cleanup.RemoveAsync(_client, Id, NetworkId, cts.Token);
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

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
    /// Runs a command in the container (hooks: <c>["sh", "hooks/init.sh"]</c>, in the image's working directory).
    /// On timeout the result says so; the command itself may go on inside the container until it is removed,
    /// because the engine API has no way to kill an exec.
    /// </summary>
    public async Task<ExecResult> ExecAsync(IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Count == 0)
        {
            throw new ContainerEngineException(ContainerErrorCodes.InvalidContainerSpec, "exec command is empty: give the program and its arguments.");
        }

        var watch = Stopwatch.StartNew();
        var exec = await Call(() => _client.Exec.ExecCreateContainerAsync(
            Id,
            new ContainerExecCreateParameters { Cmd = command.ToList(), AttachStdout = true, AttachStderr = true },
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
            return new ExecResult(-1, output.Stdout, output.Stderr, TimedOut: true, watch.Elapsed);
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

        return new ExecResult(inspect.ExitCode, output.Stdout, output.Stderr, TimedOut: false, watch.Elapsed);
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

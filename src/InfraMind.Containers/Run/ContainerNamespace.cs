using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Containers.Run;

/// <summary>
/// What InfraMind holds of a started container's process: a thread in its network namespace (null once the container
/// has stopped: there is nothing to connect to) and its pids cgroup, where the kernel counts refused forks.
/// </summary>
internal sealed record ContainerNamespace(NamespaceThread? Thread, string? PidsCgroup)
{
    /// <summary>
    /// Enters the network namespace of the started container <paramref name="containerId"/> once, right after start,
    /// and proves three things before a single connection is made: the process is this container's (its cgroup names
    /// the container id, and the engine still reports the same process afterwards, so a reused pid cannot redirect
    /// us), the namespace has nothing but loopback (the engine really gave it no network), and this process may enter it.
    /// </summary>
    /// <exception cref="IsolationUnsupportedException">IM3009: any of the three does not hold; the caller removes the container.</exception>
    public static async Task<ContainerNamespace> OpenAsync(DockerClient client, Uri endpoint, string containerId, CancellationToken cancellationToken)
    {
        var before = await client.Containers.InspectContainerAsync(containerId, cancellationToken);
        if (!Alive(before)) return new ContainerNamespace(null, null);
        var pid = before.State.Pid;
        string cgroups;
        SafeFileHandle netns;
        try
        {
            cgroups = await File.ReadAllTextAsync($"/proc/{pid}/cgroup", cancellationToken);
            netns = File.OpenHandle($"/proc/{pid}/ns/net");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (await StoppedAsync(client, containerId, cancellationToken)) return new ContainerNamespace(null, null);
            throw Unsupported(endpoint, $"the container's process {pid} is not visible to InfraMind ({e.Message}): the engine must run on this machine, " +
                                        "and InfraMind in its process namespace, as root");
        }

        using (netns)
        {
            if (!cgroups.Contains(containerId, StringComparison.Ordinal))
            {
                throw Unsupported(endpoint, $"process {pid} on this machine is not the container {containerId[..12]} (its cgroups do not name it): " +
                                            "the engine is on another machine, or in another process namespace");
            }

            NamespaceThread thread;
            try
            {
                thread = await NamespaceThread.EnterAsync(netns, "inframind-netns-" + containerId[..12]);
            }
            catch (NamespaceEntryException e)
            {
                throw Unsupported(endpoint, e.Message);
            }

            try
            {
                if (!thread.LoopbackOnly)
                {
                    throw Unsupported(endpoint, $"the container was given network interfaces ({string.Join(", ", thread.Interfaces)}) although it was created " +
                                                "with none, so it could reach other hosts or containers");
                }

                var after = await client.Containers.InspectContainerAsync(containerId, cancellationToken);
                if (!Alive(after))
                {
                    thread.Dispose();
                    return new ContainerNamespace(null, null);
                }

                if (after.State.Pid != pid || after.State.StartedAt != before.State.StartedAt)
                {
                    throw Unsupported(endpoint, $"the container was restarted while InfraMind entered it (process {pid}, now {after.State.Pid})");
                }

                return new ContainerNamespace(thread, PidsCgroupOf(cgroups));
            }
            catch
            {
                thread.Dispose();
                throw;
            }
        }
    }

    /// <summary>The pids controller's directory of a process, from its /proc/PID/cgroup (v1 "N:pids:/path", else v2 "0::/path").</summary>
    internal static string? PidsCgroupOf(string procCgroup)
    {
        string? unified = null;
        foreach (var line in procCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            if (parts[1].Split(',').Contains("pids")) return "/sys/fs/cgroup/pids" + parts[2];
            if (parts[0] == "0" && parts[1].Length == 0) unified = "/sys/fs/cgroup" + parts[2];
        }

        return unified;
    }

    private static bool Alive(ContainerInspectResponse inspect) => inspect.State is { Running: true, Pid: > 0 };

    /// <summary>
    /// Whether a container whose process is gone from /proc has stopped: the engine records an exit a moment after the
    /// process ends (seen: tens of milliseconds), so it is asked again for up to two seconds before the process is
    /// taken to be one this machine cannot see.
    /// </summary>
    private static async Task<bool> StoppedAsync(DockerClient client, string containerId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 40; attempt++)
        {
            if (!Alive(await client.Containers.InspectContainerAsync(containerId, cancellationToken))) return true;
            await Task.Delay(50, cancellationToken);
        }

        return false;
    }

    private static IsolationUnsupportedException Unsupported(Uri endpoint, string reason) => new(endpoint, reason);
}

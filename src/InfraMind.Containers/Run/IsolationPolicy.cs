using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>
/// DESIGN.md's isolation policy as an engine request: no network at all, all capabilities dropped, no-new-privileges,
/// limits on memory (no swap), CPU, processes and open files.
/// </summary>
/// <remarks>
/// Why no network rather than a bridge with rules: a bridge's isolation (no ICC, no masquerading) is made of the
/// engine's iptables rules, and where the engine runs without them (<c>dockerd --iptables=false</c>, Podman's
/// Docker-compatible API, which ignores those options) a model on a bridge can reach the host's bridge address, other
/// runs' containers and, with its bridge source address, other hosts. A container created with network mode
/// <c>none</c> has only its own loopback: nothing to route anywhere, on any engine, with no firewall to keep. InfraMind
/// reaches the model's port from inside the container's namespace (<see cref="ContainerConnector"/>), and hooks run
/// through the engine's exec, which needs no network either.
/// </remarks>
internal static class IsolationPolicy
{
    public const string NetworkMode = "none";

    public static string ResourceName(string runId) => "inframind-" + runId;

    public static Dictionary<string, string> Labels(string runId, IReadOnlyDictionary<string, string>? extra = null)
    {
        var labels = extra is null ? [] : new Dictionary<string, string>(extra);
        labels[ManagedLabels.Managed] = "true";
        labels[ManagedLabels.Run] = runId;
        return labels;
    }

    /// <summary>Bytes of one file of a container's output kept by the engine (json-file and local drivers).</summary>
    public const long LogFileBytes = 8L << 20;

    /// <summary>Files of a container's output the engine keeps, the oldest dropped first.</summary>
    public const int LogFiles = 2;

    /// <param name="podman">
    /// The engine is Podman, whose Docker-compatible API sets an RLIMIT_NPROC of its own unless told (4194304), above
    /// what the container's init may raise it to once its capabilities are dropped: the start fails ("error setting
    /// rlimit type 6: operation not permitted"; seen here even at 65536). Docker sets none. There it is the pids limit:
    /// the container's processes are bounded by that number anyway, root in a container is exempt from nproc, and for
    /// another user it counts that user's processes on the whole machine, which a model is not meant to share.
    /// </param>
    /// <param name="loggingDriver">
    /// The engine's default log driver. For the two that keep a container's output in files of the engine's own
    /// (json-file, Docker's default, and local), the files are bounded (<see cref="LogFileBytes"/> ×
    /// <see cref="LogFiles"/>): a model writing to stdout as fast as it can would otherwise fill the node's disk. Other
    /// drivers (journald, syslog …) are the operator's to bound and are left as the engine has them; so is Podman.
    /// </param>
    public static CreateContainerParameters Container(ContainerSpec spec, string runId, bool podman = false, string? loggingDriver = null)
    {
        var host = new HostConfig
        {
            NetworkMode = NetworkMode,
            CapDrop = ["ALL"],
            SecurityOpt = ["no-new-privileges"],
            PidsLimit = spec.PidsLimit,
            // Soft = hard: a model cannot raise it, and an engine that would default to more than its own limit allows
            // (Podman here asks for 1048576 and fails the start) gets a value it can set.
            Ulimits = podman
                ? [new Ulimit { Name = "nofile", Soft = spec.OpenFilesLimit, Hard = spec.OpenFilesLimit }, new Ulimit { Name = "nproc", Soft = spec.PidsLimit, Hard = spec.PidsLimit }]
                : [new Ulimit { Name = "nofile", Soft = spec.OpenFilesLimit, Hard = spec.OpenFilesLimit }],
            NanoCPUs = spec.CpuMillicores * 1_000_000,
            Memory = spec.MemoryBytes,
            // Swap equal to memory means no swap: a model over its limit is OOM-killed, not slowed down to a crawl.
            MemorySwap = spec.MemoryBytes,
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            AutoRemove = false,
        };
        if (!podman && loggingDriver is "json-file" or "local")
        {
            host.LogConfig = new LogConfig
            {
                Type = loggingDriver,
                Config = new Dictionary<string, string>
                {
                    ["max-size"] = (LogFileBytes >> 20).ToString(System.Globalization.CultureInfo.InvariantCulture) + "m",
                    ["max-file"] = LogFiles.ToString(System.Globalization.CultureInfo.InvariantCulture),
                },
            };
        }

        if (spec.GpuCount > 0)
        {
            host.DeviceRequests = [new DeviceRequest { Count = spec.GpuCount, Capabilities = [["gpu"]] }];
        }

        return new CreateContainerParameters
        {
            Name = ResourceName(runId),
            Image = spec.Image,
            Cmd = spec.Command?.ToList(),
            Env = spec.Environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = Labels(runId, spec.Labels),
            HostConfig = host,
        };
    }
}

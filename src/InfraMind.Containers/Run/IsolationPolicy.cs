using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>
/// DESIGN.md's isolation policy as engine requests: one bridge network per run, no egress, no inter-container
/// traffic, the model port published on 127.0.0.1 only, all capabilities dropped, no-new-privileges, limits.
/// </summary>
/// <remarks>
/// Why the network is not <c>internal</c>: on an internal bridge the engine publishes no ports at all (seen on
/// Engine 20.10: <c>docker port</c> is empty and nothing listens), and the model must be reachable on 127.0.0.1.
/// So the network is a normal bridge with IP masquerading off: a packet a container sends off the host leaves with
/// its private bridge source address, which nothing beyond the host routes back, so no connection out can be made.
/// With dockerd started <c>--iptables=false</c> (scripts/setup-engine.sh) the engine installs no NAT rules at all,
/// which is the same outcome. ICC off keeps containers of different runs from talking to each other should they
/// ever share a network, and the host binding default of 127.0.0.1 keeps any port published without an explicit
/// address (there should be none) off the machine's other interfaces.
/// </remarks>
internal static class IsolationPolicy
{
    public const string LoopbackAddress = "127.0.0.1";
    public const string IccOption = "com.docker.network.bridge.enable_icc";
    public const string MasqueradeOption = "com.docker.network.bridge.enable_ip_masquerade";
    public const string HostBindingOption = "com.docker.network.bridge.host_binding_ipv4";

    /// <summary>The bridge options of every run's network: no ICC, no masquerading, host bindings on loopback.</summary>
    private static readonly KeyValuePair<string, string>[] NetworkOptions =
    [
        new(IccOption, "false"),
        new(MasqueradeOption, "false"),
        new(HostBindingOption, LoopbackAddress),
    ];

    public static string ResourceName(string runId) => "inframind-" + runId;

    /// <summary>
    /// The policy's network options that an engine said it ignored in the warning of its network-create answer
    /// (Podman 4.3: "\"com.docker.network.bridge.enable_ip_masquerade: false\" is not a recognized option"). A run on
    /// such a network would not have the isolation the policy promises, so it must not start.
    /// </summary>
    public static IReadOnlyList<string> IgnoredOptions(string? warning) =>
        string.IsNullOrWhiteSpace(warning)
            ? []
            : [.. NetworkOptions.Select(o => o.Key).Where(o => warning.Contains(o, StringComparison.Ordinal))];

    public static Dictionary<string, string> Labels(string runId, IReadOnlyDictionary<string, string>? extra = null)
    {
        var labels = extra is null ? [] : new Dictionary<string, string>(extra);
        labels[ManagedLabels.Managed] = "true";
        labels[ManagedLabels.Run] = runId;
        return labels;
    }

    public static NetworksCreateParameters Network(string runId, IReadOnlyDictionary<string, string>? extraLabels = null) => new()
    {
        Name = ResourceName(runId),
        Driver = "bridge",
        CheckDuplicate = true,
        Internal = false,
        Options = new Dictionary<string, string>(NetworkOptions),
        Labels = Labels(runId, extraLabels),
    };

    public static CreateContainerParameters Container(ContainerSpec spec, string runId, string networkName)
    {
        var port = PortKey(spec.ContainerPort);
        var host = new HostConfig
        {
            NetworkMode = networkName,
            PortBindings = new Dictionary<string, IList<PortBinding>>
            {
                // An empty HostPort asks the engine for an ephemeral port; we read it back after start.
                [port] = [new PortBinding { HostIP = LoopbackAddress, HostPort = "" }],
            },
            CapDrop = ["ALL"],
            SecurityOpt = ["no-new-privileges"],
            PidsLimit = spec.PidsLimit,
            NanoCPUs = spec.CpuMillicores * 1_000_000,
            Memory = spec.MemoryBytes,
            // Swap equal to memory means no swap: a model over its limit is OOM-killed, not slowed down to a crawl.
            MemorySwap = spec.MemoryBytes,
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            AutoRemove = false,
        };
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
            ExposedPorts = new Dictionary<string, EmptyStruct> { [port] = default },
            HostConfig = host,
        };
    }

    public static string PortKey(int containerPort) => $"{containerPort}/tcp";
}

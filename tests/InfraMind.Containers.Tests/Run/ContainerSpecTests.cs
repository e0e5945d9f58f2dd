using InfraMind.Containers.Run;

namespace InfraMind.Containers.Tests.Run;

public sealed class ContainerSpecTests
{
    [Fact]
    public void A_sound_spec_has_no_errors()
    {
        var spec = new ContainerSpec { Image = "summarizer-v1:0.4.2", ContainerPort = 9000, CpuMillicores = 2000, MemoryBytes = 4L << 30, RunId = "run-1" };
        Assert.Empty(spec.Validate());
        Assert.Equal(256, spec.PidsLimit);
    }

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var spec = new ContainerSpec
        {
            Image = " ",
            ContainerPort = 70000,
            CpuMillicores = -1,
            MemoryBytes = 1024,
            GpuCount = -1,
            PidsLimit = 0,
            RunId = "Bad Id",
            Command = [],
            Environment = new Dictionary<string, string> { ["A=B"] = "x" },
        };
        var errors = spec.Validate();
        Assert.Equal(9, errors.Count);
        Assert.Contains(errors, e => e.Contains("ContainerPort 70000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("6 MiB", StringComparison.Ordinal));
    }

    [Fact]
    public void Policy_gives_no_network_drops_capabilities_and_limits()
    {
        var spec = new ContainerSpec
        {
            Image = "img",
            ContainerPort = 9000,
            CpuMillicores = 1500,
            MemoryBytes = 64 << 20,
            GpuCount = 1,
            Labels = new Dictionary<string, string> { [ManagedLabels.Run] = "spoofed", ["team"] = "a" },
        };
        var p = IsolationPolicy.Container(spec, "r1");
        Assert.Equal("none", p.HostConfig.NetworkMode);
        Assert.Null(p.HostConfig.PortBindings);
        Assert.Null(p.ExposedPorts);
        Assert.Equal(["ALL"], p.HostConfig.CapDrop);
        Assert.Equal(["no-new-privileges"], p.HostConfig.SecurityOpt);
        Assert.Equal(1_500_000_000, p.HostConfig.NanoCPUs);
        Assert.Equal(64 << 20, p.HostConfig.Memory);
        Assert.Equal(64 << 20, p.HostConfig.MemorySwap);
        Assert.Equal(256, p.HostConfig.PidsLimit);
        var nofile = Assert.Single(p.HostConfig.Ulimits);
        Assert.Equal(("nofile", 4096L, 4096L), (nofile.Name, nofile.Soft, nofile.Hard));
        Assert.Equal("r1", p.Labels[ManagedLabels.Run]);
        Assert.Equal("true", p.Labels[ManagedLabels.Managed]);
        Assert.Equal("a", p.Labels["team"]);
        Assert.Equal(1, Assert.Single(p.HostConfig.DeviceRequests).Count);

        // Podman sets an nproc limit of its own that its runtime cannot apply: there it is the pids limit.
        var podman = IsolationPolicy.Container(spec, "r1", podman: true);
        Assert.Equal([("nofile", 4096L, 4096L), ("nproc", 256L, 256L)], podman.HostConfig.Ulimits.Select(u => (u.Name, u.Soft, u.Hard)));

        // The output files of the engine's own drivers are bounded; other drivers, and Podman, keep the engine's settings.
        foreach (var driver in new[] { "json-file", "local" })
        {
            var bounded = IsolationPolicy.Container(spec, "r1", loggingDriver: driver).HostConfig.LogConfig;
            Assert.Equal(driver, bounded.Type);
            Assert.Equal(new Dictionary<string, string> { ["max-size"] = "8m", ["max-file"] = "2" }, bounded.Config);
        }

        Assert.Null(p.HostConfig.LogConfig);
        Assert.Null(IsolationPolicy.Container(spec, "r1", loggingDriver: "journald").HostConfig.LogConfig);
        Assert.Null(IsolationPolicy.Container(spec, "r1", podman: true, loggingDriver: "json-file").HostConfig.LogConfig);
    }

    [Theory]
    [InlineData(63L)]
    [InlineData((1L << 20) + 1)]
    public void An_open_files_limit_out_of_range_is_refused(long limit)
    {
        var spec = new ContainerSpec { Image = "img", ContainerPort = 9000, OpenFilesLimit = limit };
        Assert.Contains(spec.Validate(), e => e.StartsWith($"OpenFilesLimit {limit}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_interfaces_of_a_namespace_are_read_from_its_proc_net_dev()
    {
        const string LoopbackOnly = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
            """;
        Assert.Equal(["lo"], NamespaceThread.InterfacesOf(LoopbackOnly));
        Assert.Equal(["eth0", "lo"], NamespaceThread.InterfacesOf(LoopbackOnly + "\n  eth0: 1296 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"));
        Assert.Empty(NamespaceThread.InterfacesOf(""));
    }

    [Fact]
    public void The_pids_cgroup_is_found_in_v1_and_v2_listings()
    {
        Assert.Equal("/sys/fs/cgroup/pids/docker/abc", ContainerNamespace.PidsCgroupOf("9:name=systemd:/docker/abc\n8:pids:/docker/abc\n0::/docker/abc\n"));
        Assert.Equal("/sys/fs/cgroup/system.slice/docker-abc.scope", ContainerNamespace.PidsCgroupOf("0::/system.slice/docker-abc.scope\n"));
        Assert.Null(ContainerNamespace.PidsCgroupOf("7:blkio:/docker/abc\n"));
    }
}

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
    public void Policy_drops_capabilities_limits_and_publishes_on_loopback_only()
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
        var p = IsolationPolicy.Container(spec, "r1", "inframind-r1");
        Assert.Equal(["ALL"], p.HostConfig.CapDrop);
        Assert.Equal(["no-new-privileges"], p.HostConfig.SecurityOpt);
        Assert.Equal(1_500_000_000, p.HostConfig.NanoCPUs);
        Assert.Equal(64 << 20, p.HostConfig.Memory);
        Assert.Equal(64 << 20, p.HostConfig.MemorySwap);
        Assert.Equal(256, p.HostConfig.PidsLimit);
        var binding = Assert.Single(p.HostConfig.PortBindings["9000/tcp"]);
        Assert.Equal("127.0.0.1", binding.HostIP);
        Assert.Equal("", binding.HostPort);
        Assert.Equal("r1", p.Labels[ManagedLabels.Run]);
        Assert.Equal("true", p.Labels[ManagedLabels.Managed]);
        Assert.Equal("a", p.Labels["team"]);
        Assert.Equal(1, Assert.Single(p.HostConfig.DeviceRequests).Count);

        var n = IsolationPolicy.Network("r1");
        Assert.False(n.Internal);
        Assert.Equal("false", n.Options[IsolationPolicy.IccOption]);
        Assert.Equal("false", n.Options[IsolationPolicy.MasqueradeOption]);
    }

    [Fact]
    public void An_engine_warning_that_it_ignored_a_policy_option_is_recognised()
    {
        // Podman 4.3.1's answer to the network create, word for word.
        Assert.Equal([IsolationPolicy.MasqueradeOption],
            IsolationPolicy.IgnoredOptions("\"com.docker.network.bridge.enable_ip_masquerade: false\" is not a recognized option"));
        Assert.Empty(IsolationPolicy.IgnoredOptions(null));
        Assert.Empty(IsolationPolicy.IgnoredOptions(""));
        Assert.Empty(IsolationPolicy.IgnoredOptions("network with name x already exists"));
    }
}

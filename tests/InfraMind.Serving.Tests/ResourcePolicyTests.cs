using InfraMind.Manifest;

namespace InfraMind.Serving.Tests;

public sealed class ResourcePolicyTests
{
    private const long Gi = 1024L * 1024 * 1024;
    private static readonly NodeCapacity Machine = new(2000, 8 * Gi, 0);

    [Fact]
    public void A_node_offers_its_machine_times_the_ratios_and_never_shares_gpus()
    {
        Assert.Equal(Machine, ResourcePolicy.Exclusive.Offered(Machine));
        Assert.Equal(new NodeCapacity(8000, 8 * Gi, 0), ResourcePolicy.SharedMachine.Offered(Machine));
        Assert.Equal(new NodeCapacity(3000, 12 * Gi, 1), new ResourcePolicy(1.5, 1.5).Offered(Machine with { GpuCount = 1 }));
    }

    [Fact]
    public void Only_limits_beyond_the_machine_never_fit()
    {
        Assert.Null(ResourcePolicy.NeverFits(new ResourceRequest(2000, 8 * Gi, 0), Machine));
        Assert.Contains("more than this node's machine has (2000m)", ResourcePolicy.NeverFits(new ResourceRequest(2001, Gi, 0), Machine), StringComparison.Ordinal);
        Assert.Contains("memory", ResourcePolicy.NeverFits(new ResourceRequest(1000, 9 * Gi, 0), Machine), StringComparison.Ordinal);
        Assert.Contains("GPU", ResourcePolicy.NeverFits(new ResourceRequest(1000, Gi, 1), Machine), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(1, 17)]
    [InlineData(double.NaN, 1)]
    public void Ratios_outside_1_to_16_are_refused(double cpu, double memory)
    {
        var problem = Assert.Single(new ResourcePolicy(cpu, memory).Validate());
        Assert.Contains("must be between 1 and 16", problem, StringComparison.Ordinal);
    }
}

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

    [Fact]
    public void Nothing_fits_or_is_offered_without_a_machine_or_a_need()
    {
        Assert.Throws<ArgumentNullException>(() => ResourcePolicy.Exclusive.Offered(null!));
        Assert.Throws<ArgumentNullException>(() => ResourcePolicy.NeverFits(null!, Machine));
        Assert.Throws<ArgumentNullException>(() => ResourcePolicy.NeverFits(new ResourceRequest(1, 1, 0), null!));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(16, 16)]
    [InlineData(4, 1)]
    public void Ratios_from_1_to_16_are_valid(double cpu, double memory) => Assert.Empty(new ResourcePolicy(cpu, memory).Validate());

    [Theory]
    [InlineData(0.5, 1, "the CPU overcommit ratio 0.5")]
    [InlineData(0.999, 1, "the CPU overcommit ratio 0.999")]
    [InlineData(1, 16.001, "the memory overcommit ratio 16.001")]
    [InlineData(1, 17, "the memory overcommit ratio 17")]
    [InlineData(double.NaN, 1, "the CPU overcommit ratio NaN")]
    public void Ratios_outside_1_to_16_are_refused(double cpu, double memory, string which) =>
        Assert.Equal($"{which} must be between 1 and 16", Assert.Single(new ResourcePolicy(cpu, memory).Validate()));

    [Fact]
    public void Both_ratios_are_checked() => Assert.Equal(2, new ResourcePolicy(0, double.PositiveInfinity).Validate().Count);
}

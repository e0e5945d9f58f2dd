using InfraMind.Containers;

namespace InfraMind.Conformance.Tests;

/// <summary>When a readiness failure says how many processes the model holds: half its pids limit or more.</summary>
public sealed class CrowdedTests
{
    [Theory]
    [InlineData(127L, 256L, "")]
    [InlineData(128L, 256L, "; 128 of its 256 processes and threads in use")]
    [InlineData(256L, 256L, "; 256 of its 256 processes and threads in use")]
    [InlineData(500L, null, "")]
    public void Names_the_processes_from_half_the_limit(long current, long? limit, string expected) =>
        Assert.Equal(expected, ContainerDiagnosis.Crowded(new PidsUsage(current, limit, 0)));

    [Fact]
    public void Says_nothing_without_a_readable_cgroup() => Assert.Equal("", ContainerDiagnosis.Crowded(null));
}

using InfraMind.Containers;
using InfraMind.Serving;

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

/// <summary>When a failure is the pids limit: a refused fork, read from what the caller has already read.</summary>
public sealed class PidsLimitTests
{
    [Fact]
    public void A_refused_fork_is_pids_limit_reached_with_the_counts_and_the_logs()
    {
        var result = ContainerDiagnosis.PidsLimit("readiness", new PidsUsage(256, 256, 3), "fork: Resource temporarily unavailable");
        Assert.NotNull(result);
        Assert.Equal(Verdict.PidsLimitReached, result.Verdict);
        Assert.Equal(
            "the model ran into its limit of 256 processes and threads (3 fork(s) refused, 256 running): a fork bomb or a process/thread leak; " +
            "last log lines: fork: Resource temporarily unavailable", result.Detail);
    }

    [Theory]
    [InlineData(256L, 256L, 0L)]
    [InlineData(10L, null, 0L)]
    public void No_refused_fork_is_no_verdict(long current, long? limit, long refused) =>
        Assert.Null(ContainerDiagnosis.PidsLimit("readiness", new PidsUsage(current, limit, refused), "logs"));

    [Fact]
    public void No_readable_cgroup_is_no_verdict() => Assert.Null(ContainerDiagnosis.PidsLimit("readiness", null, "logs"));
}

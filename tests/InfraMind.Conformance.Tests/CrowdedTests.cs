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

/// <summary>What an exited container's verdict says: a memory kill, SIGKILL's code without one on record, its own code.</summary>
public sealed class ExitTests
{
    [Fact]
    public void A_memory_kill_is_oom_killed_whatever_the_code()
    {
        var (verdict, detail) = ContainerDiagnosis.Exit(new ContainerStatus("exited", false, 137, true, null));
        Assert.Equal(Verdict.OomKilled, verdict);
        Assert.Equal("the container was killed for running out of memory (limit from resources.memory); exit code 137", detail);
    }

    [Fact]
    public void Sigkills_code_without_a_memory_kill_is_an_exit_that_names_the_possible_causes()
    {
        var (verdict, detail) = ContainerDiagnosis.Exit(new ContainerStatus("exited", false, 137, false, null));
        Assert.Equal(Verdict.ContainerExited, verdict);
        Assert.StartsWith("the container exited with code 137 (SIGKILL's) with no out-of-memory kill on record", detail, StringComparison.Ordinal);
        Assert.Contains("check resources.memory", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(7L)]
    [InlineData(143L)]
    public void Any_other_code_is_that_exit(long code)
    {
        var (verdict, detail) = ContainerDiagnosis.Exit(new ContainerStatus("exited", false, code, false, null));
        Assert.Equal(Verdict.ContainerExited, verdict);
        Assert.Equal($"the container exited with code {code}", detail);
    }
}

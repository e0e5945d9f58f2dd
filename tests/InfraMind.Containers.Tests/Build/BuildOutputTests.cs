using Docker.DotNet.Models;
using InfraMind.Containers.Build;

namespace InfraMind.Containers.Tests.Build;

public sealed class BuildOutputTests
{
    [Fact]
    public void Lines_split_across_messages_are_joined_and_the_failing_step_is_kept()
    {
        var lines = new List<string>();
        var output = new BuildOutput(new SyncProgress(lines));
        output.Report(new JSONMessage { Stream = "Step 1/3 : FROM python:3.10-slim\n ---> 5d04" });
        output.Report(new JSONMessage { Stream = "0389903c\nStep 2/3 : RUN exit 7\n" });
        output.Report(new JSONMessage { Stream = " ---> Running in abc\n" });
        output.Report(new JSONMessage { Error = new JSONError { Code = 7, Message = "The command '/bin/sh -c exit 7' returned a non-zero code: 7" } });

        Assert.Equal("Step 2/3 : RUN exit 7", output.CurrentStep);
        Assert.Equal("The command '/bin/sh -c exit 7' returned a non-zero code: 7", output.Error);
        Assert.Equal(" ---> 5d040389903c", lines[1]);
        Assert.Contains("ERROR: The command", output.Tail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Step 1/3 : FROM python:3.10-slim", "python:3.10-slim")]
    [InlineData("Step 1/3 : from python:3.10-slim AS base", "python:3.10-slim")]
    [InlineData("Step 1/3 : FROM --platform=linux/amd64 inframind-test-missing-base:0", "inframind-test-missing-base:0")]
    [InlineData("STEP 1/3: FROM inframind-test-missing-base:0", "inframind-test-missing-base:0")]
    [InlineData("Step 1/3 : FROM ${BASE}", null)]
    [InlineData("Step 1/3 : FROM scratch", null)]
    [InlineData("Step 2/3 : RUN echo FROM x", null)]
    [InlineData(null, null)]
    public void A_from_step_names_its_image(string? step, string? image)
    {
        Assert.Equal(image, BuildOutput.FromImage(step));
    }

    [Fact]
    public void Podmans_step_lines_are_steps_too()
    {
        var output = new BuildOutput(null);
        output.Report(new JSONMessage { Stream = "STEP 1/2: FROM inframind-test-missing-base:0\n" });
        Assert.Equal("STEP 1/2: FROM inframind-test-missing-base:0", output.CurrentStep);
    }

    private sealed class SyncProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}

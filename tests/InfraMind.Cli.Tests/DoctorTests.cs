using System.Text.Json;
using InfraMind.Containers;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra doctor`: whether runs are isolated, found out the way a run finds out (a throwaway container, entered).</summary>
[Collection(EngineTests.Name)]
public sealed class DoctorTests : IDisposable
{
    private static readonly Dictionary<string, string> CheckLabel = new() { ["org.inframind.doctor"] = "isolation" };
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Doctor_reports_isolation_enforced_and_leaves_nothing()
    {
        using var engine = await TestEngine.ConnectAsync();
        var report = await _cli.RunJsonAsync(0, "doctor", "--image", TestEngine.BaseImage, "--json");
        var isolation = report.GetProperty("isolation");
        Assert.True(isolation.GetProperty("enforced").GetBoolean(), isolation.ToString());
        Assert.True(isolation.GetProperty("verified").GetBoolean());
        Assert.Equal(TestEngine.BaseImage, isolation.GetProperty("image").GetString());
        Assert.Equal(["lo"], isolation.GetProperty("interfaces").EnumerateArray().Select(i => i.GetString()));

        var (code, output, _) = await _cli.RunAsync("doctor", "--image", TestEngine.BaseImage);
        Assert.Equal(0, code);
        Assert.Contains("isolation enforced: entered the network namespace of a container of python:3.10-slim: it holds only lo", output, StringComparison.Ordinal);
        Assert.Empty((await engine.PruneAsync(CheckLabel, null, CancellationToken.None)).Containers);
    }

    [SkippableFact]
    public async Task Doctor_without_the_right_to_enter_namespaces_says_isolation_is_not_enforced_with_exit_3()
    {
        using var engine = await TestEngine.ConnectAsync();
        var psi = TestCommandTests.Unprivileged(InfraProcess.StartInfo(_cli.Home, "doctor", "--image", TestEngine.BaseImage, "--json"));
        var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
        Assert.True(code == 3, $"exit {code}: {output}\n{err}");
        // The one error contract: the failure as {"error": …} on stdout, "error IM3009: …" and its hint on stderr.
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM3009", error.GetProperty("code").GetString());
        Assert.Contains("isolation cannot be enforced", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("CAP_SYS_ADMIN", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("infra doctor", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.Contains("error IM3009:", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
        Assert.Empty((await engine.PruneAsync(CheckLabel, null, CancellationToken.None)).Containers);
    }

    [SkippableFact]
    public async Task Doctor_with_no_image_that_can_run_sleep_says_isolation_is_not_verified()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var tiny = await TinyImage.EnsureAsync(engine);
        var report = await _cli.RunJsonAsync(0, "doctor", "--image", tiny, "--json");
        var isolation = report.GetProperty("isolation");
        Assert.False(isolation.GetProperty("enforced").GetBoolean());
        Assert.False(isolation.GetProperty("verified").GetBoolean());
        Assert.Contains("could run `sleep`", isolation.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty((await engine.PruneAsync(CheckLabel, null, CancellationToken.None)).Containers);
    }

    [SkippableFact]
    public async Task Doctor_with_an_image_the_engine_does_not_have_fails_with_IM3006()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var missing = "inframind-doctor-missing:" + Guid.NewGuid().ToString("N")[..12];
        Assert.False(await engine.ImageExistsAsync(missing, CancellationToken.None));

        var (code, output, err) = await _cli.RunAsync("doctor", "--image", missing, "--json");

        Assert.True(code == 1, $"exit {code}\n{output}\n{err}");
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM3006", error.GetProperty("code").GetString());
        Assert.Equal($"--image {missing} is not in the engine; doctor never pulls an image", error.GetProperty("message").GetString());
        Assert.Contains("infra build DIR", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("isolation", output, StringComparison.Ordinal);
        Assert.Empty((await engine.PruneAsync(CheckLabel, null, CancellationToken.None)).Containers);
    }
}

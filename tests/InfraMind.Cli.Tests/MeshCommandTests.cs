using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra mesh up` as a user runs it: serves a package through the gateway; Ctrl-C stops it and leaves nothing.</summary>
[Collection(EngineTests.Name)]
public sealed partial class MeshCommandTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Mesh_up_serves_a_package_and_ctrl_c_removes_every_container()
    {
        using var engine = await TestEngine.TryConnectAsync();
        if (engine is null) return;
        var dir = Path.Combine(_cli.Work, "mesh-model");
        TempDirectory.Copy(Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model"), dir);
        File.WriteAllText(Path.Combine(dir, "model.yaml"), File.ReadAllText(Path.Combine(dir, "model.yaml")).Replace("name: broken-model", "name: cli-mesh", StringComparison.Ordinal));

        using var p = Process.Start(InfraProcess.StartInfo(_cli.Home, "mesh", "up", dir, "--port", "0", "--nodes", "1", "--replicas", "1"))!;
        // Complete only when the process ends: awaited only after it did.
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            Uri? gateway = null;
            using var startup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (gateway is null && await p.StandardOutput.ReadLineAsync(startup.Token) is { } line)
                if (GatewayLine().Match(line) is { Success: true } m) gateway = new Uri(m.Groups[1].Value);
            Assert.NotNull(gateway);

            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(20) };
            var clock = Stopwatch.StartNew();
            HttpStatusCode status;
            string body;
            do
            {
                await Task.Delay(250);
                using var r = await http.PostAsync(new Uri("inference/v1/cli-mesh", UriKind.Relative), new StringContent("""{"text": "through the mesh"}""", Encoding.UTF8, "application/json"));
                status = r.StatusCode;
                body = await r.Content.ReadAsStringAsync();
            }
            while (status == HttpStatusCode.ServiceUnavailable && clock.Elapsed < TimeSpan.FromSeconds(90));
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Contains("through the mesh", body, StringComparison.Ordinal);

            Assert.Equal(0, Kill(p.Id, 2)); // SIGINT, as Ctrl-C sends
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await p.WaitForExitAsync(exit.Token);
            Assert.True(p.ExitCode == 0, await stderr);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "cli-mesh@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        Assert.Empty(leftovers.Networks);
    }

    [GeneratedRegex(@"gateway at (http://\S+)")]
    private static partial Regex GatewayLine();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

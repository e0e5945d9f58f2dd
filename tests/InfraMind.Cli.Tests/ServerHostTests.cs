using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Hosting;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A server started from a directory that is not InfraMind's takes nothing from it: ASP.NET Core's default content root
/// is the working directory, whose appsettings.json it reads (a planted Kestrel endpoint rebound the registry to a port
/// of the planter's choosing) and which it watches recursively (seconds per server from a large tree). Every server's
/// content root is the program's own directory, configuration never reloaded (Hosting's ServerOptions).
/// </summary>
public sealed class ServerHostTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Registry_and_gateway_started_in_a_strangers_directory_ignore_its_appsettings()
    {
        var stranger = Path.Combine(_cli.Work, "stranger");
        Directory.CreateDirectory(stranger);
        // Held for the whole test (bound, never listening), so no other process takes it meanwhile: a server that obeyed
        // the planted file would fail to start, and a connect there is refused.
        using var plantedPort = new ClosedPort();
        var planted = plantedPort.Port;
        await File.WriteAllTextAsync(Path.Combine(stranger, "appsettings.json"),
            $$$"""{"Kestrel": {"Endpoints": {"planted": {"Url": "http://127.0.0.1:{{{planted}}}"} } }, "urls": "http://127.0.0.1:{{{planted}}}"}""");

        await using var serving = new ServingProcesses();
        var registry = InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0", "--json");
        registry.WorkingDirectory = stranger;
        var registryUrl = new Uri((await serving.StartAsync(registry)).GetProperty("registry").GetString()!);
        var gateway = InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", "0", "--grpc-port", "0", "--registry", registryUrl.ToString(), "--json");
        gateway.WorkingDirectory = stranger;
        var gatewayUrl = new Uri((await serving.StartAsync(gateway)).GetProperty("gateway").GetString()!);

        Assert.NotEqual(planted, registryUrl.Port);
        Assert.NotEqual(planted, gatewayUrl.Port);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(registryUrl, "v1/checkpoint"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(gatewayUrl, "inference/v1"))).StatusCode);
        // Nothing listens where the planted file said.
        using var probe = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, planted));
    }

    /// <summary>
    /// A request held open (a body that never ends) does not keep a server from stopping: SIGTERM gives requests in
    /// flight a few seconds (Hosting's ServerOptions.StopGraceSeconds), then aborts them, and the command ends cleanly
    /// (exit 0) well within the 20 s the CLI allows for cleaning up. ASP.NET Core's default of 30 s let one such
    /// request hold `gateway serve` until the CLI ended it at 20 s: exit 143, nothing of its cleanup done (the registry's
    /// side, a publish whose fetch stalls, is PublishBoundaryTests'; there a publish's scratch area was left behind).
    /// </summary>
    [Fact]
    public async Task Registry_and_gateway_stop_cleanly_within_the_cleanup_budget_with_a_request_held_open()
    {
        var started = new List<(Process Process, string Name)>();
        try
        {
            var registry = Process.Start(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0", "--json"))!;
            started.Add((registry, "registry serve"));
            var registryUrl = new Uri((await UpAsync(registry)).GetProperty("registry").GetString()!);
            var gateway = Process.Start(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", "0", "--grpc-port", "0", "--registry", registryUrl.ToString(), "--json"))!;
            started.Add((gateway, "gateway serve"));
            var gatewayUrl = new Uri((await UpAsync(gateway)).GetProperty("gateway").GetString()!);
            using var toRegistry = await HoldOpenAsync(registryUrl, "/v1/entries");
            using var toGateway = await HoldOpenAsync(gatewayUrl, "/inference/v1/held");

            var wrong = new List<string>();
            foreach (var (process, name) in Enumerable.Reverse(started))
            {
                var stopping = Stopwatch.StartNew();
                Assert.Equal(0, InfraProcess.Signal(process.Id, 15));
                var stderr = process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                if (process.ExitCode != 0 || stopping.Elapsed >= TimeSpan.FromSeconds(15))
                    wrong.Add($"{name} exited {process.ExitCode} after {stopping.Elapsed.TotalSeconds:0.0} s: {await stderr}");
            }

            Assert.Empty(wrong);
        }
        finally
        {
            // A server the test could not stop cleanly does not outlive it.
            foreach (var (process, _) in started)
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync();
                }

                process.Dispose();
            }
        }
    }

    [Fact]
    public async Task Registry_serve_json_keeps_stdout_for_its_document_and_logs_a_refused_publish_on_stderr()
    {
        // Found by an audit: the registry's host kept ASP.NET Core's console logger, which writes to stdout, so a refused
        // publish printed "warn: …" after the --json document a script was reading.
        using var registry = Process.Start(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0", "--json"))!;
        try
        {
            var registryUrl = new Uri((await UpAsync(registry)).GetProperty("registry").GetString()!);
            var stderr = registry.StandardError.ReadToEndAsync();
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
            using (var refused = await http.PostAsync(new Uri(registryUrl, "v1/entries"), new StringContent("not an envelope", Encoding.UTF8, "application/json")))
                Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

            Assert.Equal(0, InfraProcess.Signal(registry.Id, 15));
            var rest = await registry.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
            await registry.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal("", rest.Trim());
            Assert.Contains("Publish refused: IM", await stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (!registry.HasExited)
            {
                registry.Kill();
                await registry.WaitForExitAsync();
            }
        }
    }

    private static async Task<System.Text.Json.JsonElement> UpAsync(Process p)
    {
        var text = new StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (await p.StandardOutput.ReadLineAsync(limit.Token) is { } line)
        {
            text.AppendLine(line);
            if (line == "}") return System.Text.Json.JsonDocument.Parse(text.ToString()).RootElement.Clone();
        }

        throw new Xunit.Sdk.XunitException($"exited before it was up: {text}{await p.StandardError.ReadToEndAsync()}");
    }

    /// <summary>A POST whose body announces 1000 bytes and sends 10: the server reads it for as long as the connection lives.</summary>
    private static async Task<TcpClient> HoldOpenAsync(Uri server, string path)
    {
        var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"inputs\":"));
        await Task.Delay(500);
        return client;
    }
}

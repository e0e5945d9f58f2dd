using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A server started from a directory that is not InfraMind's takes nothing from it: ASP.NET Core's default content root
/// is the working directory, whose appsettings.json it reads (a planted Kestrel endpoint rebound the registry to a port
/// of the planter's choosing) and which it watches recursively (seconds per server from a large tree). Every server's
/// content root is the program's own directory, configuration never reloaded (Serving's ServerOptions).
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
        var planted = FreePort();
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

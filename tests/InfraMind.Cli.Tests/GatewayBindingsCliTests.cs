using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `infra gateway serve` keeps the node ids it bound in $INFRAMIND_HOME/mesh/gateways/PORT.nodes.json: stopped and
/// started again on its port, it refuses a stranger's claim to an id and takes its node's own credential; a damaged
/// file stops the start with IM6052, exit 1, in --json too.
/// </summary>
public sealed class GatewayBindingsCliTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private string BindingsFile(int port) => Path.Combine(_cli.Home, "mesh", "gateways", $"{port}.nodes.json");

    private async Task<Uri> StartAsync(ServingProcesses serving, int port) =>
        new((await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--grpc-port", "0", "--json"))).GetProperty("gateway").GetString()!);

    private async Task<HttpResponseMessage> RegisterAsync(HttpClient http, Uri gateway, string? credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "mesh/v1/nodes"))
        {
            Content = JsonContent.Create(new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(1000, 1L << 30, 0),
                new Dictionary<string, string>(), TimeSpan.FromSeconds(5)), options: MeshJson.Options),
        };
        MeshToken.Authorize(request.Headers, (await File.ReadAllTextAsync(Path.Combine(_cli.Home, "mesh", "node-token"))).Trim());
        if (credential is not null) request.Headers.Add(MeshHeaders.NodeCredential, credential);
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task A_restarted_gateway_serve_still_binds_each_id_to_its_node()
    {
        var port = PeerProcess.FreePort();
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
        string credential;
        await using (var first = new ServingProcesses())
        {
            var gateway = await StartAsync(first, port);
            using var registered = await RegisterAsync(http, gateway, null);
            Assert.Equal(HttpStatusCode.OK, registered.StatusCode);
            credential = (await registered.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        }

        // Stopped (SIGTERM): the file holds the binding, owner-only.
        var file = BindingsFile(port);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Contains(credential, await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        await using (var second = new ServingProcesses())
        {
            var gateway = await StartAsync(second, port);
            using (var stranger = await RegisterAsync(http, gateway, null))
            {
                Assert.Equal(HttpStatusCode.Conflict, stranger.StatusCode);
                Assert.Equal("IM6019", JsonDocument.Parse(await stranger.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
            }

            using var owner = await RegisterAsync(http, gateway, credential);
            Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
            Assert.Equal(credential, (await owner.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential);
        }
    }

    [Fact]
    public async Task A_damaged_bindings_file_stops_gateway_serve_with_IM6052_exit_1()
    {
        var port = PeerProcess.FreePort();
        Directory.CreateDirectory(Path.GetDirectoryName(BindingsFile(port))!);
        await File.WriteAllTextAsync(BindingsFile(port), """{"version":1,"nodes":[{"credential":"x"}]}""");
        var (code, stdout, _) = await InfraProcess.RunAsync(_cli.Home, "gateway", "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "0", "--json");
        Assert.Equal(1, code);
        var error = JsonDocument.Parse(stdout).RootElement.GetProperty("error");
        Assert.Equal("IM6052", error.GetProperty("code").GetString());
        Assert.Contains("binding 1 has no registration or no credential", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}

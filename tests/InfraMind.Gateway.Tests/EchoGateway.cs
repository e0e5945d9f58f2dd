using System.Net;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>A gateway with its gRPC ingress and one fake node (n1), ready with echo, which answers {"summary":"ok"}.</summary>
internal static class EchoGateway
{
    public static async Task<(GatewayHost Gateway, FakeNode Node)> StartAsync()
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        var token = MeshToken.Create();
        var gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = token, Replicas = 1, GrpcListenUrl = "http://127.0.0.1:0" }, catalog, CancellationToken.None);
        var node = new FakeNode(gateway.Url, token);
        using (var r = await node.RegisterAsync("n1")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await node.ReadyAsync("n1");
        return (gateway, node);
    }
}

using System.Net;
using InfraMind.Cli.Commands.Serving;

namespace InfraMind.Cli.Tests;

/// <summary>Where the gateway's V2 gRPC ingress listens for each --port / --grpc-port combination.</summary>
public sealed class GrpcPortTests
{
    [Theory]
    [InlineData(8080, null, "http://127.0.0.1:8081")] // default: the gateway's port + 1
    [InlineData(0, null, "http://127.0.0.1:0")] // the gateway on a free port: the ingress on one too
    [InlineData(8080, 9000, "http://127.0.0.1:9000")]
    [InlineData(0, 9000, "http://127.0.0.1:9000")]
    [InlineData(8080, 0, null)] // 0: no ingress
    public void The_ingress_port_follows_the_gateway_unless_named(int port, int? grpcPort, string? expected) =>
        Assert.Equal(expected, ServingHosts.GrpcUrl(ListenAt.Loopback(port), grpcPort));

    [Fact]
    public void The_ingress_binds_the_gateway_address()
    {
        Assert.Equal("http://[::1]:8081", ServingHosts.GrpcUrl(new ListenAt(IPAddress.IPv6Loopback, 8080), null));
        Assert.Equal("http://0.0.0.0:8081", ServingHosts.GrpcUrl(new ListenAt(IPAddress.Any, 8080), null));
    }

    [Fact]
    public void Port_65535_has_no_default_ingress_port_and_says_what_to_pass()
    {
        var e = Assert.Throws<InfraMindException>(() => ServingHosts.GrpcUrl(ListenAt.Loopback(65535), null));
        Assert.Equal(CliErrorCodes.UsageError, e.Code);
        Assert.Contains("--grpc-port", e.Hint, StringComparison.Ordinal);
        Assert.Equal("http://127.0.0.1:65534", ServingHosts.GrpcUrl(ListenAt.Loopback(65535), 65534));
    }
}

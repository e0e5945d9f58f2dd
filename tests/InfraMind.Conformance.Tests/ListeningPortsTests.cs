namespace InfraMind.Conformance.Tests;

public sealed class ListeningPortsTests
{
    private const string Proc = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0B00007F:A5F7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
           1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
           2: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
           3: 0100007F:2328 0100007F:B1C2 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0
          sl  local_address                         remote_address                        st tx_queue rx_queue
           0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000
           1: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000
        """;

    [Fact]
    public void Reads_listeners_and_ignores_established_sockets()
    {
        var listeners = ListeningPorts.Parse(Proc);
        Assert.Equal(
            [new Listener("0.0.0.0", 8080), new Listener("::", 8081), new Listener("::1", 8082), new Listener("127.0.0.1", 9000), new Listener("127.0.0.11", 42487)],
            listeners);
        // 127.0.0.1 is the container's own loopback, where InfraMind connects: only IPv6's loopback is out of reach.
        Assert.True(listeners[2].Ipv6LoopbackOnly);
        Assert.False(listeners[3].Ipv6LoopbackOnly);
        Assert.False(listeners[1].Ipv6LoopbackOnly);
    }
}

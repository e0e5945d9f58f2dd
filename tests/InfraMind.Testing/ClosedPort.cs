using System.Net;
using System.Net.Sockets;

namespace InfraMind.Testing;

/// <summary>
/// A 127.0.0.1 port where nothing listens, for as long as this lives: a socket bound to port 0 and never listening.
/// A connect is refused (RST), and no other process can take the port meanwhile, which a port picked "free" and
/// released would allow.
/// </summary>
public sealed class ClosedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public ClosedPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}

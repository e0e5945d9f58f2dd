using System.Net.Sockets;
using System.Runtime.CompilerServices;
using InfraMind.Containers;
using InfraMind.Serving;

namespace InfraMind.Node;

/// <summary>
/// How this node reaches one of its containers: the connector its job forwarding uses, and the one it hands a gateway
/// of the same process (<see cref="LocalNodes"/>). Made from the container the node started (what the engine says),
/// never from an address anyone reports. One per container, so pooled connections stay with their container.
/// </summary>
internal sealed class ContainerRoute : IModelConnector
{
    private static readonly ConditionalWeakTable<RunningContainer, ContainerRoute> Routes = [];
    private readonly RunningContainer _container;

    private ContainerRoute(RunningContainer container) => _container = container;

    public static ContainerRoute Of(RunningContainer container) => Routes.GetValue(container, c => new ContainerRoute(c));

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var address = _container.BaseAddress;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(address.Host, address.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

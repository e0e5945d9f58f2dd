using System.Net.Sockets;
using System.Runtime.CompilerServices;
using InfraMind.Containers;
using InfraMind.Serving;

namespace InfraMind.Conformance;

/// <summary>
/// How InfraMind reaches one of its containers, in the mesh's terms (<see cref="IModelConnector"/>): through the
/// container's own <see cref="ContainerConnector"/>, inside its network namespace (the container has no network and no
/// address). `infra test`'s cases, a node's pre-flight and job forwarding use it, and a node hands it to a gateway of
/// the same process (<see cref="LocalNodes"/>). Made from the container InfraMind started, never from an address anyone
/// reports. One per container, so pooled connections stay with their container.
/// </summary>
public sealed class ContainerRoute : IModelConnector
{
    private static readonly ConditionalWeakTable<RunningContainer, ContainerRoute> Routes = [];
    private readonly ContainerConnector _connector;

    private ContainerRoute(RunningContainer container) => _connector = container.Connector;

    public static ContainerRoute Of(RunningContainer container)
    {
        ArgumentNullException.ThrowIfNull(container);
        return Routes.GetValue(container, c => new ContainerRoute(c));
    }

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) =>
        new NetworkStream(await _connector.ConnectAsync(cancellationToken), ownsSocket: true);
}

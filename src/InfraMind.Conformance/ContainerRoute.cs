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

    private ContainerRoute(RunningContainer container, JobGate jobs)
    {
        _connector = container.Connector;
        Jobs = jobs;
    }

    /// <summary>The route of <paramref name="container"/>; made, the first time, with a <see cref="JobGate"/> of the default bounds.</summary>
    public static ContainerRoute Of(RunningContainer container) => Of(container, JobGate.DefaultInFlight, JobGate.DefaultQueued);

    /// <summary>
    /// The route of <paramref name="container"/>; made, the first time, with a gate of <paramref name="inFlight"/> jobs at
    /// once and <paramref name="queued"/> waiting (a node sets its bounds so as soon as it started the container).
    /// </summary>
    public static ContainerRoute Of(RunningContainer container, int inFlight, int queued)
    {
        ArgumentNullException.ThrowIfNull(container);
        return Routes.GetValue(container, c => new ContainerRoute(c, new JobGate(inFlight, queued)));
    }

    /// <inheritdoc/>
    public JobGate Jobs { get; }

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken) =>
        new NetworkStream(await _connector.ConnectAsync(cancellationToken), ownsSocket: true);
}

using System.Collections.Concurrent;

namespace InfraMind.Serving;

/// <summary>
/// Opens a fresh connection to one model container's port. Handed over in process by the node that runs the
/// container (the node's own forwarding uses the same one); never built from an address a node reports.
/// </summary>
public interface IModelConnector
{
    ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken);

    /// <summary>The jobs the container takes at once (<see cref="JobGate"/>), shared by all who send it jobs; null: unbounded.</summary>
    JobGate? Jobs => null;
}

/// <summary>A node agent of this process, as the gateway of the same process sees it.</summary>
public interface ILocalNode
{
    /// <summary>The credential the gateway issued to this node (null until it registered).</summary>
    string? Credential { get; }

    /// <summary>The connector of the model's container while it is ready on this node; null otherwise.</summary>
    IModelConnector? ConnectorOf(string name, string version);

    /// <summary>
    /// The node's signed receipt (<see cref="JobReceipts"/>) of a job the gateway of this process sent straight to its
    /// container through <see cref="ConnectorOf"/>: the node signs what went in and came out of its own container;
    /// null when the node has no key, or no longer runs the version.
    /// </summary>
    string? SignReceipt(string requestId, string name, string version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output);

    /// <summary>
    /// A job the gateway of this process sends straight to a container of this node (through <see cref="ConnectorOf"/>)
    /// begins: the node counts it with its job API's, so a graceful stop waits for it before the container stops. Each
    /// call is followed by exactly one <see cref="JobEnded"/>, whatever the outcome.
    /// </summary>
    void JobStarted();

    /// <summary>The job <see cref="JobStarted"/> counted is over.</summary>
    void JobEnded();
}

/// <summary>
/// The node agents of one process (<c>infra mesh up</c>), shared by them and the gateway of that process: the
/// gateway sends a job straight to a container only through the connector the node holding it handed over here, and
/// only when that node is the one registered under the id (it presents the credential bound to the id). A node in
/// another process is reached through its job API, at the address it registered.
/// </summary>
public sealed class LocalNodes
{
    private readonly ConcurrentDictionary<string, ILocalNode> _nodes = new(StringComparer.Ordinal);

    /// <summary>Adds <paramref name="node"/> under <paramref name="nodeId"/>; disposing the result takes it out again.</summary>
    /// <exception cref="InvalidOperationException">when another node of this process has that id.</exception>
    public IDisposable Attach(string nodeId, ILocalNode node)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentNullException.ThrowIfNull(node);
        if (!_nodes.TryAdd(nodeId, node)) throw new InvalidOperationException($"a node of this process is already attached as '{nodeId}'");
        return new Detach(() => _nodes.TryRemove(new KeyValuePair<string, ILocalNode>(nodeId, node)));
    }

    /// <summary>The node of this process attached as <paramref name="nodeId"/>, or null.</summary>
    public ILocalNode? Find(string nodeId) => _nodes.TryGetValue(nodeId, out var node) ? node : null;

    private sealed class Detach(Action action) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) action();
        }
    }
}

using System.Net;
using System.Net.Sockets;
using InfraMind.Containers.Run;

namespace InfraMind.Containers;

/// <summary>
/// The one way to a model's port. Model containers have no network at all (not the engine's bridge, no published
/// port), so there is no address to reach them by: every connection is made to 127.0.0.1:<see cref="Port"/> from inside
/// the container's own network namespace, whatever address a caller names. A connector belongs to one
/// <see cref="RunningContainer"/> and is released with it; hand it (not an address) to whatever must reach the model.
/// </summary>
/// <example>
/// <code>
/// using var http = new HttpClient(new SocketsHttpHandler { ConnectCallback = run.Connector.ConnectAsync, UseProxy = false });
/// await http.PostAsync(run.Connector.BaseAddress, content, ct);
/// </code>
/// </example>
public sealed class ContainerConnector : IDisposable
{
    private readonly NamespaceThread? _namespace;
    private int _disposed;

    internal ContainerConnector(string containerId, int port, NamespaceThread? netns)
    {
        ContainerId = containerId;
        Port = port;
        _namespace = netns;
    }

    public string ContainerId { get; }

    /// <summary>The port the model listens on inside the container (model.yaml's <c>port</c>).</summary>
    public int Port { get; }

    /// <summary>
    /// What requests name: <c>http://127.0.0.1:Port/</c>, as the model sees it from inside. The address is only ever
    /// reached through this connector (<see cref="ConnectAsync(SocketsHttpConnectionContext, CancellationToken)"/>);
    /// on this machine's own loopback nothing answers for the model.
    /// </summary>
    public Uri BaseAddress => new($"http://{IPAddress.Loopback}:{Port}/");

    /// <summary>The network interfaces inside the container when it started: only <c>lo</c>.</summary>
    public IReadOnlyList<string> Interfaces => _namespace?.Interfaces ?? [];

    /// <summary>False when the container had stopped by the time it was entered, or the connector was released: connections are refused.</summary>
    public bool IsOpen => _namespace is not null && Volatile.Read(ref _disposed) == 0;

    /// <summary>A TCP connection to the model's port inside the container; refused (<see cref="SocketError.ConnectionRefused"/>) while nothing listens.</summary>
    /// <exception cref="SocketException">The connection was refused or failed.</exception>
    public async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        if (!IsOpen) throw new SocketException((int)SocketError.ConnectionRefused);
        Socket socket;
        try
        {
            socket = await _namespace!.CreateSocketAsync().WaitAsync(cancellationToken);
        }
        catch (ObjectDisposedException)
        {
            throw new SocketException((int)SocketError.ConnectionRefused);
        }

        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="SocketsHttpHandler.ConnectCallback"/>: the requested host and port are ignored, every connection goes
    /// to this container's model port, so a redirect or a crafted URL can never lead a client bound to it anywhere else.
    /// HTTP/1.1 and HTTP/2 (gRPC) alike.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectAsync(cancellationToken), ownsSocket: true);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _namespace?.Dispose();
    }
}

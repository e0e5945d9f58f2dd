using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace InfraMind.Conformance;

/// <summary>
/// Waits until a published port really reaches a listening process. A plain connect is not enough: the engine's
/// userland proxy accepts on the host port at once and only then dials the container, closing the connection when
/// nothing listens there. So a probe connects and waits a few milliseconds: an immediate close means "not yet",
/// an open, silent connection (or a greeting) means the model accepted it.
/// </summary>
public static class ReadinessProbe
{
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(20);

    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(15);

    /// <summary>True when the port accepted within <paramref name="timeout"/>; false when the time ran out or <paramref name="stop"/> fired.</summary>
    public static async Task<bool> WaitAsync(int port, TimeSpan timeout, CancellationToken stop, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (stop.IsCancellationRequested) return false;
            var started = clock.Elapsed;
            if (await ProbeOnceAsync(port, cancellationToken)) return true;
            var wait = PollInterval - (clock.Elapsed - started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return false;
                }
            }
        }

        return false;
    }

    public static async Task<bool> ProbeOnceAsync(int port, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(TimeSpan.FromMilliseconds(200));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), connectTimeout.Token);
            // Readable with nothing to read = closed by the proxy: nothing listens behind it yet.
            if (!socket.Poll(Settle, SelectMode.SelectRead)) return true;
            return socket.Available > 0;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}

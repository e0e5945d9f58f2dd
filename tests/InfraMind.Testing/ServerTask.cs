using System.Net.Sockets;

namespace InfraMind.Testing;

/// <summary>A hand-written test server's loop (a raw TCP peer playing a hostile server), ended by the test.</summary>
public static class ServerTask
{
    /// <summary>
    /// Waits for <paramref name="serving"/>, whose token the test has just cancelled, to end. It may end by that
    /// cancellation, by the client's closed connection (a write then fails), or at its loop's own check of the token
    /// (a write that completed at once never looked at it): all are the end of the server. One that has not ended
    /// within <paramref name="within"/> (10 s by default) fails the test with TimeoutException.
    /// </summary>
    public static async Task EndedAsync(Task serving, TimeSpan? within = null)
    {
        try
        {
            await serving.WaitAsync(within ?? TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }
}

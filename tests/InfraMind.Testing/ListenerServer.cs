using System.Net;

namespace InfraMind.Testing;

/// <summary>
/// A small HTTP server inside a test, on HttpListener at a free 127.0.0.1 port, answering one request at a time with
/// <c>handle</c>. Disposing it stops it for certain: the accept and the handler both watch a token that is cancelled
/// first, so a handler that waits (a stalled blob) or an accept the listener's close does not end cannot keep the
/// test waiting. The listener is closed, not stopped: after Stop, closing re-binds the port to remove the prefix and
/// fails with "address already in use" when a parallel test has taken the port meanwhile.
/// </summary>
public sealed class ListenerServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ListenerServer(Func<HttpListenerContext, CancellationToken, Task> handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        for (var attempt = 0; ; attempt++)
        {
            // A new listener each attempt: one whose Start failed has disposed itself (its Prefixes then throw
            // ObjectDisposedException, which is how a taken port once failed a CI run instead of trying another).
            var listener = new HttpListener();
            try
            {
                Port = PeerProcess.FreePort();
                listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
                listener.Start();
                _listener = listener;
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
                // The free port was taken meanwhile: another one.
                listener.Close();
            }
        }

        _loop = Task.Run(() => LoopAsync(handle));
    }

    public int Port { get; private set; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    private async Task LoopAsync(Func<HttpListenerContext, CancellationToken, Task> handle)
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().WaitAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                await handle(context, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or HttpListenerException or IOException or ObjectDisposedException)
            {
                context.Response.Abort();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Close();
        await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

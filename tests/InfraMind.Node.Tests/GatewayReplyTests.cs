using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Tests;

/// <summary>
/// A node reads what a gateway answers within <see cref="GatewayLink.MaxReplyBytes"/>: a gateway (one the node chose,
/// but a stranger's machine) that answers with more is not read further, and the node says so and keeps trying.
/// </summary>
public sealed class GatewayReplyTests
{
    [SkippableFact]
    public async Task A_gateway_answer_over_the_limit_is_not_read_and_the_node_says_why()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        const long Announced = GatewayLink.MaxReplyBytes + (16L << 20);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        // The "gateway": whatever it is asked, a 200 announcing more bytes than the limit, sent until the node hangs up.
        var written = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var request = new byte[64 * 1024];
            _ = await stream.ReadAsync(request);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Announced}\r\n\r\n"));
            var chunk = new byte[1 << 20];
            Array.Fill(chunk, (byte)' ');
            long sent = 0;
            try
            {
                while (sent < Announced)
                {
                    await stream.WriteAsync(chunk);
                    sent += chunk.Length;
                }
            }
            catch (IOException)
            {
                // the node closed the connection: what was sent so far is the answer's length it took
            }

            return sent;
        });

        var logs = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            NodeId = "reader", Gateway = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/"),
            Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0",
        };
        await using (await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System,
                         b => b.AddProvider(new QueueLogger(logs)), CancellationToken.None))
        {
            var sent = await written.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(sent < Announced, $"the node read all {sent} bytes of an answer over its limit");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!logs.Any(l => l.Contains($"larger than {GatewayLink.MaxReplyBytes} bytes", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "no warning names the limit; logged: " + string.Join(" | ", logs));
                await Task.Delay(20);
            }
        }
    }

    private sealed class QueueLogger(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Enqueue(formatter(state, exception));
        }

        public void Dispose()
        {
        }
    }
}

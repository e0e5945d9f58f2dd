using System.Net;
using InfraMind.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfraMind.Registry.Tests.Http;

/// <summary>
/// The connection caps' own logic (ConnectionLimitsTests shows them on every running server): an IPv6 /64 counts as
/// one address, an address with no connection left holds no memory, the total holds across addresses, and a flood of
/// refusals is one log line.
/// </summary>
public sealed class ConnectionCapsTests
{
    private sealed class Lines : ILoggerProvider, ILogger
    {
        public List<string> Written { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Written) Written.Add(formatter(state, exception));
        }

        public void Dispose()
        {
        }
    }

    private static DefaultConnectionContext From(string address) => new() { RemoteEndPoint = new IPEndPoint(IPAddress.Parse(address), 40000) };

    [Fact]
    public async Task An_address_holds_at_most_the_cap_and_nothing_once_its_connections_are_gone()
    {
        var lines = new Lines();
        using var services = new ServiceCollection().AddLogging(l => l.AddProvider(lines)).BuildServiceProvider();
        var cap = new ConnectionCaps(ServerLimits.Default with { MaxConnections = 5, MaxConnectionsPerAddress = 2 });
        var release = new TaskCompletionSource();
        var reached = 0;
        var handler = cap.For(services)(async _ =>
        {
            Interlocked.Increment(ref reached);
            await release.Task;
        });

        // Two from one /64 (different hosts in it) are held; the third from the same /64 is refused without reaching the server.
        var held = new[] { handler(From("2001:db8:1:2::10")), handler(From("2001:db8:1:2::20")) };
        await handler(From("2001:db8:1:2:ffff::1"));
        Assert.Equal(2, reached);
        Assert.Equal(2, cap.HeldFrom(IPAddress.Parse("2001:db8:1:2::99")));

        // Another /64 and an IPv4 client are served meanwhile.
        var others = new[] { handler(From("2001:db8:1:3::1")), handler(From("192.0.2.7")) };
        Assert.Equal(4, reached);

        // 1,000 more refusals: one log line names them all, not a thousand.
        for (var i = 0; i < 1000; i++) await handler(From("2001:db8:1:2::30"));
        Assert.Equal(4, reached);
        var line = Assert.Single(lines.Written);
        // The first refusal is logged at once, the next ones wait for the next window.
        Assert.Contains("Refused connections, closed unread: 0 with 5 open", line, StringComparison.Ordinal);
        Assert.Contains("1 from an address holding 2", line, StringComparison.Ordinal);
        Assert.Contains("the last from 2001:db8:1:2::/64", line, StringComparison.Ordinal);

        // A fifth connection (a third address) fills the total; a sixth, from a fourth address, is refused all the same.
        var fifth = handler(From("198.51.100.1"));
        await handler(From("198.51.100.2"));
        Assert.Equal(5, reached);
        Assert.Equal(5, cap.Open);
        Assert.Single(lines.Written);

        release.SetResult();
        await Task.WhenAll(held.Concat(others).Append(fifth));
        Assert.Equal(0, cap.Addresses);
        Assert.Equal(0, cap.Open);
        await handler(From("2001:db8:1:2::10"));
        Assert.Equal(6, reached);
        Assert.Equal(0, cap.Addresses);
    }
}

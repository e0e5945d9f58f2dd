using Microsoft.Extensions.Logging;

namespace InfraMind.Node;

/// <summary>
/// The node's own log lines, each begun with the node's id ("node node-1: summarizer@1.0.0 is Ready"): `infra mesh up`
/// runs several nodes in one process, whose lines share a category and were otherwise told apart by nothing. The
/// structured fields are left as they are.
/// </summary>
internal sealed class NodeLogger(ILogger inner, string nodeId) : ILogger<NodeAgent>
{
    private readonly string _prefix = $"node {nodeId}: ";

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        inner.Log(logLevel, eventId, state, exception, (s, e) => _prefix + formatter(s, e));
}

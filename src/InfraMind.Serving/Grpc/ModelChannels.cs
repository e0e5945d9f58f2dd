using System.Runtime.CompilerServices;

namespace InfraMind.Serving.Grpc;

/// <summary>
/// One <see cref="ModelChannel"/> per container connector, so the HTTP/2 connections to a gRPC model are reused across
/// jobs (a channel per call would open a connection and run the HTTP/2 preface every time). Keyed weakly on the
/// connector: a channel goes with its container's connector; <see cref="Dispose"/> releases every channel still held.
/// Used by a node for its jobs and by a gateway for the jobs it sends straight to a container of its process.
/// </summary>
public sealed class ModelChannels(long maxAnswerBytes) : IDisposable
{
    private readonly ConditionalWeakTable<IModelConnector, ModelChannel> _channels = [];

    /// <summary>The channel to <paramref name="connector"/>'s container, which serves <paramref name="model"/> <paramref name="version"/>.</summary>
    public ModelChannel Of(IModelConnector connector, string model, string version)
    {
        ArgumentNullException.ThrowIfNull(connector);
        // Looked up first, so that the closure below is made only for a connector's first channel.
        if (_channels.TryGetValue(connector, out var channel)) return channel;
        return _channels.GetValue(connector, c => new ModelChannel(c, model, version, maxAnswerBytes));
    }

    public void Dispose()
    {
        foreach (var (_, channel) in _channels) channel.Dispose();
        _channels.Clear();
    }
}

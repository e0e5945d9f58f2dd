using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>One js-ipfs daemon per test class, started by the first test that needs it: starting one takes seconds.</summary>
public sealed class IpfsPeerFixture : IAsyncLifetime
{
    public SharedPeer<IpfsPeer> Peer { get; } = new(() => IpfsPeer.StartAsync(), p => p.DisposeAsync());

    public TempDirectory Files { get; } = new("im-ipfs-files");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Peer.DisposeAsync();
        Files.Dispose();
    }
}

using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>One js-ipfs daemon per test class: starting one takes seconds.</summary>
public sealed class IpfsPeerFixture : IAsyncLifetime
{
    public IpfsPeer? Peer { get; private set; }

    public TempDirectory Files { get; } = new("im-ipfs-files");

    public async Task InitializeAsync() => Peer = await IpfsPeer.TryStartAsync();

    public async Task DisposeAsync()
    {
        if (Peer is not null) await Peer.DisposeAsync();
        Files.Dispose();
    }
}

namespace InfraMind.Storage.Tests.Http;

/// <summary>
/// The guard on every peer's body, against sources in memory: a read that brings nothing within the stall timeout is
/// the peer's stall (after how many bytes), the caller's own cancellation stays a cancellation, a connection that breaks
/// is the peer kind's error or passes through, every byte read is copied and counted, and disposal ends what it owns.
/// </summary>
public sealed class PeerBodyStreamTests
{
    private sealed class Faults(bool nameBreaks) : IBodyFaults
    {
        public string? Description { get; private set; }

        public Exception Stalled(string description, Exception cause)
        {
            Description = description;
            return new TimeoutException(description, cause);
        }

        public Exception? BrokeOff(string description, Exception cause)
        {
            Description = description;
            return nameBreaks ? new InvalidDataException(description, cause) : null;
        }
    }

    /// <summary>Hands out its bytes, then waits on the token (or throws <paramref name="fault"/>) instead of ending.</summary>
    private sealed class Source(byte[] data, Exception? fault = null) : InfraMind.Oci.ReadOnlyStream
    {
        private int _at;

        public bool Disposed { get; private set; }

        public override int Read(Span<byte> buffer) => throw new NotSupportedException();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_at < data.Length)
            {
                int n = Math.Min(buffer.Length, Math.Min(2, data.Length - _at));
                data.AsMemory(_at, n).CopyTo(buffer);
                _at += n;
                return n;
            }

            if (fault is not null) throw fault;
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    private sealed class Owned : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    private sealed class Counter : IProgress<long>
    {
        public List<long> Reports { get; } = [];

        public void Report(long value) => Reports.Add(value);
    }

    private static async Task<int> ReadOnce(Stream body, byte[] buffer, CancellationToken cancellationToken = default) =>
        await body.ReadAsync(buffer, cancellationToken);

    [Fact]
    public async Task A_read_that_brings_nothing_within_the_stall_timeout_is_the_peers_stall()
    {
        var faults = new Faults(nameBreaks: true);
        var copy = new MemoryStream();
        var progress = new Counter();
        await using var body = new PeerBodyStream(new Source([1, 2, 3]), "https://peer.example/x", TimeSpan.FromMilliseconds(100), faults) { Copy = copy, Progress = progress };
        var buffer = new byte[8];
        Assert.Equal(2, await body.ReadAsync(buffer));
        Assert.Equal(1, await body.ReadAsync(buffer));
        Assert.Equal(3, body.Position);
        Assert.Equal([1, 2, 3], copy.ToArray());
        Assert.Equal([2L, 3L], progress.Reports);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => ReadOnce(body, buffer));
        Assert.Equal("https://peer.example/x sent nothing for 0.1 s after 3 bytes", e.Message);
        Assert.IsAssignableFrom<OperationCanceledException>(e.InnerException);
        Assert.Equal(3, body.Position);
        Assert.Equal([2L, 3L], progress.Reports);
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_a_stall()
    {
        var faults = new Faults(nameBreaks: true);
        await using var body = new PeerBodyStream(new Source([]), "peer", TimeSpan.FromSeconds(30), faults);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReadOnce(body, new byte[4], cts.Token));
        Assert.Null(faults.Description);
    }

    [Fact]
    public async Task Without_a_stall_timeout_a_read_may_take_as_long_as_it_takes()
    {
        var faults = new Faults(nameBreaks: true);
        await using var body = new PeerBodyStream(new Source([]), "peer", Timeout.InfiniteTimeSpan, faults);
        var read = ReadOnce(body, new byte[4]);
        await Task.Delay(300);
        Assert.False(read.IsCompleted);
        Assert.Null(faults.Description);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_broken_connection_is_the_peer_kinds_error_or_passes_through(bool nameBreaks)
    {
        var faults = new Faults(nameBreaks);
        var broken = new IOException("connection reset by peer");
        await using var body = new PeerBodyStream(new Source([9, 9, 9, 9, 9], broken), "gateway g", TimeSpan.FromSeconds(30), faults);
        var buffer = new byte[8];
        while (body.Position < 5) Assert.True(await ReadOnce(body, buffer) > 0);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ReadOnce(body, buffer));
        Assert.StartsWith("gateway g closed the connection after 5 bytes, before the end of the content (", faults.Description, StringComparison.Ordinal);
        if (nameBreaks)
        {
            Assert.IsType<InvalidDataException>(e);
            Assert.Same(broken, e.InnerException);
        }
        else
        {
            Assert.Same(broken, e);
        }
    }

    [Fact]
    public async Task Other_failures_pass_through_unnamed()
    {
        var faults = new Faults(nameBreaks: true);
        var odd = new InvalidOperationException("odd");
        await using var body = new PeerBodyStream(new Source([], odd), "peer", TimeSpan.FromSeconds(30), faults);
        Assert.Same(odd, await Assert.ThrowsAsync<InvalidOperationException>(() => ReadOnce(body, new byte[4])));
        Assert.Null(faults.Description);
    }

    [Fact]
    public void The_end_of_the_body_is_copied_and_counted_as_nothing()
    {
        var copy = new MemoryStream();
        var progress = new Counter();
        var source = new MemoryStream([1, 2, 3]);
        using var body = new PeerBodyStream(source, "peer", TimeSpan.FromSeconds(30), new Faults(true)) { Copy = copy, Progress = progress };
        var buffer = new byte[8];
        Assert.Equal(3, body.Read(buffer, 0, 8));
        Assert.Equal(0, body.Read(buffer, 0, 8));
        Assert.Equal(3, body.Position);
        Assert.Equal([1, 2, 3], copy.ToArray());
        Assert.Equal([3L], progress.Reports);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Disposal_ends_the_source_unless_left_open_and_always_the_owner(bool leaveOpen)
    {
        var source = new Source([]);
        var owner = new Owned();
        new PeerBodyStream(source, "peer", TimeSpan.FromSeconds(30), new Faults(true), leaveOpen) { Owner = owner }.Dispose();
        Assert.Equal(!leaveOpen, source.Disposed);
        Assert.True(owner.Disposed);
    }
}

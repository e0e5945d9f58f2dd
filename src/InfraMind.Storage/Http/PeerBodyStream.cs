namespace InfraMind.Storage;

/// <summary>
/// The one guard on every body InfraMind streams from a peer (or to one): each read must bring a byte within the
/// stall timeout (HttpClient's own timeout stops at the headers), and a stall or a connection that breaks mid-body
/// becomes the error of that kind of peer (<see cref="IBodyFaults"/>). What is read can be copied to a second stream
/// and counted; the stream can own the response it reads, ending the request when disposed.
/// </summary>
/// <param name="source">The body to read.</param>
/// <param name="where">Names the source in messages: a URL, "gateway …", "the file being added (…)".</param>
/// <param name="stallTimeout">How long one read may bring nothing; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
/// <param name="leaveOpen">Whether <paramref name="source"/> stays open when this stream is disposed.</param>
internal sealed class PeerBodyStream(Stream source, string where, TimeSpan stallTimeout, IBodyFaults faults, bool leaveOpen = false) : InfraMind.Oci.ReadOnlyStream
{
    private long _position;

    /// <summary>A stream every byte read is written to, before the read returns.</summary>
    public Stream? Copy { get; init; }

    /// <summary>Bytes read so far, after each read.</summary>
    public IProgress<long>? Progress { get; init; }

    /// <summary>Disposed with this stream (the response whose body this is).</summary>
    public IDisposable? Owner { get; init; }

    public override long Position => _position;

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            if (stallTimeout != Timeout.InfiniteTimeSpan)
            {
                stall.CancelAfter(stallTimeout);
            }

            try
            {
                n = await source.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw faults.Stalled($"{where} sent nothing for {stallTimeout.TotalSeconds:0.###} s after {_position} bytes", e);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                var brokeOff = faults.BrokeOff($"{where} closed the connection after {_position} bytes, before the end of the content ({NetworkFailure.Describe(e)})", e);
                if (brokeOff is null)
                {
                    throw;
                }

                throw brokeOff;
            }
        }

        if (n > 0)
        {
            if (Copy is not null)
            {
                await Copy.WriteAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
            }

            _position += n;
            Progress?.Report(_position);
        }

        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!leaveOpen)
            {
                source.Dispose();
            }

            Owner?.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// How one kind of peer names what goes wrong mid-body. Registries and HTTP servers: IM4203 for both
/// (<see cref="PeerHttp.Faults"/>); IPFS nodes and gateways: IM4107 for a stall, and a broken connection passes on to
/// be named IM4106 where the request is translated (<c>Ipfs.VerifiedDownload.Faults</c>).
/// </summary>
internal interface IBodyFaults
{
    /// <param name="description">"SOURCE sent nothing for N s after M bytes".</param>
    Exception Stalled(string description, Exception cause);

    /// <param name="description">"SOURCE closed the connection after M bytes, before the end of the content (REASON)".</param>
    /// <returns>The error to throw, or null to let the transport's own exception through.</returns>
    Exception? BrokeOff(string description, Exception cause);
}

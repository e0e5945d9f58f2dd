using System.Net.Sockets;
using System.Security.Authentication;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// What a failed IPFS request becomes (each transport failure its IM41xx code, the caller's cancellation and anything
/// else left alone), the settings a CID's version implies, and the copy that keeps nothing unless the CID matches.
/// </summary>
public sealed class VerifiedDownloadTests
{
    private const string Where = "gateway http://g.example/ipfs/x";

    private static IpfsException? Translate(Exception e, CancellationToken cancellationToken = default) =>
        VerifiedDownload.Translate(e, Where, "Start it.", cancellationToken);

    [Fact]
    public void An_ipfs_error_is_itself_and_one_wrapped_by_the_http_client_is_unwrapped()
    {
        var own = new IpfsException(IpfsErrorCodes.Stalled, "the file stalled");
        Assert.Null(Translate(own));
        Assert.Same(own, Translate(new HttpRequestException("send failed", new IOException("x", own))));
        Assert.Same(own, Translate(new TaskCanceledException("wrapped", own)));
    }

    [Fact]
    public void A_timeout_is_a_stall_but_the_callers_own_cancellation_stays_a_cancellation()
    {
        var e = Translate(new TaskCanceledException());
        Assert.Equal("IM4107", e?.Code.Value);
        Assert.Equal($"{Where} did not answer in time", e?.Message);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Null(Translate(new OperationCanceledException(cts.Token), cts.Token));
    }

    [Theory]
    [InlineData(HttpRequestError.ConnectionError, "IM4104")]
    [InlineData(HttpRequestError.NameResolutionError, "IM4104")]
    [InlineData(HttpRequestError.SecureConnectionError, "IM4104")]
    [InlineData(HttpRequestError.ResponseEnded, "IM4106")]
    [InlineData(HttpRequestError.InvalidResponse, "IM4106")]
    [InlineData(HttpRequestError.Unknown, "IM4106")]
    public void Each_kind_of_http_failure_has_its_code(HttpRequestError error, string code)
    {
        var e = Translate(new HttpRequestException(error, "failed"));
        Assert.Equal(code, e?.Code.Value);
        Assert.Contains(Where, e!.Message, StringComparison.Ordinal);
        if (code == "IM4104")
        {
            Assert.StartsWith($"nothing answers at {Where} (", e.Message, StringComparison.Ordinal);
            Assert.EndsWith(". Start it.", e.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.StartsWith($"the answer from {Where} broke off (", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_broken_stream_is_a_bad_answer_and_anything_else_passes_through()
    {
        Assert.Equal("IM4106", Translate(new IOException("reset"))?.Code.Value);
        Assert.Equal("IM4106", Translate(new HttpIOException(HttpRequestError.ResponseEnded))?.Code.Value);
        Assert.Equal("IM4106", Translate(new SocketException((int)SocketError.ConnectionReset))?.Code.Value);
        Assert.Equal("IM4106", Translate(new AuthenticationException("tls"))?.Code.Value);
        Assert.Null(Translate(new InvalidOperationException("a bug")));
        Assert.Null(Translate(new FormatException("a bug")));
    }

    [Fact]
    public void A_cids_version_implies_the_settings_ipfs_add_made_it_with()
    {
        var v0 = Cid.Parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
        Assert.Equal(UnixFsOptions.KuboDefault, VerifiedDownload.InferOptions(v0, null));
        Assert.Equal(UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, VerifiedDownload.InferOptions(v0.ToV1(), "image.tar"));
    }

    [Fact]
    public async Task The_copy_is_flushed_only_when_the_content_gives_the_cid()
    {
        byte[] content = [1, 2, 3];
        var expected = (await UnixFsImporter.ComputeAsync(new MemoryStream(content), UnixFsOptions.KuboCidV1, CancellationToken.None)).Root;
        var destination = new FlushCounting();
        var result = await VerifiedDownload.CopyAsync(new MemoryStream(content), expected, UnixFsOptions.KuboCidV1, destination, TimeSpan.FromSeconds(30), Where, CancellationToken.None);
        Assert.Equal(expected, result.Root);
        Assert.Equal(content, destination.ToArray());
        Assert.Equal(1, destination.Flushes);

        var wrong = new FlushCounting();
        var e = await Assert.ThrowsAsync<CidMismatchException>(() => VerifiedDownload.CopyAsync(
            new MemoryStream([1, 2, 4]), expected, UnixFsOptions.KuboCidV1, wrong, TimeSpan.FromSeconds(30), Where, CancellationToken.None));
        Assert.Equal(0, wrong.Flushes);
        Assert.Contains($"ipfs add --cid-version=1; fetched from {Where}", e.Message, StringComparison.Ordinal);
    }

    private sealed class FlushCounting : MemoryStream
    {
        public int Flushes { get; private set; }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushes++;
            return base.FlushAsync(cancellationToken);
        }
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace InfraMind.Serving;

/// <summary>
/// Reads a request body a stranger sends to the gateway's or a node's HTTP API against a limit that holds for chunked
/// bodies too, never allocating what a Content-Length merely claims.
/// </summary>
public static class RequestBody
{
    /// <summary>
    /// Past the limit, at most this much more is read and dropped, so that an honest client still reads its 413 (it is
    /// still sending when the answer comes); a body longer than that has its connection cut.
    /// </summary>
    public const long DrainAllowance = 32L * 1024 * 1024;

    /// <summary>The body, or null when it is longer than <paramref name="max"/> (then answer 413).</summary>
    /// <exception cref="BadHttpRequestException">when the body's framing is broken (a bad chunk, shorter than its length): a 400.</exception>
    public static async Task<byte[]?> ReadAsync(HttpContext context, long max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Kestrel holds the request to the limit plus the allowance, Content-Length or not.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = max + DrainAllowance;
        try
        {
            if (context.Request.ContentLength > max + DrainAllowance) return null;
            if (context.Request.ContentLength > max)
            {
                await DrainAsync(context.Request.Body, cancellationToken);
                return null;
            }

            var body = await BoundedBody.ReadAsync(context.Request.Body, context.Request.ContentLength, max, cancellationToken);
            if (body is null) await DrainAsync(context.Request.Body, cancellationToken);
            return body;
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return null;
        }
    }

    private static async Task DrainAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        while (await body.ReadAsync(buffer, cancellationToken) > 0)
        {
            // Dropped.
        }
    }
}

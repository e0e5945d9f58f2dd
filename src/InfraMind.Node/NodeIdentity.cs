using InfraMind.Serving;
using InfraMind.Signing;

namespace InfraMind.Node;

/// <summary>
/// A node's key at work: it signs the node's registrations and heartbeats for its gateway (<see cref="MeshSignature"/>,
/// each signature later than the one before), checks that a registration reply comes from an admitted gateway key,
/// and signs a receipt for every job the node answers (<see cref="JobReceipts"/>).
/// </summary>
internal sealed class NodeIdentity(SigningKey key, IReadOnlySet<string>? admitGateways, TimeSpan skew, TimeProvider time)
{
    private long _last;

    public PublicKey PublicKey => key.PublicKey;

    /// <summary>Signs a request to the gateway (audience <paramref name="gateway"/>) with <paramref name="body"/>.</summary>
    public void Sign(HttpRequestMessage request, Uri gateway, byte[] body)
    {
        var path = new Uri(gateway, request.RequestUri!).AbsolutePath;
        request.Headers.TryAddWithoutValidation(MeshHeaders.Signature, MeshSignature.Sign(key, request.Method.Method, path, gateway, Next(), body));
    }

    /// <summary>
    /// Null when the registration reply may be taken: no gateway keys are listed, or it is signed (for this node's
    /// <paramref name="address"/>) by one of them; else why not.
    /// </summary>
    public string? ReplyProblem(HttpResponseMessage response, byte[] body, NodeRegistered reply, Uri address)
    {
        if (admitGateways is null) return null;
        if (reply.GatewayKey is null) return "the gateway has no key (infra gateway serve --key NAME), and this node admits only listed gateway keys";
        PublicKey gateway;
        try
        {
            gateway = PublicKey.FromBase64(reply.GatewayKey);
        }
        catch (SigningException e)
        {
            return $"the gateway's key is invalid: {e.Message}";
        }

        if (!admitGateways.Contains(gateway.Fingerprint)) return $"the gateway's key {gateway.Fingerprint} is not among the gateway keys this node admits";
        var header = response.Headers.TryGetValues(MeshHeaders.Signature, out var values) ? values.FirstOrDefault() : null;
        var check = MeshSignature.Verify(header, gateway, "POST", response.RequestMessage!.RequestUri!.AbsolutePath, [address], body, time.GetUtcNow(), skew);
        return check.Valid ? null : $"the gateway's registration reply: {check.Problem}";
    }

    public string Receipt(string requestId, ModelAssignment model, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, string node) =>
        JobReceipts.Sign(key, requestId, model.Name, model.Version, model.ImageDigest, input, output, node, time.GetUtcNow());

    /// <summary>Now in Unix ms, and always later than the last signature (the gateway refuses one that is not).</summary>
    private long Next()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        while (true)
        {
            var last = Interlocked.Read(ref _last);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last) return next;
        }
    }
}

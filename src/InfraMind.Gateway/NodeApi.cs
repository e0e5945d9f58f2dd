using InfraMind.Serving;
using InfraMind.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace InfraMind.Gateway;

/// <summary>
/// /mesh/v1/nodes: registration and heartbeats. Every route needs the mesh token (a member of the mesh); everything
/// about an existing node also needs that node's own credential, issued at its first registration: a node's reports
/// count only for itself, and no node can take another's id.
/// </summary>
internal static class NodeApi
{
    /// <summary>Largest registration body: an id, an address, a capacity and at most 32 short labels.</summary>
    internal const long MaxRegistrationBytes = 64 * 1024;

    /// <summary>Largest heartbeat body: a report per model the node runs.</summary>
    internal const long MaxHeartbeatBytes = RegistrationRules.MaxHeartbeatBytes;

    public static void Map(IEndpointRouteBuilder app, GatewayOptions options, MeshState mesh, Func<IReadOnlyList<Uri>> audiences)
    {
        // With an admit list, the node's key admits it (the list is the stronger rule); without, the mesh token does.
        var nodes = app.MapGroup("/mesh/v1/nodes").AddEndpointFilter(async (filter, next) =>
            options.AdmitNodeKeys is not null || MeshToken.Admits(options.NodeToken, filter.HttpContext.Request.Headers.Authorization)
                ? await next(filter)
                : Unauthorized(filter.HttpContext));
        // A key-bound node's request (its heartbeat, its leave) must be signed by that key for this gateway, later than the
        // last one accepted: the problem when it is not (null when it is, or when the node has no key).
        IResult? Unsigned(HttpContext context, string id, string method, byte[] body, string what)
        {
            if (mesh.KeyOf(id) is not { Key: { } key, LastSigned: var last }) return null;
            var check = MeshSignature.Verify(Signature(context), key, method, Path(context), audiences(), body, mesh.Time.GetUtcNow(), options.SignatureSkew, last);
            if (!check.Valid) return MeshProblems.Of(check.Code!, $"node '{id}': {check.Problem}", 401);
            return mesh.TakeSigned(id, check.Timestamp) ? null
                : MeshProblems.Of(MeshErrorCodes.SignatureExpired, $"node '{id}': {what} is not newer than its last accepted request: a replay", 401);
        }

        nodes.MapPost("", async (HttpContext context) =>
        {
            var (registration, bytes, problem) = await ReadAsync<NodeRegistration>(context, MaxRegistrationBytes, "the registration");
            if (problem is not null) return problem;
            // The rules a node checks its own options by: a node that starts is a node this gateway admits.
            var problems = RegistrationRules.Check(registration);
            if (problems.Count > 0) return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, string.Join("; ", problems), 400);
            PublicKey? key = null;
            long signedAt = 0;
            if (registration!.PublicKey is { } text)
            {
                try
                {
                    key = PublicKey.FromBase64(text);
                }
                catch (SigningException e)
                {
                    return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"the registration's publicKey: {e.Message}", 400);
                }

                var check = MeshSignature.Verify(Signature(context), key, "POST", Path(context), audiences(), bytes, mesh.Time.GetUtcNow(), options.SignatureSkew);
                if (!check.Valid) return MeshProblems.Of(check.Code!, check.Problem!, 401);
                signedAt = check.Timestamp;
            }

            if (options.AdmitNodeKeys is { } admitted && (key is null || !admitted.Contains(key.Fingerprint)))
                return MeshProblems.Of(MeshErrorCodes.NodeKeyNotAdmitted, key is null
                    ? $"this gateway admits only nodes with a listed key; node '{registration.NodeId}' registered without one (infra node serve --key NAME)"
                    : $"node key {key.Fingerprint} of '{registration.NodeId}' is not among the keys this gateway admits", 403);
            var (outcome, credential) = mesh.Register(registration with { Labels = registration.Labels ?? new Dictionary<string, string>() }, Credential(context), key, signedAt);
            return outcome switch
            {
                Admission.Registered => Registered(context, options, mesh.Time, new NodeRegistered(registration.NodeId, credential!, options.Identity?.PublicKey.SubjectPublicKeyInfoBase64), registration.Address),
                Admission.IdTaken => MeshProblems.Of(MeshErrorCodes.NodeIdTaken, $"node id '{registration.NodeId}' is registered by another node; " +
                                                     "only that node's credential registers it again", 409),
                Admission.KeyMismatch => MeshProblems.Of(MeshErrorCodes.NodeKeyMismatch, $"node id '{registration.NodeId}' is bound to another key " +
                                                         $"than {key?.Fingerprint ?? "none"}; only the key of its first registration registers it again", 409),
                Admission.KeyInUse => MeshProblems.Of(MeshErrorCodes.NodeKeyInUse, $"node key {key!.Fingerprint} is bound to node '{mesh.HolderOf(key)}', " +
                                                     $"which is online; one key registers one node (its rank in placement is the key's), so '{registration.NodeId}' is refused", 409),
                Admission.Replayed => MeshProblems.Of(MeshErrorCodes.SignatureExpired, $"the registration of '{registration.NodeId}' is not newer than its last accepted one: a replay", 401),
                _ => MeshProblems.Of(MeshErrorCodes.TooManyNodes, $"this gateway holds {options.MaxNodes} nodes, the most it admits; " +
                                     $"nodes offline for {options.ForgetOfflineNodesAfter.TotalMinutes:0} min are forgotten", 503),
            };
        });
        nodes.MapPost("/{id}/heartbeat", async (HttpContext context, string id) =>
        {
            // Who is asking comes first: a stranger to this id learns nothing from how its body would have been judged.
            switch (mesh.Authenticate(id, Credential(context)))
            {
                case NodeAuth.Unknown:
                    return MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered; register first", 404);
                case NodeAuth.Forbidden:
                    return MeshProblems.Of(MeshErrorCodes.NodeCredentialInvalid, $"the heartbeat does not carry the credential of node '{id}'; " +
                                           "a node reports only for itself", 403);
            }

            var (beat, bytes, problem) = await ReadAsync<NodeHeartbeat>(context, MaxHeartbeatBytes, "the heartbeat");
            if (problem is not null) return problem;
            // A node bound to a key signs every heartbeat: its credential alone (which crossed the network) is not enough.
            if (Unsigned(context, id, "POST", bytes, "the heartbeat") is { } unsigned) return unsigned;

            if (beat is null || beat.NodeId != id) return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"the heartbeat names another node", 400);
            if (beat.Models is { Count: var reported } && reported > options.MaxReportsPerHeartbeat)
                return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid,
                    $"the heartbeat reports {reported} models; a node reports at most {options.MaxReportsPerHeartbeat} (the gateway's MaxReportsPerHeartbeat)", 400);
            if (beat.Models is null || beat.Models.Any(m => m is null || string.IsNullOrEmpty(m.Name) || string.IsNullOrEmpty(m.Version)) ||
                beat.Models.DistinctBy(m => ModelKey.Of(m.Name, m.Version)).Count() != beat.Models.Count)
                return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"the heartbeat must report each model once, with its name and version", 400);
            if (beat.Models.Select(RegistrationRules.CheckReport).FirstOrDefault(p => p is not null) is { } tooLong)
                return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, tooLong, 400);
            // A report's detail is kept, shown and served to every dashboard poll: no more of it than the bound.
            beat = beat with { Models = [.. beat.Models.Select(r => RegistrationRules.Bounded(r))] };
            return mesh.Heartbeat(beat, Credential(context), out var reply) switch
            {
                NodeAuth.Ok => Results.Json(reply, MeshJson.Options),
                NodeAuth.Unknown => MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered; register first", 404),
                _ => MeshProblems.Of(MeshErrorCodes.NodeCredentialInvalid, $"the heartbeat does not carry the credential of node '{id}'", 403),
            };
        });
        // A node stopping on purpose: no new jobs, no failure held against it (its own credential, and its key's signature when bound).
        nodes.MapDelete("/{id}", (HttpContext context, string id) =>
        {
            switch (mesh.Authenticate(id, Credential(context)))
            {
                case NodeAuth.Unknown:
                    return MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered", 404);
                case NodeAuth.Forbidden:
                    return MeshProblems.Of(MeshErrorCodes.NodeCredentialInvalid, $"the request does not carry the credential of node '{id}'; a node leaves only for itself", 403);
            }

            if (Unsigned(context, id, "DELETE", [], "the leave") is { } unsigned) return unsigned;

            return mesh.Leave(id) ? Results.NoContent() : MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered", 404);
        });
        // The evidence behind a node's reputation: its last receipts, each verifiable offline (infra receipt verify).
        app.MapGet("/mesh/v1/nodes/{id}/receipts", (string id) => mesh.ReceiptsOf(id) is { } receipts
            ? Results.Json(receipts, MeshJson.Options)
            : MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered", 404));
        // A key's node, or the standing a forgotten node left to its key: a liar that went away is still on record.
        app.MapGet("/mesh/v1/keys/{fingerprint}", (string fingerprint) => mesh.KeyStanding(fingerprint) is { } standing
            ? Results.Json(standing, MeshJson.Options)
            : MeshProblems.Of(MeshErrorCodes.UnknownNode,
                $"no node is bound to key {TerminalText.Quote(fingerprint, 80)}, and no standing of a forgotten node with it is kept", 404));
    }

    /// <summary>The registration reply, signed by the gateway's key when it has one (for the node at <paramref name="node"/>).</summary>
    private static IResult Registered(HttpContext context, GatewayOptions options, TimeProvider time, NodeRegistered reply, Uri node)
    {
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(reply, MeshJson.Options);
        if (options.Identity is { } key)
            context.Response.Headers[MeshHeaders.Signature] = MeshSignature.Sign(key, "POST", Path(context), node, time.GetUtcNow().ToUnixTimeMilliseconds(), bytes);
        return Results.Bytes(bytes, "application/json");
    }

    private static string Path(HttpContext context) => (context.Request.PathBase + context.Request.Path).ToUriComponent();

    private static string? Signature(HttpContext context) =>
        context.Request.Headers.TryGetValue(MeshHeaders.Signature, out var v) && v.Count == 1 ? v[0] : null;

    private static string? Credential(HttpContext context) =>
        context.Request.Headers.TryGetValue(MeshHeaders.NodeCredential, out var v) && v.Count == 1 ? v[0] : null;

    /// <summary>
    /// A JSON body of at most <paramref name="max"/> bytes (chunked or not), its bytes (what a signature covers), or the
    /// 400/413 that says why not.
    /// </summary>
    private static async Task<(T? Value, byte[] Bytes, IResult? Problem)> ReadAsync<T>(HttpContext context, long max, string what)
    {
        if (!context.Request.HasJsonContentType())
            return (default, [], MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} must be application/json", 400));
        byte[]? bytes;
        try
        {
            bytes = await RequestBody.ReadAsync(context, max, context.RequestAborted);
        }
        catch (BadHttpRequestException e)
        {
            return (default, [], MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} could not be read: {e.Message}", e.StatusCode));
        }

        if (bytes is null) return (default, [], MeshProblems.Of(MeshErrorCodes.BodyTooLarge, $"{what} is larger than {max} bytes", 413));
        try
        {
            return (System.Text.Json.JsonSerializer.Deserialize<T>(bytes, MeshJson.Options), bytes, null);
        }
        catch (System.Text.Json.JsonException e)
        {
            return (default, [], MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} is not valid JSON: {e.Message}", 400));
        }
    }

    /// <summary>401 to a node without the mesh token (the answer names no token, only where a node gets it).</summary>
    private static IResult Unauthorized(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = MeshToken.Challenge;
        return MeshProblems.Of(MeshErrorCodes.NodeUnauthorized, $"this gateway admits only nodes with its mesh token (Authorization: Bearer); " +
                               "start the node with the gateway's token file (infra node serve --token-file)", 401);
    }
}

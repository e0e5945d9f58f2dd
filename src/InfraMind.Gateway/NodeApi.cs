using InfraMind.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
    internal const long MaxHeartbeatBytes = 1024 * 1024;

    public static void Map(IEndpointRouteBuilder app, GatewayOptions options, MeshState mesh)
    {
        var nodes = app.MapGroup("/mesh/v1/nodes").AddEndpointFilter(async (filter, next) =>
            MeshToken.Admits(options.NodeToken, filter.HttpContext.Request.Headers.Authorization) ? await next(filter) : Unauthorized(filter.HttpContext));
        nodes.MapPost("", async (HttpContext context) =>
        {
            var (registration, problem) = await ReadAsync<NodeRegistration>(context, MaxRegistrationBytes, "the registration");
            if (problem is not null) return problem;
            // The rules a node checks its own options by: a node that starts is a node this gateway admits.
            var problems = RegistrationRules.Check(registration);
            if (problems.Count > 0) return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, string.Join("; ", problems), 400);
            var (outcome, credential) = mesh.Register(registration! with { Labels = registration.Labels ?? new Dictionary<string, string>() }, Credential(context));
            return outcome switch
            {
                Admission.Registered => Results.Json(new NodeRegistered(registration.NodeId, credential!), MeshJson.Options),
                Admission.IdTaken => MeshProblems.Of(MeshErrorCodes.NodeIdTaken, $"node id '{registration.NodeId}' is registered by another node; " +
                                                     "only that node's credential registers it again", 409),
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

            var (beat, problem) = await ReadAsync<NodeHeartbeat>(context, MaxHeartbeatBytes, "the heartbeat");
            if (problem is not null) return problem;
            if (beat is null || beat.NodeId != id) return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"the heartbeat names another node", 400);
            if (beat.Models is null || beat.Models.Any(m => m is null || string.IsNullOrEmpty(m.Name) || string.IsNullOrEmpty(m.Version)) ||
                beat.Models.DistinctBy(m => ModelKey.Of(m.Name, m.Version)).Count() != beat.Models.Count)
                return MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"the heartbeat must report each model once, with its name and version", 400);
            return mesh.Heartbeat(beat, Credential(context), out var reply) switch
            {
                NodeAuth.Ok => Results.Json(reply, MeshJson.Options),
                NodeAuth.Unknown => MeshProblems.Of(MeshErrorCodes.UnknownNode, $"node '{id}' is not registered; register first", 404),
                _ => MeshProblems.Of(MeshErrorCodes.NodeCredentialInvalid, $"the heartbeat does not carry the credential of node '{id}'", 403),
            };
        });
    }

    private static string? Credential(HttpContext context) =>
        context.Request.Headers.TryGetValue(MeshHeaders.NodeCredential, out var v) && v.Count == 1 ? v[0] : null;

    /// <summary>A JSON body of at most <paramref name="max"/> bytes (chunked or not), or the 400/413 that says why not.</summary>
    private static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpContext context, long max, string what)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = max;
        try
        {
            return (await context.Request.ReadFromJsonAsync<T>(MeshJson.Options, context.RequestAborted), null);
        }
        catch (System.Text.Json.JsonException e)
        {
            return (default, MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} is not valid JSON: {e.Message}", 400));
        }
        catch (InvalidOperationException e)
        {
            // Not JSON at all (no JSON content type).
            return (default, MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} must be application/json: {e.Message}", 400));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, MeshProblems.Of(MeshErrorCodes.BodyTooLarge, $"{what} is larger than {max} bytes", 413));
        }
        catch (BadHttpRequestException e)
        {
            return (default, MeshProblems.Of(MeshErrorCodes.RegistrationInvalid, $"{what} could not be read: {e.Message}", e.StatusCode));
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

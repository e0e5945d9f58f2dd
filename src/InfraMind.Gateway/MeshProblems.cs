using InfraMind.Serving;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway;

/// <summary>
/// The gateway's error answers as RFC 9457 problem documents: the stable code in <c>code</c>, the detail plain text
/// (what happened and how to fix it, never the code again).
/// </summary>
internal static class MeshProblems
{
    private const string Served =
        "the gateway serves POST /inference/v1/NAME and POST /inference/v1/NAME/versions/VERSION (inference), GET /inference/v1 " +
        "(its models and nodes), GET /inference/v1/NAME/openapi.json, GET /healthz, GET /metrics and GET /dashboard";

    public static IResult Of(ErrorCode code, string detail, int status) =>
        Results.Problem(detail: detail, statusCode: status, type: $"https://inframind.dev/errors/{code}",
            extensions: new Dictionary<string, object?> { ["code"] = code.Value });

    /// <summary>
    /// The answer to a request no endpoint took, which routing leaves without a body (the gateway's status-code pages
    /// call this for an error status with no body yet): 404 when no route matched the path (IM6028), 405 when routes
    /// matched it for other methods (IM6029; routing set the Allow header). Every other answer, an endpoint's own
    /// included, is left as it is. A HEAD answer keeps its status and headers and gets no body.
    /// </summary>
    public static Task UnroutedAsync(StatusCodeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.HttpContext;
        var request = http.Request;
        var response = http.Response;
        var path = (request.PathBase + request.Path).Value is { Length: > 0 } p ? p : "/";
        var problem = response.StatusCode switch
        {
            StatusCodes.Status404NotFound when http.GetEndpoint() is null =>
                Of(MeshErrorCodes.NoSuchPath, $"nothing is served at {Shown(path)}: {Served}.", StatusCodes.Status404NotFound),
            StatusCodes.Status405MethodNotAllowed when response.Headers.Allow is { Count: > 0 } allow =>
                Of(MeshErrorCodes.MethodNotAllowed, $"{Shown(path)} does not take {Shown(request.Method)}, only {allow} (the Allow header)" +
                   (path.StartsWith("/inference/v1/", StringComparison.Ordinal) && allow == HttpMethods.Post
                       ? ": an inference request is a POST with the input as its JSON body."
                       : "."), StatusCodes.Status405MethodNotAllowed),
            _ => null,
        };
        if (problem is null) return Task.CompletedTask;
        if (HttpMethods.IsHead(request.Method))
        {
            response.ContentType = "application/problem+json";
            return Task.CompletedTask;
        }

        return problem.ExecuteAsync(http);
    }

    /// <summary>A stranger's text in a detail: quoted, its control characters escaped, at most 100 characters of it.</summary>
    private static string Shown(string text) => TerminalText.Quote(text, 100);
}

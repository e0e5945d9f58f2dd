using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Serving;

/// <summary>
/// The mesh's error answers (the gateway's, and a node's to what its endpoints do not take) as RFC 9457 problem
/// documents: the stable code in <c>code</c>, the detail plain text (what happened and how to fix it, never the code again).
/// </summary>
public static class MeshProblems
{
    public static IResult Of(ErrorCode code, string detail, int status)
    {
        ArgumentNullException.ThrowIfNull(code);
        return Results.Problem(detail: detail, statusCode: status, type: $"https://inframind.dev/errors/{code}",
            extensions: new Dictionary<string, object?> { ["code"] = code.Value });
    }

    /// <summary>
    /// The answer to a request no endpoint took, which routing leaves without a body (a server's status-code pages call
    /// this for an error status with no body yet): <paramref name="answers"/> says which code and detail (404: no route
    /// matched the path; 405: routes matched it for other methods, and routing set the Allow header). Every other answer,
    /// an endpoint's own included, is left as it is. A HEAD answer keeps its status and headers and gets no body.
    /// </summary>
    public static Task UnroutedAsync(StatusCodeContext context, UnroutedAnswers answers)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(answers);
        var http = context.HttpContext;
        var (request, response) = (http.Request, http.Response);
        if (answers.For(response.StatusCode, http.GetEndpoint() is not null, response.Headers.Allow, (request.PathBase + request.Path).Value, request.Method)
            is not { } answer) return Task.CompletedTask;
        if (!HttpMethods.IsHead(request.Method)) return Of(answer.Code, answer.Detail, response.StatusCode).ExecuteAsync(http);
        response.ContentType = "application/problem+json";
        return Task.CompletedTask;
    }
}

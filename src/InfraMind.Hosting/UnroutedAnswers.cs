using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Hosting;

/// <summary>
/// What an InfraMind server answers a request none of its endpoints takes, which ASP.NET Core's routing leaves as a 404
/// or 405 without a body: 404 with the server's no-such-path code and a detail naming what it serves (no route matched
/// the path), 405 with its method-not-allowed code naming the methods the path takes (routes matched it for other
/// methods; routing set the Allow header). One rule and one wording for the gateway, the nodes and the registry; each
/// server's status-code pages call <see cref="AnswerAsync"/>, which writes the answer as that server's own problem
/// document and gives a HEAD the status and headers only.
/// </summary>
/// <param name="noSuchPath">The server's code for a path it serves nothing at (404).</param>
/// <param name="methodNotAllowed">The server's code for a path it serves with other methods only (405).</param>
/// <param name="served">What the server serves, as a clause of the 404's detail: "the gateway serves POST …, GET /healthz …".</param>
public sealed class UnroutedAnswers(ErrorCode noSuchPath, ErrorCode methodNotAllowed, string served)
{
    /// <summary>The most characters of a caller's path or method a detail shows (quoted, control characters escaped).</summary>
    public const int ShownChars = 100;

    public ErrorCode NoSuchPath { get; } = noSuchPath ?? throw new ArgumentNullException(nameof(noSuchPath));

    public ErrorCode MethodNotAllowed { get; } = methodNotAllowed ?? throw new ArgumentNullException(nameof(methodNotAllowed));

    /// <summary>
    /// How to send what the caller meant, given the path and the methods it takes (the Allow header), said at the end of
    /// a 405's detail (e.g. that an inference request is a POST with the input as its JSON body); null: nothing to add.
    /// </summary>
    public Func<string, string, string?>? MethodAdvice { get; init; }

    /// <summary>
    /// The answer to a request that ended with <paramref name="status"/> and no body: routing's 404
    /// (<paramref name="routed"/> false: no endpoint matched) is <see cref="NoSuchPath"/>, its 405 (with the methods of
    /// <paramref name="allow"/>) is <see cref="MethodNotAllowed"/>, each with its detail (plain text, without the code).
    /// Null for anything else, an endpoint's own answers included: those stay as they are.
    /// </summary>
    /// <param name="path">The request's path as the server saw it (base and path); empty is the root.</param>
    public (ErrorCode Code, string Detail)? For(int status, bool routed, string? allow, string? path, string method)
    {
        ArgumentNullException.ThrowIfNull(method);
        path = string.IsNullOrEmpty(path) ? "/" : path;
        return status switch
        {
            404 when !routed => (NoSuchPath, $"nothing is served at {Shown(path)}: {served}."),
            405 when !string.IsNullOrEmpty(allow) => (MethodNotAllowed, $"{Shown(path)} does not take {Shown(method)}, only {allow} (the Allow header)" +
                (MethodAdvice?.Invoke(path, allow) is { Length: > 0 } advice ? $": {advice}." : ".")),
            _ => null,
        };
    }

    /// <summary>
    /// The answer to a request no endpoint took, which routing leaves without a body (a server's status-code pages call
    /// this for an error status with no body yet): <see cref="For"/> says which code and detail, <paramref name="problem"/>
    /// writes them as the server's problem document (code, detail, status). Every other answer, an endpoint's own
    /// included, is left as it is. A HEAD answer keeps its status and headers and gets no body.
    /// </summary>
    public Task AnswerAsync(StatusCodeContext context, Func<ErrorCode, string, int, IResult> problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        var http = context.HttpContext;
        var (request, response) = (http.Request, http.Response);
        if (For(response.StatusCode, http.GetEndpoint() is not null, response.Headers.Allow, (request.PathBase + request.Path).Value, request.Method)
            is not { } answer) return Task.CompletedTask;
        if (!HttpMethods.IsHead(request.Method)) return problem(answer.Code, answer.Detail, response.StatusCode).ExecuteAsync(http);
        response.ContentType = "application/problem+json";
        return Task.CompletedTask;
    }

    private static string Shown(string text) => TerminalText.Quote(text, ShownChars);
}

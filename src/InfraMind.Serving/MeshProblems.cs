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
}

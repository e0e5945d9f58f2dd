using Microsoft.AspNetCore.Http;

namespace InfraMind.Gateway;

/// <summary>
/// The gateway's error answers as RFC 9457 problem documents: the stable code in <c>code</c>, the detail plain text
/// (what happened and how to fix it, never the code again).
/// </summary>
internal static class MeshProblems
{
    public static IResult Of(ErrorCode code, string detail, int status) =>
        Results.Problem(detail: detail, statusCode: status, type: $"https://inframind.dev/errors/{code}",
            extensions: new Dictionary<string, object?> { ["code"] = code.Value });
}

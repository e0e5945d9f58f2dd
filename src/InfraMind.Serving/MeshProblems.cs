using Microsoft.AspNetCore.Http;

namespace InfraMind.Serving;

/// <summary>
/// The mesh's error answers (the gateway's, and a node's to what its endpoints do not take) as RFC 9457 problem
/// documents: the stable code in <c>code</c>, the detail plain text (what happened, never the code again), how to fix
/// it in <c>hint</c> (<see cref="ProblemMembers"/>).
/// </summary>
public static class MeshProblems
{
    /// <summary>The problem document for <paramref name="code"/>, with the code's default hint.</summary>
    public static IResult Of(ErrorCode code, string detail, int status)
    {
        ArgumentNullException.ThrowIfNull(code);
        return Results.Problem(detail: detail, statusCode: status, type: $"https://inframind.dev/errors/{code}", extensions: ProblemMembers.Of(code));
    }
}

using Grpc.Core;
using InfraMind.Serving.Grpc;

namespace InfraMind.Serving.Tests.Grpc;

/// <summary>Every gRPC status's HTTP equivalent and name, and the edges of each HTTP range (docs/protocols.md's table).</summary>
public sealed class GrpcStatusMapTests
{
    [Fact]
    public void Every_grpc_status_has_its_http_status_and_its_name_as_the_specification_writes_it()
    {
        var rows = new (StatusCode Code, int Http, string Name)[]
        {
            (StatusCode.OK, 200, "OK"),
            (StatusCode.Cancelled, 499, "CANCELLED"),
            (StatusCode.Unknown, 500, "UNKNOWN"),
            (StatusCode.InvalidArgument, 400, "INVALID_ARGUMENT"),
            (StatusCode.DeadlineExceeded, 504, "DEADLINE_EXCEEDED"),
            (StatusCode.NotFound, 404, "NOT_FOUND"),
            (StatusCode.AlreadyExists, 409, "ALREADY_EXISTS"),
            (StatusCode.PermissionDenied, 403, "PERMISSION_DENIED"),
            (StatusCode.ResourceExhausted, 429, "RESOURCE_EXHAUSTED"),
            (StatusCode.FailedPrecondition, 400, "FAILED_PRECONDITION"),
            (StatusCode.Aborted, 409, "ABORTED"),
            (StatusCode.OutOfRange, 400, "OUT_OF_RANGE"),
            (StatusCode.Unimplemented, 501, "UNIMPLEMENTED"),
            (StatusCode.Internal, 500, "INTERNAL"),
            (StatusCode.Unavailable, 503, "UNAVAILABLE"),
            (StatusCode.DataLoss, 500, "DATA_LOSS"),
            (StatusCode.Unauthenticated, 401, "UNAUTHENTICATED"),
        };
        Assert.Equal(Enum.GetValues<StatusCode>().Order(), rows.Select(r => r.Code).Order());
        foreach (var (code, http, name) in rows) Assert.Equal((code, http, name), (code, GrpcStatusMap.ToHttp(code), GrpcStatusMap.Name(code)));
        // A code the specification does not have (a model may send any number): INTERNAL's 500, named by its number.
        Assert.Equal((500, "17", "-1"), (GrpcStatusMap.ToHttp((StatusCode)17), GrpcStatusMap.Name((StatusCode)17), GrpcStatusMap.Name((StatusCode)(-1))));
    }

    [Theory]
    [InlineData(199, StatusCode.Internal)]
    [InlineData(200, StatusCode.OK)]
    [InlineData(299, StatusCode.OK)]
    [InlineData(300, StatusCode.Internal)]
    [InlineData(399, StatusCode.Internal)]
    [InlineData(400, StatusCode.InvalidArgument)]
    [InlineData(402, StatusCode.InvalidArgument)]
    [InlineData(499, StatusCode.Cancelled)]
    [InlineData(498, StatusCode.InvalidArgument)]
    [InlineData(500, StatusCode.Internal)]
    [InlineData(505, StatusCode.Internal)]
    [InlineData(0, StatusCode.Internal)]
    [InlineData(-200, StatusCode.Internal)]
    public void Each_http_range_ends_where_it_should(int http, StatusCode code) => Assert.Equal(code, GrpcStatusMap.FromHttp(http));
}

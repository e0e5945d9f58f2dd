using System.Text.Json;
using System.Xml.Linq;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// What a run says, without an engine: the readiness failure of a gRPC model that never says SERVING, the cases step's
/// tally, and the reports of a package whose model.yaml did not validate.
/// </summary>
public sealed class ReportTextTests
{
    [Fact]
    public void A_grpc_model_that_never_says_SERVING_is_told_the_timeout_it_had_and_the_fix()
    {
        // It read "within 3.077 s" (the time measured, a poll past the timeout) and gave no fix.
        var detail = GrpcReadinessCheck.NotServing(50051, TimeSpan.FromSeconds(3), "grpc.health.v1 NotServing");
        Assert.StartsWith("port 50051 accepts connections but the model did not report SERVING within 3 s; last seen: grpc.health.v1 NotServing. Fix: ", detail, StringComparison.Ordinal);
        Assert.Contains("grpc.health.v1 Health/Check for service \"\" with SERVING", detail, StringComparison.Ordinal);
        Assert.Contains("ServerReady", detail, StringComparison.Ordinal);
        // The knob that sets the wait: model.yaml's timeout (a node's too), or --timeout for one run of infra test.
        Assert.Contains("`timeout:` in model.yaml", detail, StringComparison.Ordinal);
        Assert.Contains("`infra test --timeout`", detail, StringComparison.Ordinal);
        Assert.Contains("within 0.5 s;", GrpcReadinessCheck.NotServing(50051, TimeSpan.FromMilliseconds(500), "no answer yet"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_cases_p50_is_of_the_valid_inputs_as_measured_whatever_came_back()
    {
        // A run where the one valid input's connection dropped after 30 ms read "0/1 passed, p50 0 ms": the p50 was of
        // answered valid inputs, and there were none.
        Assert.Equal("0/1 passed, p50 30 ms over 1 valid input", CaseRunner.Tally([Case(true, CheckStatus.Failed, null, 30)]));
        Assert.Equal("2/3 passed, p50 20 ms over 2 valid inputs",
            CaseRunner.Tally([Case(true, CheckStatus.Passed, 200, 10), Case(true, CheckStatus.Failed, 500, 20), Case(false, CheckStatus.Passed, 400, 1)]));
        Assert.Equal("0/1 passed, no p50: no valid input was sent", CaseRunner.Tally([Case(false, CheckStatus.Failed, null, 5)]));
    }

    [Fact]
    public void A_report_of_an_invalid_manifest_gives_its_findings_as_validate_does_and_no_empty_version()
    {
        var finding = new ManifestDiagnostic(ManifestCodes.InvalidProtocol.Value, DiagnosticSeverity.Error, "protocol", "model.yaml", 5, 11,
            "protocol 'grcp' is not supported", "use rest (POST / with JSON) or grpc");
        var report = new ConformanceReport("badfield", null, null, null, 0,
            [new StepResult("validate", CheckStatus.Failed, Verdict.ManifestInvalid, "1 error(s): …", TimeSpan.Zero)], [], TimeSpan.Zero)
        {
            ManifestErrors = [finding],
        };

        var json = JsonDocument.Parse(ReportWriter.ToJson(report)).RootElement;
        Assert.Equal(("badfield", JsonValueKind.Null, 0), (json.GetProperty("model").GetString(), json.GetProperty("version").ValueKind, json.GetProperty("port").GetInt32()));
        Assert.Equal(JsonSerializer.Serialize(new[] { finding.ToJson() }), JsonSerializer.Serialize(json.GetProperty("errors")));
        Assert.Equal("IM1027", json.GetProperty("errors")[0].GetProperty("code").GetString());

        // JUnit named the suite "badfield@".
        var suite = XDocument.Parse(ReportWriter.ToJUnit(report)).Root!.Element("testsuite")!;
        Assert.Equal("badfield", suite.Attribute("name")!.Value);
    }

    [Fact]
    public void A_grpc_cases_status_is_in_the_json_report()
    {
        var report = new ConformanceReport("m", "1.0.0", null, "m:1.0.0", 50051, [], [Case(false, CheckStatus.Passed, 400, 2) with { GrpcStatus = "INVALID_ARGUMENT" }], TimeSpan.Zero);
        var c = JsonDocument.Parse(ReportWriter.ToJson(report)).RootElement.GetProperty("cases")[0];
        Assert.Equal(("INVALID_ARGUMENT", 400), (c.GetProperty("grpcStatus").GetString(), c.GetProperty("statusCode").GetInt32()));
        Assert.Equal(0, JsonDocument.Parse(ReportWriter.ToJson(report)).RootElement.GetProperty("errors").GetArrayLength());
    }

    private static CaseResult Case(bool positive, CheckStatus status, int? code, double ms) =>
        new(positive ? "valid" : "invalid", positive, status, status == CheckStatus.Failed ? Verdict.ConnectionFailed : null, code, ms, "", "{}", null, []);
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml.Linq;

namespace InfraMind.Conformance;

/// <summary>Writes a conformance report as JSON or as JUnit XML (for CI systems that show test results).</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string ToJson(ConformanceReport report) => JsonSerializer.Serialize(new
    {
        model = report.Model,
        version = report.Version,
        manifestDigest = report.ManifestDigest,
        image = report.Image,
        port = report.Port,
        passed = report.Passed,
        verdicts = report.Verdicts,
        durationMs = Math.Round(report.Duration.TotalMilliseconds, 1),
        // Where model.yaml did not validate: each finding as `infra validate --json` gives it (code, where, message, fix).
        errors = report.ManifestErrors.Select(d => d.ToJson()),
        steps = report.Steps.Select(s => new { step = s.Step, status = s.Status, verdict = s.Verdict, detail = s.Detail, durationMs = Math.Round(s.Duration.TotalMilliseconds, 1) }),
        cases = report.Cases.Select(c => new
        {
            name = c.Name, positive = c.Positive, status = c.Status, verdict = c.Verdict, statusCode = c.StatusCode, grpcStatus = c.GrpcStatus, latencyMs = c.LatencyMs,
            detail = c.Detail, request = c.Request, response = c.Response,
            violations = c.Violations.Select(v => new { pointer = v.Pointer, message = v.Message }),
        }),
    }, JsonOptions);

    public static string ToJUnit(ConformanceReport report)
    {
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        // No version where model.yaml did not validate: the package directory's name alone, not "name@".
        var name = report.Version is null ? report.Model : $"{report.Model}@{report.Version}";
        var tests = report.Steps.Select(s => Case($"step: {s.Step}", s.Status, s.Verdict, s.Detail, Seconds(s.Duration), name))
            .Concat(report.Cases.Select(c => Case($"case: {c.Name}", c.Status, c.Verdict,
                $"{c.Detail}\nrequest: {c.Request}\nresponse: {c.Response}", (c.LatencyMs / 1000).ToString("0.###", CultureInfo.InvariantCulture), name)))
            .ToList();
        var suite = new XElement("testsuite",
            new XAttribute("name", name),
            new XAttribute("tests", tests.Count),
            new XAttribute("failures", tests.Count(t => t.Element("failure") is not null)),
            new XAttribute("skipped", tests.Count(t => t.Element("skipped") is not null)),
            new XAttribute("time", Seconds(report.Duration)),
            tests);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("testsuites", suite)).ToString();
    }

    private static XElement Case(string name, CheckStatus status, InfraMind.Serving.Verdict? verdict, string detail, string time, string className)
    {
        var e = new XElement("testcase", new XAttribute("name", name), new XAttribute("classname", className), new XAttribute("time", time));
        if (status == CheckStatus.Failed) e.Add(new XElement("failure", new XAttribute("type", verdict?.WireName ?? "failed"), new XAttribute("message", verdict?.WireName ?? "failed"), detail));
        else if (status == CheckStatus.Skipped) e.Add(new XElement("skipped", new XAttribute("message", detail)));
        return e;
    }
}

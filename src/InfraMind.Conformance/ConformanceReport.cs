using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Conformance;

public enum CheckStatus
{
    Passed,
    Failed,
    Skipped,
}

/// <summary>One step of the run (validate, image, start, init, readiness, warmup, healthcheck, cases, cleanup).</summary>
/// <param name="Verdict">Why it failed (<see cref="Serving.Verdict"/>: one list for reports, nodes and the gateway); null when it did not.</param>
public sealed record StepResult(string Step, CheckStatus Status, Verdict? Verdict, string Detail, TimeSpan Duration);

/// <summary>One request sent to the model and what came back.</summary>
/// <param name="StatusCode">The HTTP status of the answer; for a gRPC model, its status's HTTP equivalent (<see cref="GrpcStatus"/> is what it said).</param>
/// <param name="Request">The request's body, cut at 2,048 characters (<see cref="RequestLength"/> says how long it was).</param>
public sealed record CaseResult(
    string Name,
    bool Positive,
    CheckStatus Status,
    Verdict? Verdict,
    int? StatusCode,
    double LatencyMs,
    string Detail,
    string Request,
    string? Response,
    IReadOnlyList<SchemaViolation> Violations)
{
    /// <summary>The gRPC status a <c>protocol: grpc</c> model answered with, as the specification writes it (OK, INVALID_ARGUMENT, …); null over REST or with no answer.</summary>
    public string? GrpcStatus { get; init; }

    /// <summary>How many characters the request had (<see cref="Request"/> may hold fewer).</summary>
    public int RequestLength { get; init; }
}

/// <summary>Everything a run found; <see cref="Passed"/> only when every step and every case passed.</summary>
public sealed record ConformanceReport(
    string Model,
    string? Version,
    string? ManifestDigest,
    string? Image,
    int Port,
    IReadOnlyList<StepResult> Steps,
    IReadOnlyList<CaseResult> Cases,
    TimeSpan Duration)
{
    public bool Passed => Steps.All(s => s.Status != CheckStatus.Failed) && Cases.All(c => c.Status == CheckStatus.Passed) &&
                          Steps.Any(s => s.Step == ConformanceSteps.Cases && s.Status == CheckStatus.Passed);

    /// <summary>
    /// model.yaml's error findings when it did not validate (then there is no <see cref="Version"/>, and
    /// <see cref="Model"/> is the package directory's name, not a model's); empty otherwise.
    /// </summary>
    public IReadOnlyList<ManifestDiagnostic> ManifestErrors { get; init; } = [];

    /// <summary>Every distinct failure verdict, in the order found.</summary>
    public IReadOnlyList<Verdict> Verdicts =>
        [.. Steps.Select(s => s.Verdict).Concat(Cases.Select(c => c.Verdict)).OfType<Verdict>().Distinct()];
}

internal static class ConformanceSteps
{
    public const string Validate = "validate";
    public const string Image = "image";
    public const string Start = "start";
    public const string Init = "init";
    public const string Readiness = "readiness";
    public const string Warmup = "warmup";
    public const string Healthcheck = "healthcheck";
    public const string Cases = "cases";
    public const string Cleanup = "cleanup";
}

/// <summary>Knobs of a run. Defaults are DESIGN.md's: 3 s readiness (or the manifest's), 10 s per request.</summary>
public sealed record ConformanceOptions
{
    public int Cases { get; init; } = 10;

    public int Seed { get; init; } = 1;

    public bool NegativeCases { get; init; } = true;

    /// <summary>Overrides the manifest's readiness timeout.</summary>
    public TimeSpan? ReadinessTimeout { get; init; }

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan HookTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Build even when an image with the same manifest and context digests exists.</summary>
    public bool Rebuild { get; init; }

    /// <summary>
    /// The most bytes of an answer that are read (16 MiB by default); a longer one is cut off there, its connection
    /// dropped, and judged <see cref="Verdict.ResponseTooLarge"/>.
    /// </summary>
    public long MaxResponseBytes { get; init; } = ModelAnswer.DefaultBodyLimit;

    /// <summary>
    /// InfraMind's record of the images it built (<c>$INFRAMIND_HOME</c>): a package run reuses an image only through it.
    /// None: every package run builds.
    /// </summary>
    public ImageIndex? ImageIndex { get; init; }

    /// <summary>Extra labels for the container (e.g. the node id).</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}

/// <summary>Live progress of a run, for consoles and logs.</summary>
public abstract record ConformanceEvent;

public sealed record StepStarted(string Step, string Description) : ConformanceEvent;

public sealed record StepFinished(StepResult Result) : ConformanceEvent;

public sealed record BuildOutput(string Line) : ConformanceEvent;

public sealed record CaseFinished(CaseResult Result) : ConformanceEvent;

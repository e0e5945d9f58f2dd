using System.Diagnostics;
using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Semver;

namespace InfraMind.Gateway.Inference;

/// <summary>
/// Why the gateway did not answer with a model's answer: an HTTP status (the REST API's own; a gRPC caller gets the
/// status GrpcStatusMap maps it to), the stable code, a title and a detail that says how to fix it.
/// </summary>
internal sealed record InferenceProblem(
    int Status, ErrorCode Code, string Title, string Detail, IReadOnlyList<ProblemError>? Errors = null, Dictionary<string, object?>? Extensions = null, bool RetryAfter = false)
{
    /// <summary>The most characters of a caller's own text (a name, a version) a problem quotes: a model name has at most 63.</summary>
    public const int QuotedChars = 80;

    /// <summary>A caller's text in quotes, cut to <see cref="QuotedChars"/> (with its length said), so an answer never grows with what the caller sent.</summary>
    public static string Quote(string text) => TerminalText.Quote(text, QuotedChars, sayLength: true);
}

/// <summary>One thing wrong with an input: where (a JSON Pointer, empty for the whole document) and what.</summary>
internal sealed record ProblemError(string? Pointer, string Message)
{
    public override string ToString() => $"{(string.IsNullOrEmpty(Pointer) ? "(root)" : Pointer)}: {Message}";
}

/// <summary>What a request came to: the model's answer (valid against output_schema) and who gave it, or a problem.</summary>
/// <param name="Receipt">The answering node's signed receipt (<see cref="JobReceipts"/>), verified; null for a node without a key.</param>
internal sealed record InferenceOutcome(ServedModel? Model, byte[]? Answer, string? Node, int Attempts, InferenceProblem? Problem, string? Receipt = null);

/// <summary>The input as the caller's protocol delivered it: the raw JSON bytes, or the problem with reading them.</summary>
/// <param name="Document">What the protocol calls the document in a message: "the body" (REST), "the json tensor" (gRPC).</param>
internal readonly record struct InferenceInput(byte[]? Raw, InferenceProblem? Problem, string Document = "the body");

/// <summary>
/// The protocol-neutral part of an inference request, shared by POST /inference/v1/{name} and the V2 gRPC ingress:
/// the version chosen, the input checked (strict JSON, input_schema, quarantine) before any node sees it, then nodes
/// tried by reputation and latency until one answers validly (<see cref="InferenceAttempts"/>). A client's mistake is
/// a problem with a 4xx status and never counts against a node.
/// </summary>
internal sealed class InferenceCore(MeshState mesh, GatewayOptions options, GatewayMetrics metrics, InferenceAdmission admission, InferenceAttempts attempts, InferenceLog log)
{
    private readonly RetryBudget _budget = new(options.RetryRatio, options.RetryReserve);

    public GatewayOptions Options => options;

    public MeshState Mesh => mesh;

    /// <summary>
    /// The Retry-After value of a problem that has one, REST header and gRPC trailer alike: a busy model's (IM6038) is
    /// <see cref="JobGate.RetryAfter"/>, the value its nodes' busy answers say; every other's is <see cref="GatewayOptions.RetryAfter"/>.
    /// </summary>
    public string RetryAfterOf(InferenceProblem problem) =>
        RetryAfterHeader.Format(problem.Code == MeshErrorCodes.NodeBusy ? JobGate.RetryAfter : options.RetryAfter);

    /// <summary>The bound on requests in flight: each face takes a slot before it reads a request's body.</summary>
    public InferenceAdmission Admission => admission;

    /// <summary>
    /// Counts and logs one finished request (whatever its protocol) under its model's name; a name no published model
    /// has is counted as <see cref="MetricSeries.UnknownModel"/>, so a stranger's made-up names (a gRPC model_name may be as long as
    /// the message) never grow the metrics' label sets or the log lines.
    /// </summary>
    public void Finish(string name, InferenceRecord record, int status, TimeSpan elapsed)
    {
        var label = mesh.VersionsOf(name).Count > 0 ? name : MetricSeries.UnknownModel;
        metrics.Request(label, status, elapsed);
        log.Request(label, record, status, elapsed);
    }

    /// <summary>
    /// The version a request names, or the problem (404, or 400 for a version that is not SemVer). Naming none means the
    /// latest released version — or, while that one cannot answer (just published: its image still being pulled and
    /// pre-flighted; or quarantined), the newest released version that can: a release takes over from its predecessor
    /// once it serves, without a window of 503s between. Only when no released version can answer is it the latest's
    /// own 503. The answer's inframind-model-version names the version that answered.
    /// </summary>
    public InferenceProblem? Resolve(string name, string? version, out ServedModel? model)
    {
        var versions = mesh.VersionsOf(name);
        model = null;
        if (versions.Count == 0)
            return new(404, MeshErrorCodes.ModelNotFound, "unknown model", $"no published model is named {InferenceProblem.Quote(name)}; GET /inference/v1 lists them.");
        if (version is null)
        {
            model = Serving(versions);
            return model is not null ? null : new(404, MeshErrorCodes.ModelNotFound, "no released version",
                $"'{name}' has only pre-release versions; name one: /inference/v1/{name}/versions/<version>.");
        }

        if (!SemVersion.TryParse(version, SemVersionStyles.Strict, out var wanted))
            return new(400, MeshErrorCodes.VersionInvalid, "invalid version", $"{InferenceProblem.Quote(version)} is not a SemVer 2.0 version such as 1.2.3.");
        model = versions.FirstOrDefault(m => m.Published.Version == wanted);
        return model is not null ? null : new(404, MeshErrorCodes.ModelNotFound, "unknown version",
            $"'{name}' has no version {InferenceProblem.Quote(version)}; published: {string.Join(", ", versions.Select(v => v.Published.Version))}.");
    }

    /// <summary>Ready: not quarantined, and some node has the version ready now.</summary>
    public bool IsReady(ServedModel model) => !mesh.IsQuarantined(model.Key) && mesh.HasCandidate(model.Key);

    /// <summary>The latest released version when it is ready, else the newest released one that is, else the latest (null: none released).</summary>
    private ServedModel? Serving(IReadOnlyList<ServedModel> versions)
    {
        var latest = MeshState.Latest(versions);
        if (latest is null || IsReady(latest)) return latest;
        ServedModel? fallback = null;
        foreach (var m in versions)
        {
            if (m.Published.Version.IsPrerelease || ReferenceEquals(m, latest)) continue;
            if ((fallback is null || SemVersion.ComparePrecedence(m.Published.Version, fallback.Published.Version) > 0) && IsReady(m)) fallback = m;
        }

        return fallback ?? latest;
    }

    /// <summary>
    /// One request from resolution to answer. <paramref name="read"/> reads the caller's input (its media type, size
    /// and framing are the protocol's business) once the version is known.
    /// </summary>
    public async Task<InferenceOutcome> InferAsync(string name, string? version, Func<ServedModel, CancellationToken, ValueTask<InferenceInput>> read,
        InferenceRecord record, CancellationToken ct)
    {
        // The request's own span (ASP.NET Core's, a child of the client's traceparent when it sent one) names the model.
        Activity.Current?.SetTag(MeshTracing.ModelTag, name);
        // Everything up to the choice of nodes: version, media type, size, JSON, input_schema, quarantine.
        using var validation = MeshTracing.Gateway.StartActivity("validate");
        validation?.SetTag(MeshTracing.RoleTag, "gateway");
        if (Resolve(name, version, out var resolved) is { } unknown) return Refuse(null, unknown, record);
        var model = resolved!;
        var input = await read(model, ct);
        if (input.Problem is { } unreadable) return Refuse(model, unreadable, record);

        // What a model gets is the gateway's own serialisation of the document it validated, never the client's bytes.
        var strict = StrictJson.Read(input.Raw!, options.MaxJsonDepth, input.Document);
        if (strict.Document is not { } document)
        {
            var title = strict.Code == MeshErrorCodes.MalformedJson ? "malformed JSON" : strict.Code == MeshErrorCodes.DuplicateKey ? "duplicate key" : "not UTF-8";
            return Refuse(model, new(400, strict.Code!, title, strict.Problem!, [new ProblemError(strict.Pointer, strict.Problem!)]), record);
        }

        var body = strict.Canonical;
        record.Version = model.Published.Version.ToString();
        log.Input(model.Key, body);
        using (document)
        {
            SchemaViolations violations;
            try
            {
                violations = model.Manifest.InputSchema.IsValid(document.RootElement) ? SchemaViolations.None : model.Manifest.InputSchema.Validate(document.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException or ArgumentException)
            {
                // A value the validator cannot read (a number beyond its range): the input's, never a server error.
                violations = new([new SchemaViolation("", $"the input cannot be checked against input_schema: {e.Message}")], false);
            }

            if (violations.Count > 0)
                return Refuse(model, new(400, MeshErrorCodes.InputInvalid, "input does not match the model's input_schema",
                    $"{violations.Summary}; GET /inference/v1/{name}/openapi.json shows the schema.",
                    [.. violations.Select(v => new ProblemError(v.Pointer, v.Message))]), record);
        }

        if (mesh.IsQuarantined(model.Key))
            return Refuse(model, new(503, MeshErrorCodes.Quarantined, "model version quarantined",
                $"{model.Key} failed the same way on several nodes and is not served for now; GET /inference/v1 shows why. Publish a fixed version.", RetryAfter: true), record);

        validation?.Stop();
        return await RouteAsync(model, body, record, ct);
    }

    private async Task<InferenceOutcome> RouteAsync(ServedModel model, byte[] body, InferenceRecord record, CancellationToken ct)
    {
        using var routing = MeshTracing.Gateway.StartActivity("route");
        routing?.SetTag(MeshTracing.RoleTag, "gateway");
        routing?.SetTag(MeshTracing.ModelTag, model.Key);
        _budget.RecordRequest();
        var tried = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<AttemptResult>();
        var waitUntil = mesh.Time.GetUtcNow() + options.ReadyWait;
        byte[]? answer = null;
        string? answeredBy = null;
        string? receipt = null;
        // Named in every attempt's job and in the answering node's receipt.
        var requestId = JobReceipts.NewRequestId();
        try
        {
            while (answer is null)
            {
                var candidates = mesh.Candidates(model.Key, tried);
                var chosen = NodeChoice.Choose(candidates, Random.Shared);
                // A moment with no ready node (a container restarting, a late heartbeat) is not worth a 503: wait briefly.
                if (chosen is null && results.Count == 0 && mesh.PlacedCount(model.Key) > 0 && mesh.Time.GetUtcNow() < waitUntil)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(50), mesh.Time, ct);
                    continue;
                }

                if (chosen is null) break;
                if (results.Count > 0 && (results.Count >= options.MaxAttempts || !_budget.TryRetry())) break;
                tried.Add(chosen.NodeId);
                // Another node may be tried after this one: a full container says busy soon, and the request goes on to it.
                var othersLeft = candidates.Count > 1 && results.Count + 1 < options.MaxAttempts && _budget.CanRetry;
                (var result, answer, receipt) = await attempts.AttemptAsync(model, chosen.NodeId, results.Count + 1, body, requestId, QueueWait(othersLeft), ct);
                results.Add(result);
                record.Attempts.Add(result);
                if (result.Verdict is not null) log.AttemptFailed(model.Key, result);
                if (answer is not null) answeredBy = chosen.NodeId;
            }

            // A deterministic model's answer, now and then, is compared with other nodes': the client gets the majority's.
            if (answer is not null && model.Manifest.Deterministic && options.SpotCheckShare > 0 && Random.Shared.NextDouble() < options.SpotCheckShare)
                (answer, answeredBy, receipt) = await SpotCheckAsync(model, body, requestId, (answeredBy!, answer, receipt), tried, results, record, ct);
        }
        finally
        {
            // Whose fault a failure was is known only now: if another node answered the same input, not the input's.
            mesh.Settle(model.Key, model.Published.Name, [.. results.Where(a => a.Verdict is not null).Select(a => (a.Node, a.Verdict!))], answer is not null);
        }

        if (answer is not null)
        {
            record.Node = answeredBy;
            log.Answer(model.Key, answer);
            return new(model, answer, answeredBy, results.Count, null, receipt);
        }

        // Resolved, then withdrawn (a yank, a registry that dropped it) before any node was tried: gone, as for the next caller.
        if (results.Count == 0 && !mesh.IsServed(model.Key))
            return Refuse(model, new(404, MeshErrorCodes.ModelNotFound, "version withdrawn",
                $"{model.Key} left the catalog while this request was routed (yanked, or no longer in the registry); GET /inference/v1 lists what is served."), record);

        if (results.Count == 0)
        {
            var r = model.Manifest.Resources;
            return Refuse(model, new(503, MeshErrorCodes.NoReadyNode, "no ready node", mesh.PlacedCount(model.Key) == 0
                ? $"no online node has room for {model.Key}: it needs {r.CpuMillicores}m CPU, {Quantity.FormatBytes(r.MemoryBytes)} memory and {r.GpuCount} GPU(s); start a node with enough free capacity."
                : $"no node has {model.Key} ready now (placed nodes are starting, failing pre-flight, suspended or offline); GET /inference/v1 shows each node's state.",
                RetryAfter: true), record);
        }

        // Every node it tried was busy (its container had as many jobs as it takes): load, not failure; come back later.
        if (results.TrueForAll(a => a.Verdict == Verdict.NodeBusy))
            return Refuse(model, new(503, MeshErrorCodes.NodeBusy, "model busy",
                $"every node tried for {model.Key} is busy ({results.Count} tried: their containers have as many jobs in flight and waiting as they take); retry after the Retry-After seconds.",
                RetryAfter: true), record);

        return Refuse(model, new(502, MeshErrorCodes.AllAttemptsFailed, "every attempt failed",
            $"{results.Count} attempt(s) failed: {string.Join("; ", results.Select(a => $"{a.Node}: {a.Verdict}"))}",
            Extensions: new() { ["attempts"] = results.Select(a => new { node = a.Node, verdict = a.Verdict, detail = a.Detail, status = a.Status }).ToList() }), record);
    }

    /// <summary>
    /// Sends the same input to a second node and compares (as JSON) with <paramref name="first"/>; when they differ, a
    /// third decides. The answer two nodes agree on is the client's; a node that disagreed with two others is suspended
    /// with the receipts as evidence (<see cref="MeshState.Disagreed"/>). Without a second answer, or without a
    /// majority, the first answer stands and no node is blamed: the gateway cannot tell who is right.
    /// </summary>
    private async Task<(byte[] Answer, string Node, string? Receipt)> SpotCheckAsync(ServedModel model, byte[] body, string requestId,
        (string Node, byte[] Answer, string? Receipt) first, HashSet<string> tried, List<AttemptResult> results, InferenceRecord record, CancellationToken ct)
    {
        var answers = new List<SpotAnswer> { new(first.Node, first.Answer, first.Receipt) };
        try
        {
            while (answers.Count < MeshState.SpotCheckAnswers && !(answers.Count == 2 && answers[0].SameAs(answers[1])))
            {
                var candidates = mesh.Candidates(model.Key, tried);
                var chosen = NodeChoice.Choose(candidates, Random.Shared);
                if (chosen is null) break;
                tried.Add(chosen.NodeId);
                var (result, answer, receipt) = await attempts.AttemptAsync(model, chosen.NodeId, results.Count + 1, body, requestId, QueueWait(candidates.Count > 1), ct);
                results.Add(result);
                record.Attempts.Add(result);
                if (result.Verdict is not null) log.AttemptFailed(model.Key, result);
                if (answer is not null) answers.Add(new(chosen.NodeId, answer, receipt));
            }

            var majority = answers.FirstOrDefault(a => answers.Count(a.SameAs) >= 2);
            if (majority is null) return (first.Answer, first.Node, first.Receipt);
            var evidence = answers.ToDictionary(a => a.Node, a => a.Receipt, StringComparer.Ordinal);
            foreach (var dissent in answers.Where(a => !a.SameAs(majority)))
                mesh.Disagreed(dissent.Node, model.Key, model.Published.Name, requestId, evidence);
            return (majority.Answer, majority.Node, majority.Receipt);
        }
        finally
        {
            foreach (var a in answers) a.Dispose();
        }
    }

    /// <summary>
    /// One node's answer in a spot check, compared as JSON with another: byte for byte first (what honest nodes of a
    /// deterministic model send), and only when the bytes differ as parsed documents (<see cref="System.Text.Json.JsonDocument"/>,
    /// a compact index over the answer's own bytes, not a tree of an object per value: three 16 MiB answers of small
    /// values would otherwise cost hundreds of MB), each parsed once and released when the check ends.
    /// </summary>
    private sealed class SpotAnswer(string node, byte[] answer, string? receipt) : IDisposable
    {
        private System.Text.Json.JsonDocument? _json;
        private bool _parsed;

        public string Node => node;

        public byte[] Answer => answer;

        public string? Receipt => receipt;

        public bool SameAs(SpotAnswer other)
        {
            if (ReferenceEquals(this, other) || answer.AsSpan().SequenceEqual(other.Answer)) return true;
            return Json() is { } mine && other.Json() is { } theirs && System.Text.Json.JsonElement.DeepEquals(mine.RootElement, theirs.RootElement);
        }

        private System.Text.Json.JsonDocument? Json()
        {
            if (_parsed) return _json;
            _parsed = true;
            try
            {
                _json = System.Text.Json.JsonDocument.Parse(answer);
            }
            catch (System.Text.Json.JsonException)
            {
                _json = null;
            }

            return _json;
        }

        public void Dispose() => _json?.Dispose();
    }

    /// <summary>
    /// How long an attempt's job may wait for a slot in its container (<see cref="JobGate"/>): <see cref="GatewayOptions.QueueWaitWithOthersLeft"/>
    /// while another node may be tried after it, else half the attempt's time limit (the model keeps the other half).
    /// </summary>
    private TimeSpan QueueWait(bool othersLeft)
    {
        var half = options.AttemptTimeout / 2;
        return othersLeft && options.QueueWaitWithOthersLeft < half ? options.QueueWaitWithOthersLeft : half;
    }

    internal static InferenceOutcome Refuse(ServedModel? model, InferenceProblem problem, InferenceRecord record)
    {
        record.Code = problem.Code.Value;
        return new(model, null, null, record.Attempts.Count, problem);
    }
}

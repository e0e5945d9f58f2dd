using System.Globalization;
using System.Diagnostics;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Conformance;

/// <summary>The outcome of the checks run against a started container: what `infra test` reports and what a node admits on.</summary>
public sealed record PreflightResult(IReadOnlyList<StepResult> Steps, IReadOnlyList<CaseResult> Cases)
{
    public bool Passed => Steps.All(s => s.Status != CheckStatus.Failed) && Cases.All(c => c.Status == CheckStatus.Passed) && Cases.Any(c => c.Positive);

    public Verdict? FirstVerdict => Steps.Select(s => s.Verdict).Concat(Cases.Select(c => c.Verdict)).FirstOrDefault(v => v is not null);
}

/// <summary>
/// Runs DESIGN.md's conformance rules: validate → image → start → init → readiness → warmup → healthcheck → cases →
/// cleanup. The same code decides `infra test` and a node's pre-flight (<see cref="PreflightAsync"/>).
/// </summary>
public sealed class ConformanceRunner
{
    private readonly Task<ContainerEngine> _engine;
    private readonly IProgress<ConformanceEvent>? _progress;

    public ConformanceRunner(ContainerEngine engine, IProgress<ConformanceEvent>? progress = null)
        : this(Task.FromResult(engine), progress)
    {
    }

    /// <summary>
    /// With an engine still being connected: a package run validates its manifest meanwhile, so a slow or missing
    /// engine does not delay the manifest's verdict (an invalid manifest is reported without one).
    /// </summary>
    public ConformanceRunner(Task<ContainerEngine> engine, IProgress<ConformanceEvent>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _progress = progress;
    }

    /// <summary>
    /// Validates, builds (or reuses) and tests a package directory.
    /// <para>
    /// The manifest's validation is mostly one-off start-up work of the process, and a short run feels every
    /// millisecond of it, so meanwhile another thread hashes the context and looks it up in InfraMind's own record of
    /// the images it built (<see cref="ConformanceOptions.ImageIndex"/>; an image's labels are never trusted for this).
    /// Where it built one, the record says how to start it, and it is started at once: an image built from this
    /// byte-identical context (model.yaml and schemas included) was built only after the same manifest passed
    /// validation. Nothing else happens before this run's own validation passes: no hook, no request. If it fails,
    /// or the manifest asks for another start than the record said, that container is removed unused.
    /// </para>
    /// </summary>
    public async Task<ConformanceReport> RunPackageAsync(string packageDirectory, ConformanceOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clock = Stopwatch.StartNew();
        var steps = new List<StepResult>();
        using var earlyCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var early = Task.Run(() => PrepareAsync(packageDirectory, options, earlyCancel.Token), earlyCancel.Token);
        RunningContainer? adopted = null;
        try
        {
            Report(new StepStarted(ConformanceSteps.Validate, "validate model.yaml"));
            var validation = ManifestReader.Validate(packageDirectory);
            if (validation.Manifest is not { } manifest || !validation.IsValid)
            {
                await earlyCancel.CancelAsync();
                var errors = validation.Errors.ToList();
                Add(steps, ConformanceSteps.Validate, CheckStatus.Failed, Verdict.ManifestInvalid,
                    $"{ManifestValidation.Plural(validation.ErrorCount, "error")}: " + string.Join("; ", errors.Take(5).Select(e => e.ToString())), clock.Elapsed);
                return new ConformanceReport(Path.GetFileName(Path.GetFullPath(packageDirectory)), null, validation.ManifestDigest, null, 0, steps, [], clock.Elapsed)
                {
                    ManifestErrors = errors,
                };
            }

            Add(steps, ConformanceSteps.Validate, CheckStatus.Passed, null, $"{manifest.Name} {manifest.Version}, manifest {manifest.ManifestDigest[..19]}…", clock.Elapsed);
            var prepared = await early;
            if (await EnsureImageAsync(manifest, validation.PackageDirectory, prepared, options.ImageIndex, steps, cancellationToken) is not { } image)
                return new ConformanceReport(manifest.Name, manifest.Version.ToString(), manifest.ManifestDigest, null, manifest.Port, steps, [], clock.Elapsed);
            if (prepared.Started is { } started && image.Id == prepared.Record?.ImageId &&
                prepared.Record.Settings == RunSettings.Of(manifest))
            {
                adopted = started;
            }
            else if (prepared.Started is { } unused)
            {
                await unused.DisposeAsync();
            }

            return await RunImageCoreAsync(manifest, image, options, steps, clock, adopted, prepared.StartDuration, cancellationToken);
        }
        finally
        {
            // Whatever was started early and not used is removed, also on errors and Ctrl-C (the task is awaited for that).
            await ((Task)early).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (early.IsCompletedSuccessfully && early.Result.Started is { } left && left != adopted) await left.DisposeAsync();
        }
    }

    /// <summary>The container spec of a model under the isolation policy, with the manifest's limits.</summary>
    public static ContainerSpec SpecFor(ModelManifest manifest, string image, IReadOnlyDictionary<string, string>? labels = null) =>
        RunSettings.Of(manifest).ToSpec(image, labels);

    /// <summary>
    /// What the other thread found (and maybe started) while the manifest was validated: InfraMind's record of an
    /// image built from this context, if any and still in the engine. With <see cref="ConformanceOptions.Rebuild"/> it
    /// looks for nothing, and a build follows.
    /// </summary>
    private sealed record Prepared(string ContextDigest, ImageRecord? Record, RunningContainer? Started, TimeSpan StartDuration);

    private async Task<Prepared> PrepareAsync(string directory, ConformanceOptions options, CancellationToken cancellationToken)
    {
        var context = ImageIdentity.ContextDigest(directory);
        if (options.Rebuild || options.ImageIndex?.Find(context) is not { } record) return new Prepared(context, null, null, TimeSpan.Zero);
        var engine = await _engine;
        // By id: the content InfraMind built. A tag may have been moved to another image since.
        if (await engine.InspectImageAsync(record.ImageId, cancellationToken) is null) return new Prepared(context, null, null, TimeSpan.Zero);
        var clock = Stopwatch.StartNew();
        try
        {
            var container = await engine.RunAsync(record.Settings.ToSpec(record.ImageId, options.Labels), cancellationToken);
            return new Prepared(context, record, container, clock.Elapsed);
        }
        catch (ContainerEngineException e) when (e is not (EngineUnavailableException or IsolationUnsupportedException))
        {
            // Started again, and judged, on the ordinary path once the manifest is known valid.
            return new Prepared(context, record, null, TimeSpan.Zero);
        }
    }

    private async Task<ConformanceReport> RunImageCoreAsync(
        ModelManifest manifest, (string Tag, string Id) image, ConformanceOptions options, List<StepResult> steps, Stopwatch clock,
        RunningContainer? startedEarly, TimeSpan earlyStartDuration, CancellationToken cancellationToken)
    {
        IReadOnlyList<CaseResult> cases = [];
        Report(new StepStarted(ConformanceSteps.Start, $"start {image.Tag} with no network (port {manifest.Port} reached inside it)"));
        var started = clock.Elapsed;
        RunningContainer? container = startedEarly;
        try
        {
            if (container is null)
            {
                var engine = await _engine;
                try
                {
                    // By id: the image this run built or InfraMind recorded, whatever its tag names now.
                    container = await engine.RunAsync(SpecFor(manifest, image.Id, options.Labels), cancellationToken);
                }
                catch (ContainerEngineException e) when (e is not (EngineUnavailableException or IsolationUnsupportedException))
                {
                    Add(steps, ConformanceSteps.Start, CheckStatus.Failed, Verdict.StartFailed, e.Message, clock.Elapsed - started);
                    return Build();
                }
            }

            Add(steps, ConformanceSteps.Start, CheckStatus.Passed, null,
                $"container {container.Id[..12]} of {image.Id[..19]}, no network, port {manifest.Port} reached inside it" + (startedEarly is null ? "" : " (started while model.yaml was validated)"),
                startedEarly is null ? clock.Elapsed - started : earlyStartDuration);
            var preflight = await PreflightAsync(manifest, container, options, cancellationToken);
            steps.AddRange(preflight.Steps);
            cases = preflight.Cases;
        }
        finally
        {
            if (container is not null)
            {
                var cleanup = Stopwatch.StartNew();
                Report(new StepStarted(ConformanceSteps.Cleanup, "remove the container"));
                await container.DisposeAsync();
                Add(steps, ConformanceSteps.Cleanup, CheckStatus.Passed, null, "container removed", cleanup.Elapsed);
            }
        }

        return Build();

        ConformanceReport Build() => new(manifest.Name, manifest.Version.ToString(), manifest.ManifestDigest, image.Tag, manifest.Port, steps, cases, clock.Elapsed);
    }

    /// <summary>init → readiness → warmup → healthcheck → cases, against a started container. Leaves the container running.</summary>
    public async Task<PreflightResult> PreflightAsync(ModelManifest manifest, RunningContainer container, ConformanceOptions options, CancellationToken cancellationToken)
    {
        var steps = new List<StepResult>();
        using var exitWatch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var exited = container.WaitForExitAsync(exitWatch.Token);
        using var exitedSignal = new CancellationTokenSource();
        _ = exited.ContinueWith(_ => exitedSignal.Cancel(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            if (!await HookAsync(ConformanceSteps.Init, manifest.Hooks.Init, Verdict.InitFailed, container, options, steps, exited, cancellationToken))
                return new PreflightResult(steps, []);
            if (!await ReadinessAsync(manifest, container, options, steps, exitedSignal.Token, cancellationToken))
                return new PreflightResult(steps, []);
            if (!await HookAsync(ConformanceSteps.Warmup, manifest.Hooks.Warmup, Verdict.WarmupFailed, container, options, steps, exited, cancellationToken))
                return new PreflightResult(steps, []);
            if (!await HookAsync(ConformanceSteps.Healthcheck, manifest.Hooks.Healthcheck, Verdict.HealthcheckFailed, container, options, steps, exited, cancellationToken))
                return new PreflightResult(steps, []);
            var cases = await CasesAsync(manifest, container, options, steps, exited, cancellationToken);
            return new PreflightResult(steps, cases);
        }
        finally
        {
            await exitWatch.CancelAsync();
            try
            {
                await exited;
            }
            catch (Exception e) when (e is OperationCanceledException or ContainerEngineException or HttpRequestException or IOException)
            {
                // The watch ends with the run; how it ends does not matter here.
            }
        }
    }

    private async Task<bool> HookAsync(
        string step, string? hook, Verdict verdict, RunningContainer container, ConformanceOptions options, List<StepResult> steps,
        Task<long> exited, CancellationToken cancellationToken)
    {
        if (hook is null)
        {
            Add(steps, step, CheckStatus.Skipped, null, "no hook declared", TimeSpan.Zero);
            return true;
        }

        Report(new StepStarted(step, $"run hook {hook}"));
        if (exited.IsCompleted)
        {
            Add(steps, await ContainerDiagnosis.ExitedAsync(step, container, cancellationToken));
            return false;
        }

        ExecResult result;
        try
        {
            result = await container.ExecAsync(["sh", hook], options.HookTimeout, cancellationToken);
        }
        catch (ContainerEngineException e) when (e is not EngineUnavailableException)
        {
            // The container may have died under the hook, or have no process left to give: the cause is the verdict.
            if (await ContainerDiagnosis.CauseAsync(step, container, exited, cancellationToken) is { } cause)
            {
                Add(steps, cause);
                return false;
            }

            Add(steps, step, CheckStatus.Failed, verdict, $"{step} hook {hook} could not run: {e.Message}", TimeSpan.Zero);
            return false;
        }

        if (result.Succeeded)
        {
            Add(steps, step, CheckStatus.Passed, null, $"{hook} exited 0" + ContainerDiagnosis.Tail(" — ", result.Stdout, 200), result.Duration);
            return true;
        }

        // A hook killed with its container (OOM, crash) or refused a process fails too; that is the real cause.
        if (await ContainerDiagnosis.CauseAsync(step, container, exited, cancellationToken) is { } died)
        {
            Add(steps, died);
            return false;
        }

        var detail = result.TimedOut
            ? $"{step} hook {hook} did not finish within {options.HookTimeout.TotalSeconds:0.#} s"
            : $"{step} hook {hook} exited {result.ExitCode}";
        detail += ContainerDiagnosis.Tail("; stderr: ", result.Stderr, 800) + ContainerDiagnosis.Tail("; stdout: ", result.Stdout, 400);
        Add(steps, step, CheckStatus.Failed, verdict, detail, result.Duration);
        return false;
    }

    private async Task<bool> ReadinessAsync(
        ModelManifest manifest, RunningContainer container, ConformanceOptions options, List<StepResult> steps,
        CancellationToken exitedSignal, CancellationToken cancellationToken)
    {
        var timeout = options.ReadinessTimeout ?? manifest.ReadinessTimeout;
        Report(new StepStarted(ConformanceSteps.Readiness, $"wait for port {manifest.Port} (≤ {timeout.TotalSeconds:0.###} s)"));
        var clock = Stopwatch.StartNew();
        if (await ReadinessProbe.WaitAsync(container.ProbePortAsync, timeout, exitedSignal, cancellationToken))
        {
            var accepted = clock.Elapsed;
            if (manifest.Protocol == ModelProtocol.Grpc)
            {
                if (await GrpcReadinessCheck.WaitAsync(manifest, container, timeout, clock, exitedSignal, cancellationToken) is { } unready)
                {
                    Add(steps, unready);
                    return false;
                }

                if (!exitedSignal.IsCancellationRequested)
                {
                    Add(steps, ConformanceSteps.Readiness, CheckStatus.Passed, null,
                        $"port {manifest.Port} accepted after {accepted.TotalMilliseconds:0} ms, gRPC health SERVING after {clock.Elapsed.TotalMilliseconds:0} ms", clock.Elapsed);
                    return true;
                }
            }
            else
            {
                Add(steps, ConformanceSteps.Readiness, CheckStatus.Passed, null, $"port {manifest.Port} accepted after {accepted.TotalMilliseconds:0} ms", clock.Elapsed);
                return true;
            }
        }

        var elapsed = clock.Elapsed;
        if (exitedSignal.IsCancellationRequested)
        {
            Add(steps, await ContainerDiagnosis.ExitedAsync(ConformanceSteps.Readiness, container, cancellationToken));
            return false;
        }

        IReadOnlyList<Listener> listening = [];
        try
        {
            var probe = await container.ExecAsync(ListeningPorts.Command, TimeSpan.FromSeconds(5), cancellationToken);
            listening = ListeningPorts.Parse(probe.Stdout);
        }
        catch (ContainerEngineException)
        {
            // Without /proc in the image the plain verdict below still holds.
        }

        var logs = await ContainerDiagnosis.LogsAsync(container, cancellationToken);
        // Read last, after the ports and the logs: a model still forking when the wait ended may have reached its limit since.
        var pids = await container.GetPidsAsync(cancellationToken);
        if (ContainerDiagnosis.PidsLimit(ConformanceSteps.Readiness, pids, logs) is { } forkBomb)
        {
            Add(steps, forkBomb with { Duration = elapsed });
            return false;
        }

        var onPort = listening.Where(l => l.Port == manifest.Port).ToList();
        if (onPort.Count > 0 && onPort.All(l => l.Ipv6LoopbackOnly))
        {
            Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.NoAnswerOnPort,
                $"the model listens on [::1]:{manifest.Port} only, IPv6's loopback, and is reached on the container's 127.0.0.1; " +
                "bind 127.0.0.1 or 0.0.0.0 inside the container" + ContainerDiagnosis.Tail("; logs: ", logs, 600), elapsed);
            return false;
        }

        var elsewhere = listening.Select(l => l.Port).Distinct().ToList();
        if (onPort.Count == 0 && elsewhere.Count > 0)
        {
            Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.WrongPort,
                $"the model listens on {string.Join(", ", elsewhere)} but model.yaml declares port {manifest.Port}; " +
                $"make `port:` and the server agree" + ContainerDiagnosis.Tail("; logs: ", logs, 600), elapsed);
            return false;
        }

        Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.NoAnswerOnPort,
            $"no answer on port {manifest.Port} within {timeout.TotalSeconds:0.###} s" +
            ContainerDiagnosis.Crowded(pids) + ContainerDiagnosis.Tail("; logs: ", logs, 600), elapsed);
        return false;
    }

    private async Task<IReadOnlyList<CaseResult>> CasesAsync(
        ModelManifest manifest, RunningContainer container, ConformanceOptions options, List<StepResult> steps, Task<long> exited,
        CancellationToken cancellationToken)
    {
        var inputs = new SyntheticInputs(manifest.InputSchema, options.Seed);
        var generated = inputs.Generate(options.Cases, options.NegativeCases);
        if (!generated.Any(c => c.Positive))
        {
            Add(steps, ConformanceSteps.Cases, CheckStatus.Failed, Verdict.ManifestInvalid, NoValidInput(inputs.Unsatisfied), TimeSpan.Zero);
            return [];
        }

        Report(new StepStarted(ConformanceSteps.Cases, $"{generated.Count(c => c.Positive)} valid and {generated.Count(c => !c.Positive)} invalid inputs (seed {options.Seed})"));
        var (cases, step) = await CaseRunner.RunAllAsync(generated, manifest, container, options, exited, r => Report(new CaseFinished(r)), cancellationToken);
        Add(steps, step);
        return cases;
    }

    /// <summary>
    /// Why no valid input was sent: the generator built none within its bounds and the schema gives no valid
    /// <c>examples</c>. Not that the schema admits none: it may admit inputs the generator cannot build (a construct it
    /// does not know, a bound below), so the text names what it could not satisfy and asks for an example.
    /// </summary>
    internal static string NoValidInput(IReadOnlyList<string> unsatisfied) =>
        "InfraMind could not build a valid input from input_schema within its bounds (strings of at most " +
        string.Create(CultureInfo.InvariantCulture, $"{SyntheticInputs.MaxStringLength:N0} characters, arrays of at most {SyntheticInputs.MaxItems} items, ") +
        string.Create(CultureInfo.InvariantCulture, $"{SyntheticInputs.MaxValues:N0} values and {SyntheticInputs.MaxChars / 1024} KiB of text in one input)") +
        (unsatisfied.Count > 0 ? $"; it could not satisfy: {string.Join("; ", unsatisfied)}" : "") +
        ", and input_schema gives no valid `examples`. The schema may still admit inputs InfraMind cannot build: " +
        "add one valid input to input_schema's `examples` (it is sent as given), or relax what is named";

    /// <summary>Points <paramref name="tag"/> (NAME:VERSION) at <paramref name="imageId"/>; true when it named another image (or none) before.</summary>
    private async Task<bool> TagAsync(string imageId, string tag, CancellationToken cancellationToken)
    {
        var engine = await _engine;
        if ((await engine.InspectImageAsync(tag, cancellationToken))?.Id == imageId) return false;
        var colon = tag.LastIndexOf(':');
        await engine.TagImageAsync(imageId, tag[..colon], tag[(colon + 1)..], cancellationToken);
        return true;
    }

    /// <summary>
    /// The image to run, as its tag and id: the one InfraMind recorded building from this context and manifest (it
    /// still exists: <see cref="PrepareAsync"/> checked), else a new build, recorded once built.
    /// </summary>
    private async Task<(string Tag, string Id)?> EnsureImageAsync(
        ModelManifest manifest, string directory, Prepared prepared, ImageIndex? imageIndex, List<StepResult> steps, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var tag = manifest.ImageTag;
        if (prepared.Record is { } record && record.ManifestDigest == manifest.ManifestDigest)
        {
            // NAME:VERSION names what was tested last, as after a build: a copy of the package with the same name and
            // version, tested meanwhile, had moved the tag to its own image, and `infra push DIR` exports the tag.
            var moved = await TagAsync(record.ImageId, tag, cancellationToken);
            Add(steps, ConformanceSteps.Image, CheckStatus.Passed, null,
                $"reused {record.ImageId[..19]} ({tag}{(moved ? ", tagged again: the tag named another image" : "")}): InfraMind built it from the same manifest and context",
                clock.Elapsed);
            return (tag, record.ImageId);
        }

        var labels = ImageIdentity.Labels(manifest, prepared.ContextDigest);
        Report(new StepStarted(ConformanceSteps.Image, $"build {tag}"));
        var engine = await _engine;
        try
        {
            var id = await engine.BuildImageAsync(directory, tag, labels, new SyncProgress<string>(line => Report(new BuildOutput(line))), cancellationToken);
            imageIndex?.RememberBuild(manifest, prepared.ContextDigest, id);
            Add(steps, ConformanceSteps.Image, CheckStatus.Passed, null, $"built {tag}", clock.Elapsed);
            return (tag, id);
        }
        catch (ImageBuildFailedException e)
        {
            // A base image the engine lacks: what is missing and how to get it, the engine's (pull) error only as its cause.
            Add(steps, ConformanceSteps.Image, CheckStatus.Failed, Verdict.BuildFailed,
                e.MissingBaseImage is not null ? $"{e.Message}. Fix: {e.Hint}"
                : $"the build failed at {e.FailingStep ?? "an unknown step"}: {e.Error}" + ContainerDiagnosis.Tail("; output: ", e.OutputTail, 1200), clock.Elapsed);
            return null;
        }
        catch (ContainerEngineException e) when (e is not EngineUnavailableException)
        {
            Add(steps, ConformanceSteps.Image, CheckStatus.Failed, Verdict.BuildFailed, e.Message, clock.Elapsed);
            return null;
        }
    }

    private void Add(List<StepResult> steps, string step, CheckStatus status, Verdict? verdict, string detail, TimeSpan duration) =>
        Add(steps, new StepResult(step, status, verdict, detail, duration));

    private void Add(List<StepResult> steps, StepResult result)
    {
        steps.Add(result);
        Report(new StepFinished(result));
    }

    private void Report(ConformanceEvent e) => _progress?.Report(e);
}

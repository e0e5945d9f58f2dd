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
    private const int LogTail = 30;
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
    /// millisecond of it, so meanwhile another thread hashes the context and asks the engine for an image built from
    /// it. Where InfraMind built one, its labels say how to start it, and it is started at once: an image built from
    /// this byte-identical context (model.yaml and schemas included) was built only after the same manifest passed
    /// validation. Nothing else happens before this run's own validation passes: no hook, no request. If it fails,
    /// or the manifest asks for another start than the labels said, that container is removed unused.
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
                    $"{errors.Count} error(s): " + string.Join("; ", errors.Take(5).Select(e => e.ToString())), clock.Elapsed);
                return new ConformanceReport(Path.GetFileName(Path.GetFullPath(packageDirectory)), null, validation.ManifestDigest, null, 0, null, steps, [], clock.Elapsed);
            }

            Add(steps, ConformanceSteps.Validate, CheckStatus.Passed, null, $"{manifest.Name} {manifest.Version}, manifest {manifest.ManifestDigest[..19]}…", clock.Elapsed);
            var prepared = await early;
            if (await EnsureImageAsync(manifest, validation.PackageDirectory, prepared, options.ImageIndex, steps, cancellationToken) is not { } image) return new ConformanceReport(manifest.Name, manifest.Version.ToString(), manifest.ManifestDigest, null, manifest.Port, null, steps, [], clock.Elapsed);
            if (prepared.Started is { } started && image.Id == prepared.StartedImage && manifest.Protocol == ModelProtocol.Rest &&
                prepared.Settings == RunSettings.Of(manifest))
            {
                adopted = started;
            }
            else if (prepared.Started is { } unused)
            {
                await unused.DisposeAsync();
            }

            return await RunImageCoreAsync(manifest, image.Tag, options, steps, clock, adopted, prepared.StartDuration, cancellationToken);
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
    /// What the other thread found (and maybe started) while the manifest was validated. With
    /// <see cref="ConformanceOptions.Rebuild"/> it looks for nothing, so <see cref="Images"/> is empty and a build follows.
    /// </summary>
    private sealed record Prepared(string ContextDigest, IReadOnlyList<ImageSummary> Images, RunningContainer? Started, string? StartedImage, RunSettings? Settings, TimeSpan StartDuration);

    private async Task<Prepared> PrepareAsync(string directory, ConformanceOptions options, CancellationToken cancellationToken)
    {
        var context = ImageIdentity.ContextDigest(directory);
        if (options.Rebuild) return new Prepared(context, [], null, null, null, TimeSpan.Zero);
        var engine = await _engine;
        var images = await FindByContextAsync(engine, context, options.ImageIndex, cancellationToken);
        var candidate = images.Where(i => i.Tags.Count > 0).Select(i => (Image: i, Settings: RunSettings.FromLabels(i.Labels))).FirstOrDefault(c => c.Settings is not null);
        if (candidate.Settings is not { } settings) return new Prepared(context, images, null, null, null, TimeSpan.Zero);
        var clock = Stopwatch.StartNew();
        try
        {
            var container = await engine.RunAsync(settings.ToSpec(candidate.Image.Id, options.Labels), cancellationToken);
            return new Prepared(context, images, container, candidate.Image.Id, settings, clock.Elapsed);
        }
        catch (ContainerEngineException e) when (e is not (EngineUnavailableException or IsolationUnsupportedException))
        {
            // Started again, and judged, on the ordinary path once the manifest is known valid.
            return new Prepared(context, images, null, null, null, TimeSpan.Zero);
        }
    }

    private static async Task<IReadOnlyList<ImageSummary>> FindByContextAsync(ContainerEngine engine, string context, ImageIndex? index, CancellationToken cancellationToken)
    {
        if (index?.Find(context) is { } id && await engine.InspectImageAsync(id, cancellationToken) is { Tags.Count: > 0 } indexed &&
            indexed.Labels.TryGetValue(ImageIdentity.ContextDigestLabel, out var labelled) && labelled == context)
        {
            return [indexed];
        }

        var images = await engine.FindImagesAsync(new Dictionary<string, string> { [ImageIdentity.ContextDigestLabel] = context }, cancellationToken);
        if (images.FirstOrDefault(i => i.Tags.Count > 0) is { } tagged) index?.Remember(context, tagged.Id);
        return images;
    }

    private async Task<ConformanceReport> RunImageCoreAsync(
        ModelManifest manifest, string image, ConformanceOptions options, List<StepResult> steps, Stopwatch clock,
        RunningContainer? startedEarly, TimeSpan earlyStartDuration, CancellationToken cancellationToken)
    {
        IReadOnlyList<CaseResult> cases = [];
        int? hostPort = null;
        if (manifest.Protocol != ModelProtocol.Rest)
        {
            Add(steps, ConformanceSteps.Start, CheckStatus.Failed, Verdict.UnsupportedProtocol,
                "conformance runs for protocol grpc are not implemented yet; only rest models can be tested", TimeSpan.Zero);
            return Build();
        }

        Report(new StepStarted(ConformanceSteps.Start, $"start {image} (port {manifest.Port} → 127.0.0.1)"));
        var started = clock.Elapsed;
        RunningContainer? container = startedEarly;
        try
        {
            if (container is null)
            {
                var engine = await _engine;
                try
                {
                    container = await engine.RunAsync(SpecFor(manifest, image, options.Labels), cancellationToken);
                }
                catch (ContainerEngineException e) when (e is not (EngineUnavailableException or IsolationUnsupportedException))
                {
                    Add(steps, ConformanceSteps.Start, CheckStatus.Failed, Verdict.StartFailed, e.Message, clock.Elapsed - started);
                    return Build();
                }
            }

            hostPort = container.HostPort;
            Add(steps, ConformanceSteps.Start, CheckStatus.Passed, null,
                $"container {container.Id[..12]}, port {manifest.Port} on 127.0.0.1:{container.HostPort}" + (startedEarly is null ? "" : " (started while model.yaml was validated)"),
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
                Report(new StepStarted(ConformanceSteps.Cleanup, "remove container and network"));
                await container.DisposeAsync();
                Add(steps, ConformanceSteps.Cleanup, CheckStatus.Passed, null, "container and network removed", cleanup.Elapsed);
            }
        }

        return Build();

        ConformanceReport Build() => new(manifest.Name, manifest.Version.ToString(), manifest.ManifestDigest, image, manifest.Port, hostPort, steps, cases, clock.Elapsed);
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
            steps.Add(await ExitedAsync(step, container, cancellationToken));
            Report(new StepFinished(steps[^1]));
            return false;
        }

        ExecResult result;
        try
        {
            result = await container.ExecAsync(["sh", hook], options.HookTimeout, cancellationToken);
        }
        catch (ContainerEngineException e) when (e is not EngineUnavailableException)
        {
            // The container may have died under the hook; give the exit a moment to be recorded before judging.
            await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(2), cancellationToken));
            if (exited.IsCompleted)
            {
                steps.Add(await ExitedAsync(step, container, cancellationToken));
                Report(new StepFinished(steps[^1]));
                return false;
            }

            Add(steps, step, CheckStatus.Failed, verdict, $"{step} hook {hook} could not run: {e.Message}", TimeSpan.Zero);
            return false;
        }

        if (result.Succeeded)
        {
            Add(steps, step, CheckStatus.Passed, null, $"{hook} exited 0" + Tail(" — ", result.Stdout, 200), result.Duration);
            return true;
        }

        // A hook killed with its container (OOM, crash) fails too; the container's exit is the real cause, so wait a moment for it.
        await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken));
        if (exited.IsCompleted)
        {
            steps.Add(await ExitedAsync(step, container, cancellationToken));
            Report(new StepFinished(steps[^1]));
            return false;
        }

        var detail = result.TimedOut
            ? $"{step} hook {hook} did not finish within {options.HookTimeout.TotalSeconds:0.#} s"
            : $"{step} hook {hook} exited {result.ExitCode}";
        detail += Tail("; stderr: ", result.Stderr, 800) + Tail("; stdout: ", result.Stdout, 400);
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
        var greeting = manifest.Protocol == ModelProtocol.Rest ? ReadinessProbe.HttpGreeting : ReadOnlyMemory<byte>.Empty;
        if (await ReadinessProbe.WaitAsync((settle, ct) => container.ProbePortAsync(settle, greeting, ct), timeout, exitedSignal, cancellationToken))
        {
            Add(steps, ConformanceSteps.Readiness, CheckStatus.Passed, null, $"port {manifest.Port} accepted after {clock.Elapsed.TotalMilliseconds:0} ms", clock.Elapsed);
            return true;
        }

        var elapsed = clock.Elapsed;
        if (exitedSignal.IsCancellationRequested)
        {
            steps.Add(await ExitedAsync(ConformanceSteps.Readiness, container, cancellationToken));
            Report(new StepFinished(steps[^1]));
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

        var logs = await LogsAsync(container, cancellationToken);
        var onPort = listening.Where(l => l.Port == manifest.Port).ToList();
        if (onPort.Count > 0 && onPort.All(l => l.LoopbackOnly))
        {
            Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.NoAnswerOnPort,
                $"the model listens on {onPort[0].Address}:{manifest.Port} only, which the published port cannot reach; " +
                "bind 0.0.0.0 inside the container" + Tail("; logs: ", logs, 600), elapsed);
            return false;
        }

        var elsewhere = listening.Where(l => !l.LoopbackOnly).Select(l => l.Port).Distinct().ToList();
        if (onPort.Count == 0 && elsewhere.Count > 0)
        {
            Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.WrongPort,
                $"the model listens on {string.Join(", ", elsewhere)} but model.yaml declares port {manifest.Port}; " +
                $"make `port:` and the server agree" + Tail("; logs: ", logs, 600), elapsed);
            return false;
        }

        Add(steps, ConformanceSteps.Readiness, CheckStatus.Failed, Verdict.NoAnswerOnPort,
            $"no answer on port {manifest.Port} within {timeout.TotalSeconds:0.###} s" + Tail("; logs: ", logs, 600), elapsed);
        return false;
    }

    private async Task<IReadOnlyList<CaseResult>> CasesAsync(
        ModelManifest manifest, RunningContainer container, ConformanceOptions options, List<StepResult> steps, Task<long> exited,
        CancellationToken cancellationToken)
    {
        var generated = new SyntheticInputs(manifest.InputSchema, options.Seed).Generate(options.Cases, options.NegativeCases);
        Report(new StepStarted(ConformanceSteps.Cases, $"{generated.Count(c => c.Positive)} valid and {generated.Count(c => !c.Positive)} invalid inputs (seed {options.Seed})"));
        var clock = Stopwatch.StartNew();
        using var handler = new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        var endpoint = container.BaseAddress;
        var results = new List<CaseResult>();
        foreach (var c in generated)
        {
            if (exited.IsCompleted) break;
            var result = await CaseRunner.RunAsync(http, endpoint, c, manifest.OutputSchema, options.RequestTimeout, cancellationToken);
            results.Add(result);
            Report(new CaseFinished(result));
        }

        if (exited.IsCompleted)
        {
            var crash = await ExitedAsync(ConformanceSteps.Cases, container, cancellationToken);
            var last = results.LastOrDefault();
            var during = last is null ? "" : $" after case '{last.Name}' ({(last.Positive ? "valid" : "invalid")} input)";
            var verdict = crash.Verdict == Verdict.OomKilled ? Verdict.OomKilled : last is { Positive: false } ? Verdict.ServerErrorOnInvalidInput : Verdict.ContainerExited;
            Add(steps, ConformanceSteps.Cases, CheckStatus.Failed, verdict, $"the container exited{during}: {crash.Detail}", clock.Elapsed);
            return results;
        }

        var failed = results.Count(r => r.Status == CheckStatus.Failed);
        var latencies = results.Where(r => r.Positive && r.StatusCode is not null).Select(r => r.LatencyMs).Order().ToList();
        var p50 = latencies.Count > 0 ? latencies[latencies.Count / 2] : 0;
        Add(steps, ConformanceSteps.Cases, failed == 0 && results.Any(r => r.Positive) ? CheckStatus.Passed : CheckStatus.Failed,
            failed == 0 ? null : results.First(r => r.Status == CheckStatus.Failed).Verdict,
            $"{results.Count - failed}/{results.Count} passed, p50 {p50:0.#} ms", clock.Elapsed);
        return results;
    }

    private static async Task<StepResult> ExitedAsync(string step, RunningContainer container, CancellationToken cancellationToken)
    {
        var state = await container.InspectStateAsync(cancellationToken);
        var logs = await LogsAsync(container, cancellationToken);
        var verdict = state.OomKilled ? Verdict.OomKilled : Verdict.ContainerExited;
        var detail = state.OomKilled
            ? $"the container was killed for running out of memory (limit from resources.memory); exit code {state.ExitCode}"
            : $"the container exited with code {state.ExitCode}";
        return new StepResult(step, CheckStatus.Failed, verdict, detail + Tail("; logs: ", logs, 800), TimeSpan.Zero);
    }

    private static async Task<string> LogsAsync(RunningContainer container, CancellationToken cancellationToken)
    {
        try
        {
            return (await container.GetLogsAsync(LogTail, cancellationToken)).Combined;
        }
        catch (ContainerEngineException)
        {
            return "";
        }
    }

    /// <summary>The image to run, as its tag and id: one built from the same manifest and context, else a new build.</summary>
    private async Task<(string Tag, string Id)?> EnsureImageAsync(
        ModelManifest manifest, string directory, Prepared prepared, ImageIndex? imageIndex, List<StepResult> steps, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var tag = manifest.ImageTag;
        var labels = ImageIdentity.Labels(manifest, prepared.ContextDigest);
        // The run settings label is not required to reuse: images built before it existed are just as good.
        var identity = labels.Where(l => l.Key != ImageIdentity.RunSettingsLabel).ToList();
        var existing = prepared.Images.FirstOrDefault(i => i.Tags.Contains(tag) && identity.All(l => i.Labels.TryGetValue(l.Key, out var v) && v == l.Value));
        if (existing is not null)
        {
            Add(steps, ConformanceSteps.Image, CheckStatus.Passed, null, $"reused {tag}: built from the same manifest and context", clock.Elapsed);
            return (tag, existing.Id);
        }

        Report(new StepStarted(ConformanceSteps.Image, $"build {tag}"));
        var engine = await _engine;
        try
        {
            var id = await engine.BuildImageAsync(directory, tag, labels, new SyncProgress<string>(line => Report(new BuildOutput(line))), cancellationToken);
            imageIndex?.Remember(prepared.ContextDigest, id);
            Add(steps, ConformanceSteps.Image, CheckStatus.Passed, null, $"built {tag}", clock.Elapsed);
            return (tag, id);
        }
        catch (ImageBuildFailedException e)
        {
            Add(steps, ConformanceSteps.Image, CheckStatus.Failed, Verdict.BuildFailed,
                $"the build failed at {e.FailingStep ?? "an unknown step"}: {e.Error}" + Tail("; output: ", e.OutputTail, 1200), clock.Elapsed);
            return null;
        }
        catch (ContainerEngineException e) when (e is not EngineUnavailableException)
        {
            Add(steps, ConformanceSteps.Image, CheckStatus.Failed, Verdict.BuildFailed, e.Message, clock.Elapsed);
            return null;
        }
    }

    private void Add(List<StepResult> steps, string step, CheckStatus status, Verdict? verdict, string detail, TimeSpan duration)
    {
        var result = new StepResult(step, status, verdict, detail, duration);
        steps.Add(result);
        Report(new StepFinished(result));
    }

    private void Report(ConformanceEvent e) => _progress?.Report(e);

    private static string Tail(string prefix, string text, int max)
    {
        var t = text.Trim();
        if (t.Length == 0) return "";
        return prefix + (t.Length <= max ? t : "…" + t[^max..]);
    }
}

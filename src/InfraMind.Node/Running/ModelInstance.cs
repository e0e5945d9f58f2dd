using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving.Grpc;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Running;

/// <summary>
/// One placed model on a node: image → isolated container → pre-flight → ready; then watches the container and its
/// health, and restarts and pre-flights it again when it dies. Jobs go only to a container that passed pre-flight.
/// </summary>
internal sealed class ModelInstance : IAsyncDisposable
{
    private readonly ModelAssignment _assignment;
    private readonly ModelManifest _manifest;
    private readonly ContainerEngine _engine;
    private readonly IModelImageSource _images;
    private readonly NodeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task? _loop;
    private RunningContainer? _container;
    private ModelState _state = ModelState.Starting;
    private Verdict? _verdict;
    private string? _detail;
    private long _generation;
    private int _restarts;
    private int _failures;
    private Verdict? _lastFailure;
    private DateTimeOffset _since;
    private volatile bool _preflightRequested;
    private readonly NodeMetrics _metrics;

    /// <summary>Called when the model became ready or failed: its node tells its gateways at once (<see cref="NodeAgent.BeatSoon"/>).</summary>
    internal Action? Settled { get; init; }

    public ModelInstance(ModelAssignment assignment, ModelManifest manifest, ContainerEngine engine, IModelImageSource images,
        NodeOptions options, TimeProvider time, ILogger log, NodeMetrics metrics)
    {
        _metrics = metrics;
        _assignment = assignment;
        _manifest = manifest;
        _engine = engine;
        _images = images;
        _options = options;
        _time = time;
        _log = log;
        _since = time.GetUtcNow();
    }

    public ModelAssignment Assignment => _assignment;

    public ModelManifest Manifest => _manifest;

    /// <summary>The container accepting jobs now, or null when not ready.</summary>
    public RunningContainer? ReadyContainer
    {
        get
        {
            lock (_gate) return _state == ModelState.Ready ? _container : null;
        }
    }

    /// <summary>For fault tests: the container, whatever its state.</summary>
    internal RunningContainer? Container
    {
        get
        {
            lock (_gate) return _container;
        }
    }

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>A refused model: never started, reported with its reason.</summary>
    public static ModelReport Refusal(ModelAssignment a, string reason, DateTimeOffset now) =>
        new(a.Name, a.Version, ModelState.Refused, Verdict.Refused, RegistrationRules.Detail(reason), 0, 0, 0, now);

    public void RequestPreflight() => _preflightRequested = true;

    public ModelReport Report()
    {
        lock (_gate)
        {
            return new ModelReport(_assignment.Name, _assignment.Version, _state, _verdict, _detail, _generation, _restarts, _failures, _since, _lastFailure, Manifest.Resources);
        }
    }

    private void SetState(ModelState state, Verdict? verdict, string? detail)
    {
        // Kept, logged and reported at every heartbeat: a failure's text can quote what a publisher or a source chose
        // (references, a registry's problem), so no more of it than a gateway keeps.
        detail = RegistrationRules.Detail(detail);
        lock (_gate)
        {
            _state = state;
            _verdict = verdict;
            _detail = detail;
            _since = _time.GetUtcNow();
            if (state == ModelState.Ready) _generation++;
            if (state == ModelState.Failed)
            {
                _failures++;
                _lastFailure = verdict;
            }
        }

        if (state is ModelState.Ready or ModelState.Failed) Settled?.Invoke();
        if (state == ModelState.Failed)
            _log.LogWarning("{Model} failed on this node: {Verdict}: {Detail}", _assignment.Key, verdict, detail);
        else
            _log.LogInformation("{Model} is {State}", _assignment.Key, state);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var attempt = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (await RunOnceAsync(ct)) attempt = 0;
                else attempt++;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Whatever broke this lifetime, the model must not stay stuck in its last state: report, back off, retry.
                SetState(ModelState.Failed, Verdict.StartFailed, $"{e.GetType().Name}: {e.Message}");
                attempt++;
            }
            finally
            {
                await RemoveContainerAsync();
            }

            if (ct.IsCancellationRequested) break;
            lock (_gate) _restarts++;
            _metrics.Restart(_assignment.Key);
            // Back-off grows with repeated failures so a broken image does not spin the engine.
            var delay = TimeSpan.FromTicks(Math.Min(_options.RestartBackoff.Ticks * (1L << Math.Min(attempt, 6)), _options.MaxRestartBackoff.Ticks));
            try
            {
                await Task.Delay(attempt == 0 ? TimeSpan.Zero : delay, _time, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>One container lifetime. True when it got ready at least once (the back-off starts over).</summary>
    private async Task<bool> RunOnceAsync(CancellationToken ct)
    {
        SetState(ModelState.Starting, null, null);
        string image;
        try
        {
            image = await _images.EnsureImageAsync(_assignment, ct);
        }
        catch (ModelImageException e)
        {
            SetState(ModelState.Failed, Verdict.ImageUnavailable, e.Message);
            return false;
        }

        var labels = new Dictionary<string, string>(_options.ContainerLabels) { [NodeLabels.Node] = _options.NodeId };
        RunningContainer container;
        try
        {
            container = await _engine.RunAsync(ConformanceRunner.SpecFor(_manifest, image, labels), ct);
        }
        catch (ContainerEngineException e) when (e is not EngineUnavailableException)
        {
            SetState(ModelState.Failed, Verdict.StartFailed, $"{e.Code}: {e.Message}");
            return false;
        }

        // Its route, with this node's bounds on jobs at once, before anything else reaches the container through it.
        ContainerRoute.Of(container, _options.MaxJobsPerModel, _options.MaxQueuedJobsPerModel);
        lock (_gate) _container = container;
        if (!await PreflightAsync(container, ct)) return false;
        _preflightRequested = false;
        await WatchAsync(container, ct);
        return true;
    }

    private async Task<bool> PreflightAsync(RunningContainer container, CancellationToken ct)
    {
        // A trace of its own: a pre-flight belongs to no request.
        using var span = MeshTracing.Node.StartActivity("preflight", System.Diagnostics.ActivityKind.Internal, parentContext: default);
        span?.SetTag(MeshTracing.RoleTag, "node");
        span?.SetTag(MeshTracing.NodeTag, _options.NodeId);
        span?.SetTag(MeshTracing.ModelTag, _assignment.Key);
        var result = await new ConformanceRunner(_engine).PreflightAsync(_manifest, container, _options.Preflight, ct);
        span?.SetTag(MeshTracing.VerdictTag, result.Passed ? "passed" : (result.FirstVerdict?.WireName ?? "failed"));
        _metrics.Preflight(_assignment.Key, result.Passed ? null : result.FirstVerdict ?? Verdict.OutputSchemaViolation);
        if (result.Passed)
        {
            SetState(ModelState.Ready, null, $"pre-flight passed (container {container.Id[..12]}, no network, port {container.ContainerPort} inside it)");
            return true;
        }

        var failed = result.Steps.FirstOrDefault(s => s.Status == CheckStatus.Failed)?.Detail
            ?? result.Cases.FirstOrDefault(c => c.Status == CheckStatus.Failed)?.Detail ?? "no valid input got a valid answer";
        SetState(ModelState.Failed, result.FirstVerdict ?? Verdict.OutputSchemaViolation, "pre-flight failed: " + failed);
        return false;
    }

    /// <summary>Until the container dies, turns unhealthy, fails a requested pre-flight, or the node stops it.</summary>
    private async Task WatchAsync(RunningContainer container, CancellationToken ct)
    {
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var exited = container.WaitForExitAsync(watch.Token);
        var unhealthy = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var tick = Task.Delay(_options.HealthInterval, _time, ct);
                await Task.WhenAny(exited, tick);
                // Stopping cancels the wait for the exit too: a wait that ended that way is the node's stop, not a death.
                ct.ThrowIfCancellationRequested();
                if (exited.IsCompleted)
                {
                    var died = await ContainerDiagnosis.ExitedAsync("serving", container, CancellationToken.None);
                    SetState(ModelState.Failed, died.Verdict, died.Detail + "; restarting");
                    return;
                }

                if (_preflightRequested)
                {
                    _preflightRequested = false;
                    if (!await PreflightAsync(container, ct)) return;
                    continue;
                }

                if (await HealthyAsync(container, ct))
                {
                    unhealthy = 0;
                    continue;
                }

                // Two misses in a row: one slow probe under load is not a dead model.
                if (++unhealthy >= 2)
                {
                    SetState(ModelState.Failed, Verdict.HealthcheckFailed, "the health check failed twice in a row; restarting");
                    return;
                }
            }
        }
        finally
        {
            await watch.CancelAsync();
            try
            {
                await exited;
            }
            catch (Exception e) when (e is OperationCanceledException or ContainerEngineException or HttpRequestException or IOException)
            {
                // The watch ends with the container; how does not matter.
            }
        }
    }

    private async Task<bool> HealthyAsync(RunningContainer container, CancellationToken ct)
    {
        if (_manifest.Hooks.Healthcheck is { } hook)
        {
            try
            {
                var result = await container.ExecAsync(["sh", hook], _options.HealthTimeout, ct);
                return result.Succeeded;
            }
            catch (ContainerEngineException e) when (e is not EngineUnavailableException)
            {
                return false;
            }
        }

        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(_options.HealthTimeout);
        try
        {
            if (_manifest.Protocol != ModelProtocol.Grpc) return await container.ProbePortAsync(probe.Token);
            // A gRPC model is healthy while grpc.health.v1 (or V2's ServerReady) says SERVING, as at pre-flight.
            using var channel = new ModelChannel(ContainerRoute.Of(container), _manifest.Name, _manifest.Version.ToString(), ModelAnswer.DefaultBodyLimit);
            return (await channel.CheckReadyAsync(_options.HealthTimeout, probe.Token)).Serving;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return false;
        }
    }

    // No token on purpose: removal must also run when the node is being stopped.
    private async Task RemoveContainerAsync()
    {
        RunningContainer? c;
        lock (_gate)
        {
            c = _container;
            _container = null;
        }

        if (c is not null) await c.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
                // Stopping is the point.
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _log.LogWarning(e, "{Model}: the run loop ended with an error", _assignment.Key);
            }
        }

        await RemoveContainerAsync();
        _stop.Dispose();
    }
}

internal static class NodeLabels
{
    /// <summary>On every container a node starts: which node runs it.</summary>
    public const string Node = "org.inframind.node";
}

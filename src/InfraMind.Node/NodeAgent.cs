using System.Net;
using System.Net.Http.Json;
using InfraMind.Conformance;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Serving.Grpc;
using InfraMind.Serving.Telemetry;
using InfraMind.Node.Running;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node;

/// <summary>
/// The node agent: registers with each of its gateways, heartbeats its models' states to each, runs what any of them
/// places on it (when it fits), and serves jobs to containers that passed pre-flight.
/// </summary>
public sealed partial class NodeAgent : IAsyncDisposable, ILocalNode
{
    private readonly NodeOptions _options;
    private readonly ContainerEngine _engine;
    private readonly IModelImageSource _images;
    private readonly ImageRetention? _retention;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IReadOnlyList<GatewayLink> _gateways;
    private readonly HttpClient _models;
    private readonly ModelChannels _channels;
    private readonly ManifestCache _manifests;
    private readonly Dictionary<string, ModelInstance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModelReport> _refused = new(StringComparer.Ordinal);

    /// <summary>
    /// Versions no longer placed whose containers are being removed, each with its removal (under the lock of
    /// <see cref="_instances"/>). A removal runs beside the heartbeats, never inside one: a forced removal may take the
    /// engine up to 30 s, and a gateway marks a node offline after a few missed beats. Until it ends, what it holds
    /// still counts against the node's capacity.
    /// </summary>
    private readonly Dictionary<string, (ModelInstance Instance, Task Removal)> _stopping = new(StringComparer.Ordinal);

    /// <summary>
    /// Placed versions that fit only once versions being removed are gone (under the lock of <see cref="_instances"/>):
    /// reported as starting, with what they wait for, and admitted at the reconcile after the removal.
    /// </summary>
    private readonly Dictionary<string, ModelReport> _waiting = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _reconcile = new(1, 1);
    private readonly Lock _releaseGate = new();
    private Task _releases = Task.CompletedTask;

    /// <summary>Completes when every version stopped so far is removed and its image released (tests).</summary>
    internal Task ImagesReleased => ReleasedAsync();

    /// <summary>Completes when the containers of every version stopped so far are removed (tests).</summary>
    internal Task Stopped
    {
        get
        {
            lock (_instances) return Task.WhenAll(_stopping.Values.Select(s => s.Removal));
        }
    }

    private async Task ReleasedAsync()
    {
        await Stopped;
        Task releases;
        lock (_releaseGate) releases = _releases;
        await releases;
    }
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _registered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task[] _heartbeats = [];
    private Uri? _address;

    /// <summary>The URL this node registers (its job API as its gateway reaches it); null before it started.</summary>
    public Uri? Address => _address;
    private IDisposable? _attached;
    private readonly NodeMetrics _metrics = new();
    private readonly NodeIdentity? _identity;

    public NodeAgent(NodeOptions options, ContainerEngine engine, IModelImageSource images, TimeProvider? time = null, ILogger<NodeAgent>? log = null)
        : this(options, engine, images, time, log, ManifestCache.Shared)
    {
    }

    /// <param name="manifests">Where published manifests are parsed, once per content: the process's, shared with a gateway in the same process.</param>
    internal NodeAgent(NodeOptions options, ContainerEngine engine, IModelImageSource images, TimeProvider? time, ILogger<NodeAgent>? log, ManifestCache manifests)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new InfraMindException(MeshErrorCodes.RegistrationInvalid, string.Join("; ", errors));
        _options = options;
        _engine = engine;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _retention = options.UnusedImageBytes is { } keep ? new ImageRetention(images, engine, options.NodeId, keep, _time, _log, recordDirectory: options.ImageRecordDirectory) : null;
        _images = _retention ?? images;
        _gateways = [.. options.Gateways.Select((g, i) => new GatewayLink(g, options.GatewayToken, options.CredentialFileFor(i), options.GatewayTimeout, options.GatewayTlsPins.GetValueOrDefault(g))
        {
            Credential = CredentialFiles.ReadCredential(options.CredentialFileFor(i)),
        })];
        _models = JobHttp.CreateClient();
        _channels = new ModelChannels(options.MaxAnswerBytes);
        _manifests = manifests;
        _identity = options.Identity is { } key ? new NodeIdentity(key, options.AdmitGatewayKeys, options.SignatureSkew, _time) : null;
    }

    /// <summary>The credential the first gateway issued to this node at its registration (null before).</summary>
    public string? Credential => _gateways[0].Credential;

    /// <summary>Whether <paramref name="authorization"/> carries the credential one of this node's gateways issued it.</summary>
    private bool AdmitsJob(Microsoft.Extensions.Primitives.StringValues authorization) =>
        _gateways.Any(g => g.Credential is { } credential && MeshToken.Admits(credential, authorization));

    public NodeOptions Options => _options;

    internal NodeMetrics Metrics => _metrics;

    /// <summary>Brings the node's gauges up to date (before each scrape of /metrics).</summary>
    internal void ObserveMetrics()
    {
        lock (_instances) _metrics.Observe(_instances.Values.Count(i => i.Container is not null), Reports(), _retention);
    }

    /// <summary>
    /// Completes at the first registration a gateway accepts; fails with <see cref="NodeRegistrationException"/> when
    /// every gateway refused it (a wrong token, an invalid registration). An unreachable gateway leaves it pending: the
    /// node keeps trying.
    /// </summary>
    public Task Registered => _registered.Task;

    /// <summary>Stops heartbeats without stopping the node (fault tests: a node the gateway must mark offline).</summary>
    internal bool HeartbeatsPaused { get; set; }

    /// <summary>
    /// The states the node reports, refusals included, as one heartbeat carries them (<see cref="RegistrationRules.Heartbeat"/>:
    /// what runs first, refusals after; details cut to their share), so that nothing a publisher's failure text or a
    /// gateway's assignments hold can make every heartbeat a 413 or a 400.
    /// </summary>
    public IReadOnlyList<ModelReport> Reports()
    {
        lock (_instances)
            return RegistrationRules.Heartbeat(_instances.Values.Select(i => i.Report()).Concat(_waiting.Values).Concat(_refused.Values));
    }

    /// <summary>The container of a placed model, whatever its state (diagnostics, fault drills, benchmarks).</summary>
    public RunningContainer? ContainerOf(string name, string version)
    {
        lock (_instances) return _instances.TryGetValue(ModelKey.Of(name, version), out var i) ? i.Container : null;
    }

    /// <summary>Starts registering and heart-beating; the node's own job API must already listen at <paramref name="address"/>.</summary>
    public Task StartAsync(Uri address, CancellationToken cancellationToken)
    {
        _address = address;
        _attached = _options.LocalNodes?.Attach(_options.NodeId, this);
        _heartbeats = [.. _gateways.Select(g => Task.Run(() => HeartbeatLoopAsync(g, _stop.Token), cancellationToken))];
        return Task.CompletedTask;
    }

    /// <summary>One gateway's loop: register, then heartbeat every interval; register again whenever the gateway forgot the node.</summary>
    private async Task HeartbeatLoopAsync(GatewayLink link, CancellationToken ct)
    {
        var registered = false;
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
        // The next tick and the next early beat (BeatSoon), each awaited until it fires, so neither is ever lost.
        Task<bool>? tick = null;
        Task? soon = null;
        while (true)
        {
            if (!HeartbeatsPaused)
            {
                try
                {
                    if (!registered) registered = await RegisterAsync(link, ct);
                    if (registered) registered = await BeatAsync(link, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.SecureConnectionError && link.TlsPin is { } pin)
                {
                    // Not the gateway this node pinned: nothing is sent to it (no registration, no credential taken), and the
                    // node fails to start when every gateway is refused; it keeps trying, in case the right one comes back.
                    var presented = link.PresentedInstead ?? "none that passed the TLS handshake";
                    _log.LogWarning("refused the gateway {Gateway}: its TLS certificate key is {Presented}, not the pinned {Pin}", link.Url, presented, pin);
                    registered = false;
                    link.Refused = true;
                    if (_gateways.All(g => g.Refused)) _registered.TrySetException(NodeRegistrationException.GatewayPinMismatch(link.Url, pin, presented));
                }
                catch (HttpRequestException e) when (e.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
                {
                    _log.LogWarning("gateway {Gateway} sent an answer larger than {Max} bytes (GatewayLink.MaxReplyBytes): not read, trying again", link.Url, GatewayLink.MaxReplyBytes);
                    registered = false;
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException or IOException)
                {
                    if (ct.IsCancellationRequested) break;
                    _log.LogWarning("gateway {Gateway} unreachable: {Message}", link.Url, e is System.Text.Json.JsonException ? $"its answer is not JSON ({e.Message})" : NetworkFailure.Describe(e));
                    registered = false;
                }
                catch (MalformedReplyException e)
                {
                    // Not applied, and no other gateway's loop reads it: the node beats again at the next tick.
                    _log.LogWarning("gateway {Gateway} answered a heartbeat reply that breaks the mesh protocol: {Problem}; not applied", link.Url, e.Message);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // A defect must not end this gateway's loop for good (the node would look alive, and be offline everywhere).
                    if (ct.IsCancellationRequested) break;
                    _log.LogError(e, "the heartbeat to the gateway {Gateway} failed: {Message}; registering again", link.Url, TerminalText.Cut(e.Message, MaxRefusalLogged));
                    registered = false;
                }
            }

            try
            {
                tick ??= timer.WaitForNextTickAsync(ct).AsTask();
                soon ??= link.Soon.WaitAsync(ct);
                if (await Task.WhenAny(tick, soon) == tick)
                {
                    var more = await tick;
                    tick = null;
                    if (!more) break;
                }
                else
                {
                    await soon;
                    soon = null;
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Heartbeats every gateway now rather than at the next tick: a model just became ready (or failed), and the
    /// gateways should route to it (or away from it) at once, not up to a heartbeat interval later.
    /// </summary>
    internal void BeatSoon()
    {
        foreach (var link in _gateways) link.Soon.Raise();
    }

    /// <summary>The most bytes of a gateway's refusal a node reads (a problem document is far smaller).</summary>
    private const int MaxRefusalBytes = 64 * 1024;

    /// <summary>The most characters of a gateway's refusal a node logs.</summary>
    private const int MaxRefusalLogged = 2000;

    internal static async Task<string> ReadRefusalAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[MaxRefusalBytes];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), ct)) > 0) read += n;
        return System.Text.Encoding.UTF8.GetString(buffer, 0, read);
    }

    private async Task<bool> RegisterAsync(GatewayLink link, CancellationToken ct)
    {
        var registration = new NodeRegistration(_options.NodeId, _address!, _options.Resources.Offered(_options.Capacity), _options.Labels, _options.HeartbeatInterval,
            _identity?.PublicKey.SubjectPublicKeyInfoBase64, _options.TlsCertificate is { } tls ? Serving.Tls.MeshTls.Fingerprint(tls) : null);
        using var request = Signed(link, HttpMethod.Post, "mesh/v1/nodes", registration);
        // The id is bound to the credential its first registration got: only with it does this node register under it again.
        // Before it has one, it proposes its own, the same on every attempt (a retry after a lost answer is not a stranger),
        // kept on disk before it is sent (so is a restart's after a crash between the gateway's binding and its answer).
        if (link.Credential is null) link.KeepProposal();
        request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, link.Credential ?? link.Proposal);
        using var response = await link.Client.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            // A gateway's refusal is read up to a bound and logged cut: a hostile gateway's 64 MiB answer, logged at every
            // retry, would fill the node's disk.
            var body = await ReadRefusalAsync(response, ct);
            _log.LogWarning("the gateway {Gateway} refused registration: {Status} {Body}", link.Url, (int)response.StatusCode, TerminalText.Cut(body, MaxRefusalLogged));
            // A refusal (bad token, invalid registration, an id another node holds) will not pass by itself; a gateway error might.
            // The node fails to start only when every gateway refused it: one that accepted (or may yet) keeps it serving.
            if ((int)response.StatusCode is >= 400 and < 500)
            {
                link.Refused = true;
                if (_gateways.All(g => g.Refused))
                {
                    var (detail, code, hint) = Problem(body);
                    _registered.TrySetException(NodeRegistrationException.For(link.Url, (int)response.StatusCode, detail ?? $"the gateway answered {(int)response.StatusCode}", code, hint));
                }
            }

            return false;
        }

        var reply = await response.Content.ReadAsByteArrayAsync(ct);
        var registered = System.Text.Json.JsonSerializer.Deserialize<NodeRegistered>(reply, MeshJson.Options);
        if (registered?.Credential is not { } credential || !MeshToken.IsWellFormed(credential))
            throw new System.Text.Json.JsonException("the gateway's registration answer carries no credential");
        // Only an admitted gateway's credential is taken: no other gateway can send this node jobs.
        if (_identity?.ReplyProblem(response, reply, registered, _address!) is { } refused)
        {
            _log.LogWarning("refused the gateway {Gateway}: {Problem}", link.Url, refused);
            link.Refused = true;
            if (_gateways.All(g => g.Refused)) _registered.TrySetException(NodeRegistrationException.GatewayNotAdmitted(link.Url, refused));
            return false;
        }

        if (credential != link.Credential)
        {
            link.Credential = credential;
            CredentialFiles.Write(link.CredentialFile, credential);
            CredentialFiles.ForgetProposal(link.CredentialFile);
        }

        link.Refused = false;
        _registered.TrySetResult();
        return true;
    }

    /// <summary>A JSON request to the gateway, signed by the node's key when it has one.</summary>
    /// <summary>A request to the gateway of <paramref name="link"/>, signed for it (its URL the audience) when this node has a key.</summary>
    private HttpRequestMessage Signed<T>(GatewayLink link, HttpMethod method, string path, T body)
    {
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body, MeshJson.Options);
        var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        _identity?.Sign(request, link.Url, bytes);
        return request;
    }

    /// <summary>The receipt of a job sent straight to a container of this node (<see cref="ILocalNode"/>); null without a key.</summary>
    public string? SignReceipt(string requestId, string name, string version, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output)
    {
        if (_identity is null) return null;
        ModelAssignment? assignment;
        lock (_instances) assignment = _instances.TryGetValue(ModelKey.Of(name, version), out var i) ? i.Assignment : null;
        return assignment is null ? null : _identity.Receipt(requestId, assignment, input, output, _options.NodeId);
    }

    /// <summary>A gateway's problem document's detail, code and hint, read once; each null where it is missing or not text, all where the body is no JSON.</summary>
    internal static (string? Detail, string? Code, string? Hint) Problem(string body)
    {
        System.Text.Json.Nodes.JsonNode? problem;
        try
        {
            problem = System.Text.Json.Nodes.JsonNode.Parse(body);
        }
        catch (System.Text.Json.JsonException)
        {
            return default;
        }

        // The gateway's words, cut: they end in a message on the node's terminal.
        string? Text(string member, int most) => problem is System.Text.Json.Nodes.JsonObject o && o[member] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<string>(out var s)
            ? TerminalText.Shorten(s, most)
            : null;
        return (Text("detail", 500), Text("code", 16), Text("hint", 500));
    }

    /// <summary>Tells one gateway this node is leaving (DELETE of its registration, with its credential, signed when it has a key); at most 2 s.</summary>
    private async Task LeaveAsync(GatewayLink link)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"mesh/v1/nodes/{Uri.EscapeDataString(_options.NodeId)}") { Content = new ByteArrayContent([]) };
            _identity?.Sign(request, link.Url, []);
            request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, link.Credential);
            using var response = await link.Client.SendAsync(request, limit.Token);
            if (response.IsSuccessStatusCode) _log.LogInformation("told the gateway {Gateway} this node is leaving", link.Url);
            else _log.LogWarning("the gateway {Gateway} did not take the node's leave: {Status}; it finds the node offline once its beats stop", link.Url, (int)response.StatusCode);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever failed (the network, the key already disposed by its owner), the node still drains and stops its containers.
            _log.LogWarning("could not tell the gateway {Gateway} this node is leaving: {Message}; it finds the node offline once its beats stop", link.Url,
                e is OperationCanceledException ? "no answer within 2 s" : e is HttpRequestException or IOException ? NetworkFailure.Describe(e) : e.Message);
        }
    }

    /// <summary>False when the gateway no longer knows this node (it restarted) or no longer takes its credential: register again.</summary>
    private async Task<bool> BeatAsync(GatewayLink link, CancellationToken ct)
    {
        var beat = new NodeHeartbeat(_options.NodeId, Reports());
        using var request = Signed(link, HttpMethod.Post, $"mesh/v1/nodes/{Uri.EscapeDataString(_options.NodeId)}/heartbeat", beat);
        if (link.Credential is { } held) request.Headers.TryAddWithoutValidation(MeshHeaders.NodeCredential, held);
        using var response = await link.Client.SendAsync(request, ct);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Forbidden) return false;
        response.EnsureSuccessStatusCode();
        var reply = await response.Content.ReadFromJsonAsync<HeartbeatReply>(MeshJson.Options, ct)
            ?? throw new System.Text.Json.JsonException("empty heartbeat reply");
        // Checked before it is kept: every gateway's loop reads every kept reply (Union), so one gateway's bad shape kept
        // would break them all.
        if (RegistrationRules.CheckReply(reply) is { } malformed) throw new MalformedReplyException(malformed);
        link.Assign(reply, _time.GetUtcNow());
        await ApplyAsync(Union(), reply.Preflight, ct);
        return true;
    }

    /// <summary>
    /// What this node runs: every version any gateway assigned in its latest reply, while that reply is younger than
    /// <see cref="NodeOptions.ForgetGatewayAfter"/>. A version stops only when no gateway assigns it any more.
    /// </summary>
    private List<ModelAssignment> Union()
    {
        var now = _time.GetUtcNow();
        return [.. _gateways.Select(g => g.Latest).Where(l => l is not null && now - l.At <= _options.ForgetGatewayAfter)
            .SelectMany(l => l!.Reply.Assignments).DistinctBy(a => a.Key)];
    }

    /// <summary>
    /// Starts what is newly placed (when it fits), stops what is no longer placed, and waits until what it stopped is
    /// removed (one gateway's reply as the whole truth: tests; a heartbeat does not wait for removals).
    /// </summary>
    internal async Task ApplyAsync(HeartbeatReply reply, CancellationToken ct)
    {
        await ApplyAsync(reply.Assignments, reply.Preflight, ct);
        await Stopped;
    }

    private async Task ApplyAsync(IReadOnlyList<ModelAssignment> assignments, IReadOnlyList<string> preflights, CancellationToken ct)
    {
        await _reconcile.WaitAsync(ct);
        try
        {
            var wanted = assignments.ToDictionary(a => a.Key, StringComparer.Ordinal);
            lock (_instances)
            {
                foreach (var g in _instances.Values.Where(i => !wanted.ContainsKey(i.Assignment.Key)).ToList())
                {
                    _instances.Remove(g.Assignment.Key);
                    // Removed beside the heartbeats: the next beat goes out while the engine removes the container.
                    _stopping[g.Assignment.Key] = (g, StopAsync(g));
                }

                foreach (var key in _refused.Keys.Where(k => !wanted.ContainsKey(k)).ToList()) _refused.Remove(key);
                _waiting.Clear();
            }

            // The first reconcile releases nothing but lets the source find what an earlier run left; a removal the engine
            // refused earlier is tried again once due, at most one such retry in flight.
            bool first, retry;
            lock (_releaseGate) (first, retry) = (_releases == Task.CompletedTask, _retention?.RetryDue == true && _releases.IsCompleted);
            if (first || retry) QueueRelease([]);

            foreach (var a in wanted.Values)
            {
                lock (_instances)
                {
                    if (_instances.ContainsKey(a.Key) || _refused.ContainsKey(a.Key)) continue;
                }

                Admit(a);
            }

            lock (_instances)
            {
                foreach (var key in preflights)
                    if (_instances.TryGetValue(key, out var i)) i.RequestPreflight();
            }
        }
        finally
        {
            _reconcile.Release();
        }
    }

    /// <summary>
    /// Removes a version no longer placed, off the heartbeat: its run loop ends and its container goes (forced, as long
    /// as the engine takes); then its series and, in the background, its image go, and the node beats at once so that
    /// what waited for the room is admitted.
    /// </summary>
    private async Task StopAsync(ModelInstance instance)
    {
        await Task.Yield();
        var key = instance.Assignment.Key;
        try
        {
            await instance.DisposeAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.LogWarning(e, "{Model}: stopping failed", key);
        }

        // Queued before the removal is no longer counted, so that whoever awaits the removals (ImagesReleased) finds it.
        QueueRelease([instance.Assignment]);
        lock (_instances)
        {
            _stopping.Remove(key);
            // Once stopped (a pre-flight or restart it was in counts no more): its series go with it.
            if (!_instances.ContainsKey(key)) _metrics.Forget(key);
        }

        BeatSoon();
    }

    /// <summary>Images of what stopped go in the background, one release after the other: a heartbeat never waits on the disk.</summary>
    private void QueueRelease(IReadOnlyCollection<ModelAssignment> stopped)
    {
        lock (_releaseGate)
        {
            var previous = _releases;
            _releases = Task.Run(async () =>
            {
                await previous.ConfigureAwait(false);
                await _images.ReleaseAsync(stopped, _stop.Token).ConfigureAwait(false);
            }, CancellationToken.None).ContinueWith(t =>
            {
                if (t.Exception?.GetBaseException() is { } e and not OperationCanceledException) _log.LogWarning(e, "releasing images of stopped versions failed");
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private void Admit(ModelAssignment a)
    {
        ModelManifest manifest;
        try
        {
            // Parsed and validated once per content in this process (a gateway of the same process has done it already).
            manifest = _manifests.Get(a.Manifest).Manifest;
        }
        catch (FormatException e)
        {
            Refuse(a, $"{MeshErrorCodes.NodeRefused}: the published manifest of {a.Key} is invalid: {e.Message}");
            return;
        }

        if (manifest.Name != a.Name || manifest.Version.ToString() != a.Version)
        {
            Refuse(a, $"{MeshErrorCodes.NodeRefused}: the manifest names {manifest.Name}@{manifest.Version}, not {a.Key}");
            return;
        }

        lock (_instances)
        {
            var reason = FitProblem(manifest.Resources);
            // The same version being removed (placed again at once), or room that only its removal frees: wait for it.
            if (_stopping.ContainsKey(a.Key) || (reason is not null && FitProblem(manifest.Resources, countStopping: false) is null))
            {
                _waiting[a.Key] = new ModelReport(a.Name, a.Version, ModelState.Starting, null,
                    $"waits for the removal of {_stopping.Count} stopped version(s) to free what it needs", 0, 0, 0, _time.GetUtcNow(), null, manifest.Resources);
                return;
            }

            if (reason is not null)
            {
                Refuse(a, reason);
                return;
            }

            var instance = new ModelInstance(a, manifest, _engine, _images, _options, _time, _log, _metrics) { Settled = BeatSoon };
            _instances[a.Key] = instance;
            instance.Start();
        }
    }

    private void Refuse(ModelAssignment a, string reason)
    {
        _log.LogWarning("refused {Model}: {Reason}", a.Key, RegistrationRules.Detail(reason));
        lock (_instances) _refused[a.Key] = ModelInstance.Refusal(a, reason, _time.GetUtcNow());
    }

    /// <summary>
    /// Why <paramref name="need"/> cannot run here: never (its limits exceed the machine), or not now (the limits of
    /// what runs here already use what the node offers under its <see cref="ResourcePolicy"/>; with
    /// <paramref name="countStopping"/>, those of containers still being removed too); null when it fits. Caller holds
    /// the lock.
    /// </summary>
    private string? FitProblem(ResourceRequest need, bool countStopping = true)
    {
        if (ResourcePolicy.NeverFits(need, _options.Capacity) is { } never) return $"{MeshErrorCodes.NodeRefused}: {never}";
        var held = _instances.Values.Concat(countStopping ? _stopping.Values.Select(s => s.Instance) : []).Select(i => i.Manifest.Resources).ToList();
        if (held.Count >= _options.MaxModels)
            return $"{MeshErrorCodes.NodeRefused}: runs {held.Count} models already, the most this node takes (--max-models {_options.MaxModels})";
        var cap = _options.Resources.Offered(_options.Capacity);
        var cpu = cap.CpuMillicores - held.Sum(r => r.CpuMillicores);
        var mem = cap.MemoryBytes - held.Sum(r => r.MemoryBytes);
        var gpu = cap.GpuCount - held.Sum(r => r.GpuCount);
        if (need.CpuMillicores > cpu) return $"{MeshErrorCodes.NodeRefused}: needs {need.CpuMillicores}m CPU, {cpu}m free";
        if (need.MemoryBytes > mem) return $"{MeshErrorCodes.NodeRefused}: needs {Quantity.FormatBytes(need.MemoryBytes)} memory, {Quantity.FormatBytes(Math.Max(0, mem))} free";
        if (need.GpuCount > gpu) return $"{MeshErrorCodes.NodeRefused}: needs {need.GpuCount} GPU(s), {gpu} free";
        return null;
    }

    /// <summary>
    /// The connector of a model's container while it is ready here (<see cref="ILocalNode"/>: what a gateway of this
    /// process may use), whatever its protocol: the gateway speaks HTTP/1.1 JSON to a REST model and the Open Inference
    /// Protocol V2 (h2c) to a gRPC one through it, as this node's job API does (<see cref="GrpcJobs"/>).
    /// </summary>
    public IModelConnector? ConnectorOf(string name, string version)
    {
        lock (_instances)
        {
            return _instances.TryGetValue(ModelKey.Of(name, version), out var i) && i.ReadyContainer is { } c
                ? ContainerRoute.Of(c)
                : null;
        }
    }

    private int _jobsInFlight;

    /// <summary>Jobs on this node's containers now: those its job API runs and those a gateway of this process sends straight to them.</summary>
    public int JobsInFlight => Volatile.Read(ref _jobsInFlight);

    /// <inheritdoc/>
    public void JobStarted() => Interlocked.Increment(ref _jobsInFlight);

    /// <inheritdoc/>
    public void JobEnded() => Interlocked.Decrement(ref _jobsInFlight);

    /// <summary>
    /// A graceful stop: heartbeats end, each gateway is told the node is leaving (it routes nothing new here and counts
    /// no failure against it), the jobs in flight finish (at most <see cref="NodeOptions.DrainTimeout"/>: the job API's,
    /// and those a gateway of this process sent straight to a container), and only then do the containers stop. Before, the gateways kept sending jobs until the node missed its beats,
    /// and each failed on a container already stopped, against the node's reputation.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _attached?.Dispose();
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_heartbeats);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever ended the heartbeats, the containers must still go.
            _log.LogWarning(e, "the heartbeat loop ended with an error");
        }

        if (_address is not null)
        {
            await Task.WhenAll(_gateways.Where(g => g.Credential is not null && !g.Refused).Select(LeaveAsync));
            var drain = System.Diagnostics.Stopwatch.StartNew();
            while (JobsInFlight > 0 && drain.Elapsed < _options.DrainTimeout) await Task.Delay(20);
            if (JobsInFlight > 0) _log.LogWarning("stopping with {Jobs} job(s) still running after {Seconds} s (the drain timeout)", JobsInFlight, _options.DrainTimeout.TotalSeconds);
        }

        List<ModelInstance> all;
        lock (_instances)
        {
            all = [.. _instances.Values];
            _instances.Clear();
        }

        await Task.WhenAll(all.Select(i => i.DisposeAsync().AsTask()));
        await ReleasedAsync();
        foreach (var g in _gateways) g.Dispose();
        _models.Dispose();
        _channels.Dispose();
        _stop.Dispose();
        _reconcile.Dispose();
        _retention?.Dispose();
    }
}

/// <summary>A gateway's heartbeat reply that parsed but breaks the contract's shape (<see cref="RegistrationRules.CheckReply"/>).</summary>
internal sealed class MalformedReplyException(string problem) : Exception(problem);

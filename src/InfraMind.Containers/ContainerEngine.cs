using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using InfraMind.Containers.Build;
using InfraMind.Containers.Run;

namespace InfraMind.Containers;

/// <summary>
/// A Docker Engine API endpoint (Podman's Docker-compatible API works too): builds images, runs containers under
/// InfraMind's isolation policy, and saves/loads images. Obtain one with <see cref="ConnectAsync(CancellationToken)"/>.
/// </summary>
public sealed class ContainerEngine : IAsyncDisposable, IDisposable
{
    /// <summary>Where the engine is looked for when DOCKER_HOST is not set.</summary>
    internal static readonly Uri DefaultEndpoint = new("unix:///var/run/docker.sock");

    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What some engines list as the name of an image that has none; an <see cref="ImageSummary"/> never carries it.</summary>
    private const string NoName = "<none>:<none>";
    private readonly DockerClientConfiguration _configuration;
    private readonly DockerClient _client;
    private Task<EngineInfo>? _info;

    private ContainerEngine(Uri endpoint)
    {
        Endpoint = endpoint;
        // Infinite: builds and waits legitimately take long; every call is bounded by its caller's token instead.
        _configuration = new DockerClientConfiguration(endpoint, defaultTimeout: Timeout.InfiniteTimeSpan);
        _client = _configuration.CreateClient();
    }

    public Uri Endpoint { get; }

    internal DockerClient Client => _client;

    /// <summary>The endpoint DOCKER_HOST names, or <see cref="DefaultEndpoint"/>.</summary>
    internal static Uri ResolveEndpoint() => ResolveEndpoint(Environment.GetEnvironmentVariable("DOCKER_HOST"));

    internal static Uri ResolveEndpoint(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultEndpoint;
        }

        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("unix" or "tcp" or "http" or "https" or "npipe"))
        {
            throw new ContainerEngineException(
                ContainerErrorCodes.EngineUnavailable, $"DOCKER_HOST '{value}' is not an engine address",
                hint: "set DOCKER_HOST to unix:///var/run/docker.sock or tcp://127.0.0.1:2375, or unset it");
        }

        return uri;
    }

    /// <summary>Connects to the engine DOCKER_HOST names (or the default socket) and checks that it answers.</summary>
    /// <exception cref="EngineUnavailableException">IM3001: nothing answers there.</exception>
    public static Task<ContainerEngine> ConnectAsync(CancellationToken cancellationToken) =>
        ConnectAsync(ResolveEndpoint(), cancellationToken);

    /// <summary>Connects to the engine at <paramref name="endpoint"/> and checks that it answers.</summary>
    public static async Task<ContainerEngine> ConnectAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.Scheme == "unix" && !File.Exists(endpoint.LocalPath))
        {
            throw new EngineUnavailableException(endpoint, $"socket {endpoint.LocalPath} does not exist");
        }

        var engine = new ContainerEngine(endpoint);
        var answered = false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PingTimeout);
        try
        {
            await engine._client.System.PingAsync(timeout.Token);
            answered = true;
            // Every run checks its resources against the machine: ask now, while the caller does its own first steps.
            _ = engine.GetCachedInfoAsync(CancellationToken.None).ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return engine;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EngineUnavailableException(endpoint, $"no answer within {PingTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or DockerApiException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new EngineUnavailableException(endpoint, e.GetBaseException().Message, e);
        }
        finally
        {
            if (!answered)
            {
                engine.Dispose();
            }
        }
    }

    /// <summary>
    /// Builds <paramref name="contextDir"/>'s Dockerfile with the classic builder (the context honours
    /// <c>.dockerignore</c>), tags it <paramref name="tag"/>, reports each output line, and returns the image id.
    /// </summary>
    /// <exception cref="ImageBuildFailedException">IM3002: a step failed; carries the step and the output tail.</exception>
    public Task<string> BuildImageAsync(
        string contextDir,
        string tag,
        IReadOnlyDictionary<string, string> labels,
        IProgress<string>? progress,
        CancellationToken cancellationToken) =>
        Guard("build the image", () => ImageBuilder.BuildAsync(_client, contextDir, tag, labels, progress, cancellationToken));

    /// <summary>Local images that carry every one of <paramref name="labels"/> (key=value).</summary>
    public Task<IReadOnlyList<ImageSummary>> FindImagesAsync(IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken) =>
        Guard("list images", () => FindImagesCoreAsync(labels, cancellationToken));

    /// <summary>
    /// Local images with a name that matches <paramref name="pattern"/> (the engine's <c>reference</c> filter: a
    /// name such as <c>repo:tag</c>, where <c>*</c> stands for any characters but <c>/</c>).
    /// </summary>
    public Task<IReadOnlyList<ImageSummary>> FindImagesByNameAsync(string pattern, CancellationToken cancellationToken) =>
        Guard("list images", () =>
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
            return ListImagesAsync(new() { ["reference"] = new Dictionary<string, bool> { [pattern] = true } }, cancellationToken);
        });

    /// <summary>Names a local image (tag or id) <paramref name="repository"/>:<paramref name="tag"/> too; false when the engine has no such image.</summary>
    public Task<bool> TagImageAsync(string imageRef, string repository, string tag, CancellationToken cancellationToken) =>
        Guard("tag the image", async () =>
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(imageRef);
            try
            {
                await _client.Images.TagImageAsync(imageRef, new ImageTagParameters { RepositoryName = repository, Tag = tag, Force = true }, cancellationToken);
                return true;
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
        });

    private Task<IReadOnlyList<ImageSummary>> FindImagesCoreAsync(IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return ListImagesAsync(LabelFilter(labels), cancellationToken);
    }

    private async Task<IReadOnlyList<ImageSummary>> ListImagesAsync(Dictionary<string, IDictionary<string, bool>> filters, CancellationToken cancellationToken)
    {
        var images = await _client.Images.ListImagesAsync(new ImagesListParameters { Filters = filters }, cancellationToken);
        return images
            .Select(i => new ImageSummary(
                i.ID,
                (IReadOnlyList<string>?)i.RepoTags?.Where(t => t != NoName).ToList() ?? [],
                (IReadOnlyDictionary<string, string>?)i.Labels?.ToDictionary() ?? new Dictionary<string, string>(),
                i.Created,
                i.Size))
            .ToList();
    }

    /// <summary>Whether an image (tag or id) exists locally.</summary>
    public async Task<bool> ImageExistsAsync(string imageRef, CancellationToken cancellationToken) =>
        await InspectImageAsync(imageRef, cancellationToken) is not null;

    /// <summary>One local image (tag or id) with its tags and labels; null when the engine has none by that name.</summary>
    public Task<ImageSummary?> InspectImageAsync(string imageRef, CancellationToken cancellationToken) =>
        Guard("inspect the image", () => InspectImageCoreAsync(imageRef, cancellationToken));

    private async Task<ImageSummary?> InspectImageCoreAsync(string imageRef, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageRef);
        try
        {
            var i = await _client.Images.InspectImageAsync(imageRef, cancellationToken);
            return new ImageSummary(
                i.ID,
                (IReadOnlyList<string>?)i.RepoTags?.Where(t => t != NoName).ToList() ?? [],
                (IReadOnlyDictionary<string, string>?)i.Config?.Labels?.ToDictionary() ?? new Dictionary<string, string>(),
                i.Created,
                i.Size);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Removes an image (tag or id); false when there was none.</summary>
    public Task<bool> RemoveImageAsync(string imageRef, bool force, CancellationToken cancellationToken) =>
        Guard("remove the image", () => RemoveImageCoreAsync(imageRef, force, cancellationToken));

    private async Task<bool> RemoveImageCoreAsync(string imageRef, bool force, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageRef);
        try
        {
            await _client.Images.DeleteImageAsync(imageRef, new ImageDeleteParameters { Force = force }, cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            throw new ContainerEngineException(ContainerErrorCodes.EngineRequestFailed,
                $"image {imageRef} is in use: {Cleanup.ApiMessage(e)}", e,
                "remove the containers that use it first (docker ps -a --filter ancestor=IMAGE lists them)");
        }
    }

    /// <summary>The engine's version and the machine's CPUs, memory and runtimes.</summary>
    public Task<EngineInfo> GetInfoAsync(CancellationToken cancellationToken) =>
        Guard("report what it is", async () =>
        {
            var info = await _client.System.GetSystemInfoAsync(cancellationToken);
            var version = await _client.System.GetVersionAsync(cancellationToken);
            var runtimes = info.Runtimes?.Keys.Order(StringComparer.Ordinal).ToList() ?? [];
            return new EngineInfo(
                info.ServerVersion ?? version.Version ?? "",
                version.APIVersion ?? "",
                info.OperatingSystem ?? "",
                info.Architecture ?? "",
                (int)info.NCPU,
                info.MemTotal,
                info.CgroupVersion ?? "",
                runtimes,
                runtimes.Any(IsGpuRuntime),
                version.Components?.Any(c => c.Name?.Contains("Podman", StringComparison.OrdinalIgnoreCase) == true) == true,
                info.LoggingDriver ?? "");
        });

    /// <summary>What the engine reported the first time it was asked on this connection (a machine's CPUs and memory do not change under a run).</summary>
    internal async Task<EngineInfo> GetCachedInfoAsync(CancellationToken cancellationToken)
    {
        var info = _info ??= GetInfoAsync(CancellationToken.None);
        try
        {
            return await info.WaitAsync(cancellationToken);
        }
        catch (Exception) when (info.IsFaulted)
        {
            _ = Interlocked.CompareExchange(ref _info, null, info);
            throw;
        }
    }

    /// <summary>Whether the engine has a GPU runtime (nvidia) registered.</summary>
    internal Task<bool> HasGpuRuntimeAsync(CancellationToken cancellationToken) =>
        Guard("report its runtimes", () => HasGpuRuntimeCoreAsync(cancellationToken));

    private async Task<bool> HasGpuRuntimeCoreAsync(CancellationToken cancellationToken)
    {
        var info = await _client.System.GetSystemInfoAsync(cancellationToken);
        return info.Runtimes?.Keys.Any(IsGpuRuntime) == true;
    }

    /// <summary>
    /// Starts <paramref name="spec"/> under the isolation policy (no network; reached through
    /// <see cref="RunningContainer.Connector"/>) and returns it once started and entered. Anything created is removed
    /// again when a later step fails or the call is cancelled.
    /// </summary>
    /// <exception cref="IsolationUnsupportedException">IM3009: InfraMind cannot enter the container's network namespace here.</exception>
    /// <exception cref="ResourcesExceedEngineException">IM3010: more CPU or memory than the engine's machine has.</exception>
    public Task<RunningContainer> RunAsync(ContainerSpec spec, CancellationToken cancellationToken) =>
        Guard("run the container", () => ContainerLauncher.StartAsync(this, spec, cancellationToken));

    /// <summary>
    /// Whether runs on this engine get the isolation policy: starts a throwaway container (<c>sleep</c> in the first of
    /// <paramref name="images"/> that has it; by default images InfraMind built), enters it as every run does, and
    /// removes it. <see cref="IsolationCheck.Verified"/> is false only when no image could be started to try.
    /// </summary>
    public Task<IsolationCheck> CheckIsolationAsync(IReadOnlyList<string>? images, IReadOnlyDictionary<string, string>? labels, CancellationToken cancellationToken) =>
        Guard("run an isolation check", () => IsolationCheckRun.RunAsync(this, images, labels, cancellationToken));

    /// <summary>
    /// Removes every container and network labelled <c>org.inframind.managed=true</c> (only those created more than
    /// <paramref name="olderThan"/> ago when given): what crashed or killed runs left behind.
    /// </summary>
    public Task<PruneResult> PruneAsync(TimeSpan? olderThan, CancellationToken cancellationToken) =>
        PruneAsync(null, olderThan, cancellationToken);

    /// <summary>
    /// As <see cref="PruneAsync(TimeSpan?, CancellationToken)"/>, limited to resources that also carry every one of
    /// <paramref name="labels"/> (e.g. a session label given in <see cref="ContainerSpec.Labels"/>), so that one
    /// process can clean up after itself without touching the runs of others on the same engine.
    /// </summary>
    public Task<PruneResult> PruneAsync(IReadOnlyDictionary<string, string>? labels, TimeSpan? olderThan, CancellationToken cancellationToken) =>
        Guard("prune", () => Cleanup.PruneAsync(_client, labels, olderThan, cancellationToken));

    /// <summary>Writes <c>docker save</c>'s tar of <paramref name="imageRef"/> to <paramref name="destination"/>.</summary>
    public Task SaveImageAsync(string imageRef, Stream destination, CancellationToken cancellationToken) =>
        Guard("save the image", () => SaveImageCoreAsync(imageRef, destination, cancellationToken));

    private async Task SaveImageCoreAsync(string imageRef, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageRef);
        ArgumentNullException.ThrowIfNull(destination);
        if (!await ImageExistsAsync(imageRef, cancellationToken))
        {
            throw new ContainerEngineException(ContainerErrorCodes.ImageNotFound, $"image {imageRef} is not in the engine; build or load it first.");
        }

        await using var source = await _client.Images.SaveImageAsync(imageRef, cancellationToken);
        await source.CopyToAsync(destination, cancellationToken);
    }

    /// <summary>Loads a <c>docker save</c> tar; returns what the engine says it loaded (tags, or ids of untagged images).</summary>
    public Task<IReadOnlyList<string>> LoadImageAsync(Stream tar, CancellationToken cancellationToken) =>
        Guard("load the image archive", () => LoadImageCoreAsync(tar, cancellationToken));

    private async Task<IReadOnlyList<string>> LoadImageCoreAsync(Stream tar, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tar);
        var output = new BuildOutput(null);
        await _client.Images.LoadImageAsync(new ImageLoadParameters { Quiet = false }, tar, output, cancellationToken);
        if (output.Error is not null)
        {
            throw new ContainerEngineException(ContainerErrorCodes.EngineRequestFailed,
                $"the engine could not load the image archive: {output.Error}",
                hint: "check that the file is a tar written by docker save");
        }

        return output.Tail.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("Loaded image", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..])
            .ToList();
    }

    public void Dispose()
    {
        _client.Dispose();
        _configuration.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Turns what escapes from the engine client into the layer's coded errors: a refusal into IM3008 with the
    /// engine's own message, a lost connection into IM3001 (the engine stopped or its socket went away).
    /// </summary>
    private async Task<T> Guard<T>(string what, Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (DockerApiException e)
        {
            throw new ContainerEngineException(ContainerErrorCodes.EngineRequestFailed,
                $"the engine refused to {what}: {Cleanup.ApiMessage(e)}", e);
        }
        catch (HttpRequestException e)
        {
            throw new EngineUnavailableException(Endpoint, $"lost the connection while trying to {what}: {NetworkFailure.Describe(e)}", e);
        }
    }

    private async Task Guard(string what, Func<Task> body) =>
        await Guard(what, async () =>
        {
            await body();
            return true;
        });

    private static bool IsGpuRuntime(string runtime) => runtime.Contains("nvidia", StringComparison.OrdinalIgnoreCase);

    internal static Dictionary<string, IDictionary<string, bool>> LabelFilter(IReadOnlyDictionary<string, string> labels) => new()
    {
        ["label"] = labels.ToDictionary(kv => $"{kv.Key}={kv.Value}", _ => true),
    };
}

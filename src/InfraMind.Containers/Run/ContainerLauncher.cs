using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>
/// Starts one run under the isolation policy: a network of its own, the container, its port published on loopback.
/// Whatever was created is removed again when a later step fails or the call is cancelled, and the engine's refusals
/// become coded errors (no such image, no GPU runtime, no address pool left, a start that failed).
/// </summary>
internal static class ContainerLauncher
{
    public static async Task<RunningContainer> StartAsync(ContainerEngine engine, ContainerSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new ContainerEngineException(ContainerErrorCodes.InvalidContainerSpec,
                "the container spec is invalid: " + string.Join(" ", errors));
        }

        var runId = spec.RunId ?? Guid.NewGuid().ToString("N")[..12];
        if (spec.GpuCount > 0 && !await engine.HasGpuRuntimeAsync(cancellationToken))
        {
            throw GpuUnavailable(spec.GpuCount, null);
        }

        var client = engine.Client;
        string? networkId = null;
        string? containerId = null;
        // The engine requests run to completion on their own bounded token and the caller's token is checked between
        // them: a request aborted half-way may still create its object in the engine after our cleanup ran, with
        // no id to remove it by (seen: a container created after a cancelled create was "cleaned up").
        using var requestTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var engineToken = requestTimeout.Token;
        try
        {
            var network = await client.Networks.CreateNetworkAsync(IsolationPolicy.Network(runId, spec.Labels), engineToken);
            networkId = network.ID;
            if (IsolationPolicy.IgnoredOptions(network.Warning) is { Count: > 0 } ignored)
            {
                throw new IsolationUnsupportedException(engine.Endpoint, ignored);
            }

            cancellationToken.ThrowIfCancellationRequested();
            var created = await client.Containers.CreateContainerAsync(
                IsolationPolicy.Container(spec, runId, IsolationPolicy.ResourceName(runId)), engineToken);
            containerId = created.ID;
            cancellationToken.ThrowIfCancellationRequested();
            await client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), engineToken);
            cancellationToken.ThrowIfCancellationRequested();
            var inspect = await client.Containers.InspectContainerAsync(containerId, engineToken);
            var hostPort = PublishedLoopbackPort(inspect, spec.ContainerPort);
            cancellationToken.ThrowIfCancellationRequested();
            return new RunningContainer(client, runId, containerId, networkId, spec.ContainerPort, hostPort);
        }
        catch (Exception e)
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await Cleanup.RemoveAsync(client, containerId, networkId, cleanup.Token);
            if (e is DockerApiException { StatusCode: HttpStatusCode.NotFound } missing && networkId is not null && containerId is null)
            {
                // The create names an image the engine does not have (no pre-check: it would cost every run a round trip).
                throw new ContainerEngineException(ContainerErrorCodes.ImageNotFound,
                    $"image {spec.Image} is not in the engine; build it first (or load it): images are never pulled here.", missing);
            }

            if (e is DockerApiException api)
            {
                var message = Cleanup.ApiMessage(api);
                if (spec.GpuCount > 0 && message.Contains("device driver", StringComparison.OrdinalIgnoreCase))
                {
                    throw GpuUnavailable(spec.GpuCount, api);
                }

                if (message.Contains("address pool", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ContainerEngineException(ContainerErrorCodes.ContainerStartFailed,
                        $"cannot create the network of run {runId}: {message}. Every run has a network of its own: remove " +
                        "leftover runs (PruneAsync), or give the engine more ranges (dockerd --default-address-pool, as scripts/setup-engine.sh does).", api);
                }

                throw new ContainerEngineException(ContainerErrorCodes.ContainerStartFailed,
                    $"cannot start {spec.Image} (run {runId}): {message}. Check the image's CMD/entrypoint and the resources asked for.", api);
            }

            throw;
        }
    }

    private static int PublishedLoopbackPort(ContainerInspectResponse inspect, int containerPort)
    {
        // A container that already stopped has no published ports any more; it is still the caller's to inspect
        // (exit code, logs, OOM), so it is returned with port 0 rather than thrown away.
        if (inspect.State is { Running: false, Status: "exited" or "dead" })
        {
            return 0;
        }

        if (inspect.NetworkSettings?.Ports is { } ports
            && ports.TryGetValue(IsolationPolicy.PortKey(containerPort), out var bindings)
            && bindings?.FirstOrDefault(b => b.HostIP == IsolationPolicy.LoopbackAddress) is { } binding
            && int.TryParse(binding.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return port;
        }

        throw new ContainerEngineException(ContainerErrorCodes.ContainerStartFailed,
            $"the engine did not publish port {containerPort} on {IsolationPolicy.LoopbackAddress} (state: {inspect.State?.Status}). " +
            "Its network must allow port publishing; see IsolationPolicy.");
    }

    private static ContainerEngineException GpuUnavailable(int count, Exception? inner) => new(
        ContainerErrorCodes.GpuUnavailable,
        $"the model asks for {count} GPU(s) but this engine has no GPU runtime: install the NVIDIA Container Toolkit and " +
        "register its runtime with the engine, or run the model on a node with a GPU (or set resources.gpu: false).",
        inner);
}

using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>
/// Starts one run under the isolation policy: the container, with no network, then InfraMind's way into it (its network
/// namespace, entered once and verified). Whatever was created is removed again when a later step fails or the call is
/// cancelled, and the engine's refusals become coded errors (no such image, no GPU runtime, more than the machine has,
/// a start that failed, isolation that cannot be enforced).
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

        var machine = await engine.GetCachedInfoAsync(cancellationToken);
        CheckResources(machine, spec);
        var client = engine.Client;
        string? containerId = null;
        // The engine requests run to completion on their own bounded token and the caller's token is checked between
        // them: a request aborted half-way may still create its object in the engine after our cleanup ran, with
        // no id to remove it by (seen: a container created after a cancelled create was "cleaned up").
        using var requestTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var engineToken = requestTimeout.Token;
        ContainerNamespace? opened = null;
        try
        {
            var created = await client.Containers.CreateContainerAsync(
                IsolationPolicy.Container(spec, runId, machine.IsPodman, machine.LoggingDriver), engineToken);
            containerId = created.ID;
            cancellationToken.ThrowIfCancellationRequested();
            await client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), engineToken);
            cancellationToken.ThrowIfCancellationRequested();
            // A container that already stopped is still the caller's to inspect (exit code, logs, OOM): it comes back
            // with a closed connector rather than thrown away.
            opened = await ContainerNamespace.OpenAsync(client, engine.Endpoint, containerId, engineToken);
            cancellationToken.ThrowIfCancellationRequested();
            return new RunningContainer(client, runId, containerId, new ContainerConnector(containerId, spec.ContainerPort, opened.Thread), opened.PidsCgroup);
        }
        catch (Exception e)
        {
            opened?.Thread?.Dispose();
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await Cleanup.RemoveAsync(client, containerId, cleanup.Token);
            if (e is DockerApiException { StatusCode: HttpStatusCode.NotFound } missing && containerId is null)
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

                throw new ContainerEngineException(ContainerErrorCodes.ContainerStartFailed,
                    $"cannot start {spec.Image} (run {runId}): {message}", api);
            }

            throw;
        }
    }

    /// <summary>
    /// A limit above what the machine has is no limit: the engine would take 7 EiB of memory as "unlimited" and refuse
    /// 64 CPUs on 2 with a message of its own. Both become IM3010 before anything is created.
    /// </summary>
    private static void CheckResources(EngineInfo machine, ContainerSpec spec)
    {
        if (machine.MemoryBytes > 0 && spec.MemoryBytes > machine.MemoryBytes)
        {
            throw new ResourcesExceedEngineException("memory", Bytes(spec.MemoryBytes), Bytes(machine.MemoryBytes));
        }

        if (machine.Cpus > 0 && spec.CpuMillicores > machine.Cpus * 1000L)
        {
            throw new ResourcesExceedEngineException("cpu", Cores(spec.CpuMillicores), $"{machine.Cpus} CPU(s)");
        }
    }

    private static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        var value = (double)bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }

    private static string Cores(long millicores) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{millicores / 1000.0:0.###} CPU(s)");

    private static ContainerEngineException GpuUnavailable(int count, Exception? inner) => new(
        ContainerErrorCodes.GpuUnavailable,
        $"the model asks for {count} GPU(s) but this engine has no GPU runtime",
        inner);
}

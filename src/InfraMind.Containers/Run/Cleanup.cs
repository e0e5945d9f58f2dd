using System.Net;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>
/// Removal of runs' containers (one run's, or every managed one: prune) that tolerates their being gone already. Prune
/// also removes managed networks: runs no longer have any, but versions before network mode <c>none</c> made one per run.
/// </summary>
internal static class Cleanup
{
    /// <summary>Removes the managed containers and networks carrying every one of <paramref name="labels"/>, created before <paramref name="olderThan"/> ago.</summary>
    public static async Task<PruneResult> PruneAsync(DockerClient client, IReadOnlyDictionary<string, string>? labels, TimeSpan? olderThan, CancellationToken cancellationToken)
    {
        var wanted = labels is null ? [] : new Dictionary<string, string>(labels);
        wanted[ManagedLabels.Managed] = "true";
        var filter = ContainerEngine.LabelFilter(wanted);
        var cutoff = olderThan is null ? DateTime.MaxValue : DateTime.UtcNow - olderThan.Value;
        var containers = await client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = filter }, cancellationToken);
        var removedContainers = new List<string>();
        foreach (var c in containers.Where(c => c.Created.ToUniversalTime() < cutoff))
        {
            await RemoveAsync(client, c.ID, cancellationToken);
            removedContainers.Add(c.ID);
        }

        var networks = await client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, cancellationToken);
        var removedNetworks = new List<string>();
        foreach (var n in networks.Where(n => n.Created.ToUniversalTime() < cutoff))
        {
            if (await RemoveNetworkAsync(client, n.ID, cancellationToken))
            {
                removedNetworks.Add(n.ID);
            }
        }

        return new PruneResult(removedContainers, removedNetworks);
    }

    public static async Task RemoveAsync(DockerClient client, string? containerId, CancellationToken cancellationToken)
    {
        if (containerId is null) return;
        try
        {
            await client.Containers.RemoveContainerAsync(
                containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            // "removal already in progress": someone else (prune, a second dispose) is on it.
        }
    }

    public static async Task<bool> RemoveNetworkAsync(DockerClient client, string networkId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await client.Networks.DeleteNetworkAsync(networkId, cancellationToken);
                return true;
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Forbidden && attempt < 20)
            {
                // "has active endpoints": the container's endpoint is released a moment after its removal returns.
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>The engine's own message out of an API error body ({"message": "..."}), else the body.</summary>
    public static string ApiMessage(DockerApiException e)
    {
        try
        {
            using var doc = JsonDocument.Parse(e.ResponseBody);
            if (doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
            {
                return m.GetString()!;
            }
        }
        catch (JsonException)
        {
        }

        return string.IsNullOrWhiteSpace(e.ResponseBody) ? e.StatusCode.ToString() : e.ResponseBody.Trim();
    }
}

using System.Net;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace InfraMind.Containers.Run;

/// <summary>Removal of a run's container and network that tolerates either being gone already.</summary>
internal static class Cleanup
{
    public static async Task RemoveAsync(DockerClient client, string? containerId, string? networkId, CancellationToken cancellationToken)
    {
        if (containerId is not null)
        {
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

        if (networkId is not null)
        {
            await RemoveNetworkAsync(client, networkId, cancellationToken);
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

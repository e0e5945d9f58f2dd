using System.Net;
using System.Text;

namespace InfraMind.Containers.Tests.Run;

/// <summary>Requests to a model container, made as InfraMind makes them: through its connector (the container has no network).</summary>
internal static class Http
{
    private static HttpClient Client(ContainerConnector connector) =>
        new(new SocketsHttpHandler { UseProxy = false, ConnectCallback = connector.ConnectAsync }) { Timeout = TimeSpan.FromSeconds(10) };

    public static async Task<(HttpStatusCode Status, string Body)> PostJsonAsync(ContainerConnector connector, string json)
    {
        using var client = Client(connector);
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(connector.BaseAddress, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<(HttpStatusCode Status, string Body)> GetAsync(ContainerConnector connector, string path)
    {
        using var client = Client(connector);
        using var response = await client.GetAsync(new Uri(connector.BaseAddress, path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Waits for GET /health to answer 200.</summary>
    public static async Task WaitForHealthAsync(ContainerConnector connector, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if ((await GetAsync(connector, "health")).Status == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"/health of container {connector.ContainerId[..12]} did not answer 200 within {timeout}");
            }

            await Task.Delay(20);
        }
    }
}

using System.Net;
using System.Text;

namespace InfraMind.Containers.Tests.Run;

internal static class Http
{
    // No proxy: the only traffic these tests make goes straight to 127.0.0.1.
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    public static async Task<(HttpStatusCode Status, string Body)> PostJsonAsync(Uri baseAddress, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Client.PostAsync(baseAddress, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<(HttpStatusCode Status, string Body)> GetAsync(Uri address)
    {
        using var response = await Client.GetAsync(address);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Waits for GET /health to answer 200. A bare TCP connect is not enough: the engine's port proxy accepts
    /// connections before the model listens.
    /// </summary>
    public static async Task WaitForHealthAsync(Uri baseAddress, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var health = new Uri(baseAddress, "health");
        while (true)
        {
            try
            {
                if ((await GetAsync(health)).Status == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"{health} did not answer 200 within {timeout}");
            }

            await Task.Delay(20);
        }
    }
}

using InfraMind.Containers;

/// <summary>What the benches that start containers share: the engine, or why there is none.</summary>
internal static class Engines
{
    /// <summary>The engine DOCKER_HOST names (or the default socket), or null after saying on standard error why not (the bench then exits 1).</summary>
    public static async Task<ContainerEngine?> ConnectAsync()
    {
        try
        {
            return await ContainerEngine.ConnectAsync(CancellationToken.None);
        }
        catch (ContainerEngineException e)
        {
            Console.Error.WriteLine($"no container engine: {e.Message}");
            return null;
        }
    }
}

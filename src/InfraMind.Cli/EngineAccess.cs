using InfraMind.Containers;

namespace InfraMind.Cli;

/// <summary>Connects to the container engine, turning "no engine" into exit code 3 with the fix.</summary>
internal static class EngineAccess
{
    public static async Task<ContainerEngine> ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ContainerEngine.ConnectAsync(cancellationToken);
        }
        catch (EngineUnavailableException e)
        {
            // The message already says how to fix it (setup script, DOCKER_HOST).
            throw new CliException(ContainerErrorCodes.EngineUnavailable, e.Message, null, ExitCodes.EngineUnavailable);
        }
    }
}

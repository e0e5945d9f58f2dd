namespace InfraMind.Cli;

/// <summary>What `infra` exit codes mean. Scripts depend on these: never renumber.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The package, model or content failed a check (invalid manifest, failed conformance, digest mismatch).</summary>
    public const int Failed = 1;

    /// <summary>The command line was wrong: unknown option, missing argument, a path that does not exist.</summary>
    public const int Usage = 2;

    /// <summary>No container engine answered, or the engine cannot give runs the isolation policy (IM3009).</summary>
    public const int EngineUnavailable = 3;

    /// <summary>A service or peer (registry, storage, gateway) could not be reached or refused the request.</summary>
    public const int Unavailable = 4;

    /// <summary>Interrupted (Ctrl-C / SIGTERM) after cleaning up.</summary>
    public const int Interrupted = 130;

    public const string HelpText =
        "Exit codes: 0 ok; 1 check failed (invalid manifest, failing model, digest or signature mismatch); " +
        "2 usage error; 3 container engine unavailable (or unable to isolate runs); 4 service or peer unavailable; 130 interrupted.";
}

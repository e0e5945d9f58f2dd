namespace InfraMind.Cli;

/// <summary>
/// What `infra` exit codes mean: each is one <see cref="FailureKind"/>, so a failure's code decides its exit code
/// (<see cref="FailureReport"/>). Scripts depend on these: never renumber.
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The package, model or content failed a check (invalid manifest, failed conformance, digest mismatch).</summary>
    public const int Failed = (int)FailureKind.CheckFailed;

    /// <summary>The command line was wrong: unknown option, missing argument, a path that does not exist.</summary>
    public const int Usage = (int)FailureKind.Usage;

    /// <summary>No container engine answered, or the engine cannot give runs the isolation policy (IM3009).</summary>
    public const int EngineUnavailable = (int)FailureKind.EngineUnavailable;

    /// <summary>A service or peer (registry, storage, gateway) could not be reached or refused the request.</summary>
    public const int Unavailable = (int)FailureKind.Unavailable;

    /// <summary>A defect of infra (IM0001): reported in one line, details in a file under $INFRAMIND_HOME/logs.</summary>
    public const int Internal = (int)FailureKind.Internal;

    /// <summary>Interrupted (Ctrl-C / SIGTERM) after cleaning up.</summary>
    public const int Interrupted = (int)FailureKind.Interrupted;

    public const string HelpText =
        "Exit codes: 0 ok; 1 check failed (invalid manifest, failing model, digest or signature mismatch); " +
        "2 usage error; 3 container engine unavailable (or unable to isolate runs); 4 service or peer unavailable; " +
        "70 internal error (a defect: details in $INFRAMIND_HOME/logs); 130 interrupted. " +
        "Every failure prints `error IMnnnn: message` and a hint on stderr; with --json, {\"error\": {\"code\", \"message\", \"hint\"}} on stdout. " +
        "Codes: docs/errors.md.";
}

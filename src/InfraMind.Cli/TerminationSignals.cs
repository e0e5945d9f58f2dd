using System.Runtime.InteropServices;

namespace InfraMind.Cli;

/// <summary>
/// Ctrl-C (SIGINT) and SIGTERM as a cancellation of the command, from the process's start: the token given to
/// <see cref="InfraCli.RunAsync"/>.
/// </summary>
/// <remarks>
/// System.CommandLine installs its own handlers (and the 20 s a command gets to clean up) only once the command's action
/// first yields. A serving command (`registry serve`, `gateway serve`, `node serve`, `mesh up`) runs its whole start
/// before that yield, and ASP.NET Core's console lifetime, which each of its hosts installs, takes SIGTERM meanwhile and
/// only tells that host it should stop, which nothing awaits: a SIGTERM sent just as a server announced itself was
/// swallowed, and the server ran on until a second one (a test's registry, sent SIGTERM right after its first line,
/// did not exit in 60 s). With these handlers in place first, a signal at any moment cancels the command, which
/// cleans up and exits as for a later one.
/// </remarks>
internal sealed class TerminationSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public TerminationSignals()
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    /// <summary>Cancelled by the first Ctrl-C or SIGTERM.</summary>
    public CancellationToken Token => _cancel.Token;

    private void Handle(PosixSignalContext context)
    {
        // The command ends itself (and System.CommandLine's handler, once installed, bounds how long it may take).
        context.Cancel = true;
        // Off the signal thread: the command's cleanup must not run inline and hold up the other handlers.
        _ = _cancel.CancelAsync();
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _cancel.Dispose();
    }
}

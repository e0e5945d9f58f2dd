using Microsoft.AspNetCore.Builder;

namespace InfraMind.Serving;

/// <summary>
/// How every InfraMind server (gateway, its gRPC ingress, node; the registry's <c>RegistryServer</c> does the same) makes
/// its ASP.NET Core host: the content root is the program's own directory and configuration is never reloaded. The
/// builder's default content root is the working directory, from which it would read an <c>appsettings.json</c> (a
/// stranger's directory must not configure Kestrel) and which it would watch recursively for changes: started from a
/// large tree (a checkout with node_modules, $HOME, /tmp) that took 0.3-5 s per server and an inotify watch per
/// directory.
/// <para>
/// A host that stops waits at most <see cref="StopGraceSeconds"/> for the requests in flight, then aborts them (their
/// RequestAborted fires). ASP.NET Core's default is 30 s, longer than the 20 s the CLI gives a command to clean up after
/// Ctrl-C or SIGTERM: one request held open (a slow body, a stalled fetch) kept a stopping server past that, and the
/// process was ended before it removed its containers and scratch areas.
/// </para>
/// </summary>
public static class ServerOptions
{
    /// <summary>The seconds a stopping server gives the requests in flight before it aborts them.</summary>
    public const int StopGraceSeconds = 3;

    public static WebApplicationOptions Web => new()
    {
        ContentRootPath = AppContext.BaseDirectory,
        Args = ["--hostBuilder:reloadConfigOnChange=false", $"--shutdownTimeoutSeconds={StopGraceSeconds}"],
    };
}

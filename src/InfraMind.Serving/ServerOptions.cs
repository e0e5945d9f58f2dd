using Microsoft.AspNetCore.Builder;

namespace InfraMind.Serving;

/// <summary>
/// How every InfraMind server (gateway, its gRPC ingress, node; the registry's <c>RegistryServer</c> does the same) makes
/// its ASP.NET Core host: the content root is the program's own directory and configuration is never reloaded. The
/// builder's default content root is the working directory, from which it would read an <c>appsettings.json</c> (a
/// stranger's directory must not configure Kestrel) and which it would watch recursively for changes: started from a
/// large tree (a checkout with node_modules, $HOME, /tmp) that took 0.3-5 s per server and an inotify watch per
/// directory.
/// </summary>
public static class ServerOptions
{
    public static WebApplicationOptions Web => new()
    {
        ContentRootPath = AppContext.BaseDirectory,
        Args = ["--hostBuilder:reloadConfigOnChange=false"],
    };
}

using System.Diagnostics;

namespace InfraMind.Registry.Models;

/// <summary>
/// The registry's spans (publish admission). The name is the one InfraMind.Serving's tracer provider listens to
/// (MeshTracing.RegistrySourceName): the registry does not depend on the mesh's library.
/// </summary>
internal static class RegistryTracing
{
    public const string SourceName = "InfraMind.Registry";

    public static readonly ActivitySource Source = new(SourceName);
}

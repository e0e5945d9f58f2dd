namespace InfraMind.Containers;

/// <summary>Labels put on everything InfraMind creates in the engine, so that leftovers can always be found and removed.</summary>
internal static class ManagedLabels
{
    /// <summary>On every container, network and image InfraMind creates; value <c>true</c>.</summary>
    public const string Managed = "org.inframind.managed";

    /// <summary>The id of the run a container or network belongs to (only that: how an image is started is another label).</summary>
    public const string Run = "org.inframind.run";
}

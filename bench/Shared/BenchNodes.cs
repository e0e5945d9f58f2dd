using System.Diagnostics;
using InfraMind.Containers;
using InfraMind.Node;
using InfraMind.Serving;

/// <summary>What the benches that serve a model through a node of their own process share.</summary>
internal static class BenchNodes
{
    /// <summary>
    /// The container of <paramref name="name"/> <paramref name="version"/> once <paramref name="node"/> has it ready (pulled,
    /// started and pre-flighted), waiting at most two minutes; past that, the node's reports say why not.
    /// </summary>
    public static async Task<RunningContainer> ReadyContainerAsync(NodeHost node, string name, string version)
    {
        var wait = Stopwatch.StartNew();
        while (wait.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(200);
            if (node.Agent.Reports().Any(r => r.State == ModelState.Ready) && node.Agent.ContainerOf(name, version) is { } container) return container;
        }

        throw new InvalidOperationException($"{name} {version} never got ready: " +
                                            string.Join("; ", node.Agent.Reports().Select(r => $"{r.State} {r.Verdict?.WireName} {r.Detail}")));
    }
}

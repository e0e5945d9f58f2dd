using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Gateway.Routing;

/// <summary>A node as placement sees it.</summary>
internal sealed record PlacementNode(string NodeId, NodeCapacity Capacity, bool Online, IReadOnlySet<string> Current, IReadOnlySet<string> Refused);

/// <summary>A model version to place, in the order they get first pick.</summary>
internal sealed record PlacementModel(string Key, ResourceRequest Resources);

/// <summary>
/// Which node runs which model version: keeps what already runs (no churn), then adds the node with the most free
/// capacity that fits, until each model has its replicas. Never a node that refused the model or is offline.
/// </summary>
internal static class Placement
{
    public static Dictionary<string, HashSet<string>> Place(IReadOnlyList<PlacementModel> models, IReadOnlyList<PlacementNode> nodes, int replicas)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(nodes);
        var result = nodes.ToDictionary(n => n.NodeId, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var free = nodes.ToDictionary(n => n.NodeId, n => (Cpu: n.Capacity.CpuMillicores, Mem: n.Capacity.MemoryBytes, Gpu: (long)n.Capacity.GpuCount), StringComparer.Ordinal);
        var online = nodes.Where(n => n.Online).ToList();

        bool Fits(string node, ResourceRequest r) => free[node].Cpu >= r.CpuMillicores && free[node].Mem >= r.MemoryBytes && free[node].Gpu >= r.GpuCount;
        void Take(string node, PlacementModel m)
        {
            result[node].Add(m.Key);
            var f = free[node];
            free[node] = (f.Cpu - m.Resources.CpuMillicores, f.Mem - m.Resources.MemoryBytes, f.Gpu - m.Resources.GpuCount);
        }

        foreach (var m in models)
        {
            foreach (var n in online.Where(n => n.Current.Contains(m.Key) && !n.Refused.Contains(m.Key)))
            {
                if (result.Values.Count(s => s.Contains(m.Key)) >= replicas) break;
                if (Fits(n.NodeId, m.Resources)) Take(n.NodeId, m);
            }
        }

        foreach (var m in models)
        {
            while (result.Values.Count(s => s.Contains(m.Key)) < replicas)
            {
                var best = online
                    .Where(n => !result[n.NodeId].Contains(m.Key) && !n.Refused.Contains(m.Key) && Fits(n.NodeId, m.Resources))
                    .OrderByDescending(n => free[n.NodeId].Cpu).ThenByDescending(n => free[n.NodeId].Mem).ThenBy(n => n.NodeId, StringComparer.Ordinal)
                    .FirstOrDefault();
                if (best is null) break;
                Take(best.NodeId, m);
            }
        }

        return result;
    }
}

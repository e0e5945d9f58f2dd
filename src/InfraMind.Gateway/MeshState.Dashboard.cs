using InfraMind.Serving;
using Semver;

namespace InfraMind.Gateway;

/// <summary>What one poll of the dashboard draws at most (GET /dashboard/state): the summary counts everything, the filter finds the rest.</summary>
internal static class DashboardLimits
{
    /// <summary>Node rows, in id order.</summary>
    public const int Nodes = 500;

    /// <summary>Models (each with all its versions), in name order.</summary>
    public const int Models = 100;

    /// <summary>Failure rows (placements with a verdict, failures or restarts), by model, version (newest first) and node.</summary>
    public const int Failures = 200;
}

internal sealed partial class MeshState
{
    /// <summary>
    /// GET /dashboard/state: what the dashboard draws, computed here rather than in the browser from the whole state
    /// document (~500 bytes a version, 2.5 MB at 5,000, polled every 2 s by each open page). The summary counts every
    /// node, model, version and quarantine; of what <paramref name="filter"/> keeps (<see cref="StateFilter"/>, the
    /// rule of GET /inference/v1?filter=) come how many there are and the first of each (<see cref="DashboardLimits"/>):
    /// nodes, each with its suspended placements; models as the state document shows them; and the failures of a model
    /// or a node the filter keeps. So its size is bounded whatever the mesh holds, and its build copies only the rows it
    /// shows, plus one walk of every placement for the failures and the counts (bench/MeshScale catalog prints its cost).
    /// </summary>
    public object DashboardView(string? filter)
    {
        DateTimeOffset now;
        int nodeCount, online = 0, modelCount, versionCount, quarantined = 0, matchingModels, anyFailures = 0;
        List<string> matchingNodes = [];
        List<VersionCopy> shownVersions = [];
        List<object> shownNodes = [];
        List<FailureRow> failures = [];
        lock (_gate)
        {
            if (_dirty) Replace();
            now = time.GetUtcNow();
            nodeCount = _nodes.Count;
            foreach (var n in _nodes.Values)
            {
                if (IsOnline(n)) online++;
                if (StateFilter.Keeps(filter, n.Registration.NodeId)) matchingNodes.Add(n.Registration.NodeId);
            }

            matchingNodes.Sort(StringComparer.Ordinal);
            foreach (var id in matchingNodes.Take(DashboardLimits.Nodes)) shownNodes.Add(DashboardNodeRow(_nodes[id]));

            modelCount = _byName.Count;
            versionCount = _models.Count;
            var names = _names.Where(name => StateFilter.Keeps(filter, name)).ToList();
            matchingModels = names.Count;
            foreach (var name in names.Take(DashboardLimits.Models))
                foreach (var m in _byName[name]) shownVersions.Add(CopyVersion(m, now));

            foreach (var m in _models)
            {
                if (_quarantines.TryGetValue(m.Key, out var q) && q.IsQuarantined) quarantined++;
                if (!_placedOn.TryGetValue(m.Key, out var placed)) continue;
                var modelKept = StateFilter.Keeps(filter, m.Published.Name);
                foreach (var id in placed)
                {
                    var report = _nodes[id].Reports.GetValueOrDefault(m.Key);
                    var standing = _standings.GetValueOrDefault((id, m.Key));
                    var restarts = report?.Restarts ?? 0;
                    var failed = standing?.Failures ?? 0;
                    if (report?.Verdict is null && failed == 0 && restarts == 0) continue;
                    anyFailures++;
                    if (modelKept || StateFilter.Keeps(filter, id))
                        failures.Add(new FailureRow(m, id, report?.Verdict, report?.Detail, failed, standing?.Successes ?? 0, restarts));
                }
            }
        }

        failures.Sort(FailureRow.Order);
        return new
        {
            at = now,
            filter,
            summary = new { nodes = nodeCount, nodesOnline = online, models = modelCount, versions = versionCount, quarantined },
            nodes = new { matching = matchingNodes.Count, shown = shownNodes },
            models = new { matching = matchingModels, shown = ModelDocuments(shownVersions) },
            failures = new
            {
                all = anyFailures,
                matching = failures.Count,
                shown = failures.Take(DashboardLimits.Failures).Select(f => new
                {
                    model = f.Model.Published.Name,
                    version = f.Model.Published.Version.ToString(),
                    node = f.Node,
                    verdict = f.Verdict,
                    detail = f.Detail,
                    failures = f.Failures,
                    successes = f.Successes,
                    restarts = f.Restarts,
                }).ToList(),
            },
        };
    }

    /// <summary>A node's row as the state document has it, with the placements on it now suspended. Caller holds the lock.</summary>
    private object DashboardNodeRow(NodeRecord n)
    {
        var id = n.Registration.NodeId;
        var suspensions = new List<(ServedModel Model, object Row)>();
        if (_placement.TryGetValue(id, out var keys))
        {
            foreach (var key in keys)
            {
                if (!_byKey.TryGetValue(key, out var m) || _standings.GetValueOrDefault((id, key)) is not { Suspension.IsSuspended: true } s) continue;
                suspensions.Add((m, new { model = m.Published.Name, version = m.Published.Version.ToString(), until = s.Suspension.Until, reason = s.LastFault }));
            }
        }

        suspensions.Sort((a, b) => VersionOrder(a.Model, b.Model));
        return new { node = NodeRow(n), suspensions = suspensions.Select(s => s.Row).ToList() };
    }

    /// <summary>By name, then newest version first: the order the state document lists versions in.</summary>
    private static int VersionOrder(ServedModel a, ServedModel b)
    {
        var byName = string.CompareOrdinal(a.Published.Name, b.Published.Name);
        return byName != 0 ? byName : SemVersion.ComparePrecedence(b.Published.Version, a.Published.Version);
    }

    private sealed record FailureRow(ServedModel Model, string Node, Verdict? Verdict, string? Detail, long Failures, long Successes, int Restarts)
    {
        public static int Order(FailureRow a, FailureRow b)
        {
            var byVersion = VersionOrder(a.Model, b.Model);
            return byVersion != 0 ? byVersion : string.CompareOrdinal(a.Node, b.Node);
        }
    }
}

using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests.Routing;

public sealed class PlacementTests
{
    private const long Gi = 1024L * 1024 * 1024;

    private static PlacementNode Node(string id, long cpu = 4000, long mem = 8 * Gi, int gpu = 0, bool online = true, string[]? current = null, string[]? refused = null) =>
        new(id, new NodeCapacity(cpu, mem, gpu), online, (current ?? []).ToHashSet(), (refused ?? []).ToHashSet());

    private static PlacementModel Model(string key, long cpu = 1000, long mem = Gi, int gpu = 0) => new(key, new ResourceRequest(cpu, mem, gpu));

    private static string[] NodesOf(Dictionary<string, HashSet<string>> p, string key) => [.. p.Where(kv => kv.Value.Contains(key)).Select(kv => kv.Key).Order()];

    [Fact]
    public void Each_model_gets_its_replicas_on_its_best_ranked_nodes()
    {
        var nodes = new[] { Node("n1"), Node("n2"), Node("n3"), Node("n4") };
        var p = Placement.Place([Model("a@1"), Model("b@1")], nodes, 2);
        foreach (var key in new[] { "a@1", "b@1" })
        {
            string[] ranked = [.. nodes.Select(n => n.NodeId).OrderByDescending(id => Placement.Weight(key, id)).Take(2).Order()];
            Assert.Equal(ranked, NodesOf(p, key));
        }
    }

    [Fact]
    public void Two_gateways_that_see_the_same_nodes_place_alike_whatever_order_they_list_them_in()
    {
        var models = Enumerable.Range(0, 12).Select(i => Model($"m{i}@1.0.0", cpu: 500, mem: Gi / 4)).ToList();
        var nodes = Enumerable.Range(0, 7).Select(i => Node($"node-{i}", cpu: 2000)).ToList();
        var first = Placement.Place(models, nodes, 2);
        // The other gateway lists its nodes in another order (the order they registered with it).
        var second = Placement.Place(models, [.. nodes.OrderBy(n => n.NodeId.GetHashCode(StringComparison.Ordinal))], 2);
        Assert.Equal(first.Keys.Order(), second.Keys.Order());
        foreach (var (node, keys) in first) Assert.Equal(keys.Order(), second[node].Order());
        // Each version exactly on its replicas (4 versions fit per node: 28 places for 24): none twice, none missing.
        Assert.All(first.Values, keys => Assert.InRange(keys.Count, 0, 4));
        Assert.All(models, m => Assert.Equal(2, NodesOf(first, m.Key).Length));
    }

    [Fact]
    public void Gateways_that_started_apart_converge_on_the_same_replicas_once_they_see_what_nodes_run()
    {
        // Gateway A placed a@1 on n1, n2 and gateway B on n2, n3 (each saw other nodes first). The nodes run the union and
        // report it to both: from those reports both keep the same two, the best ranked of the three, and the third stops.
        var key = "a@1";
        PlacementNode[] Seen(string[] own) =>
        [
            .. new[] { "n1", "n2", "n3", "n4" }.Select(id => Node(id, current: own.Contains(id) || id != "n4" ? [key] : [])),
        ];
        var a = Placement.Place([Model(key)], Seen(["n1", "n2"]), 2);
        var b = Placement.Place([Model(key)], Seen(["n2", "n3"]), 2);
        string[] best = [.. new[] { "n1", "n2", "n3" }.OrderByDescending(id => Placement.Weight(key, id)).Take(2).Order()];
        Assert.Equal(best, NodesOf(a, key));
        Assert.Equal(best, NodesOf(b, key));
    }

    [Fact]
    public void What_another_gateway_placed_on_a_node_uses_its_capacity_here_too()
    {
        // n1 runs other@1 (3 of its 4 CPUs) for a gateway whose catalog this one does not hold: a@1 (2 CPUs) does not fit there.
        var busy = Node("n1") with { Running = new Dictionary<string, ResourceRequest> { ["other@1"] = new(3000, Gi, 0) } };
        var p = Placement.Place([Model("a@1", cpu: 2000)], [busy, Node("n2"), Node("n3")], 2);
        Assert.Equal(["n2", "n3"], NodesOf(p, "a@1"));
    }

    [Fact]
    public void A_node_joining_moves_only_what_it_now_wins_and_nothing_that_runs()
    {
        var models = Enumerable.Range(0, 30).Select(i => Model($"m{i}@1", cpu: 100, mem: Gi / 16)).ToList();
        var before = Placement.Place(models, [Node("n1"), Node("n2"), Node("n3")], 2);
        PlacementNode With(string id) => Node(id, current: before.TryGetValue(id, out var keys) ? [.. keys] : []);
        var after = Placement.Place(models, [With("n1"), With("n2"), With("n3"), Node("n4")], 2);
        foreach (var (node, keys) in before) Assert.Equal(keys.Order(), after[node].Order());
        Assert.Empty(after["n4"]);
    }

    [Fact]
    public void Nothing_goes_where_it_does_not_fit()
    {
        var p = Placement.Place([Model("big@1", mem: 6 * Gi), Model("big@2", mem: 6 * Gi)], [Node("n1"), Node("n2")], 2);
        Assert.Equal(2, p.Values.Sum(s => s.Count));
        Assert.All(p.Values, s => Assert.Single(s));
    }

    [Fact]
    public void A_gpu_model_goes_only_to_gpu_nodes()
    {
        var p = Placement.Place([Model("vision@1", gpu: 1)], [Node("cpu1"), Node("gpu1", gpu: 1), Node("cpu2")], 2);
        Assert.Equal(["gpu1"], NodesOf(p, "vision@1"));
    }

    [Fact]
    public void Refusing_and_offline_nodes_are_skipped()
    {
        var p = Placement.Place([Model("a@1")], [Node("n1", refused: ["a@1"]), Node("n2", online: false), Node("n3")], 2);
        Assert.Equal(["n3"], NodesOf(p, "a@1"));
    }

    [Fact]
    public void Running_models_stay_where_they_are()
    {
        var p = Placement.Place([Model("a@1")], [Node("n1", cpu: 16000), Node("n2", current: ["a@1"]), Node("n3", current: ["a@1"])], 2);
        Assert.Equal(["n2", "n3"], NodesOf(p, "a@1"));
    }

    [Fact]
    public void An_offline_node_loses_its_models_to_another()
    {
        var p = Placement.Place([Model("a@1")], [Node("n1", online: false, current: ["a@1"]), Node("n2", current: ["a@1"]), Node("n3")], 2);
        Assert.Equal(["n2", "n3"], NodesOf(p, "a@1"));
    }
    [Fact]
    public void Nodes_sharing_one_machine_place_a_second_model_where_reservations_would_have_left_it_without_a_node()
    {
        // `infra mesh up` on this 2-core machine: two nodes, SPEC's summarizer (cpu 2) on both, then a cpu 1 model.
        var machine = new NodeCapacity(2000, 24 * Gi, 0);
        PlacementNode On(string id, ResourcePolicy policy) => new(id, policy.Offered(machine), true, new HashSet<string>(), new HashSet<string>());
        PlacementModel[] models = [Model("summarizer@0.4.2", cpu: 2000, mem: 4 * Gi), Model("iris@1.0.0", cpu: 1000, mem: Gi / 4)];

        var reserved = Placement.Place(models, [On("node-1", ResourcePolicy.Exclusive), On("node-2", ResourcePolicy.Exclusive)], 2);
        Assert.Equal(["node-1", "node-2"], NodesOf(reserved, "summarizer@0.4.2"));
        Assert.Empty(NodesOf(reserved, "iris@1.0.0"));

        var shared = Placement.Place(models, [On("node-1", ResourcePolicy.SharedMachine), On("node-2", ResourcePolicy.SharedMachine)], 2);
        Assert.Equal(["node-1", "node-2"], NodesOf(shared, "summarizer@0.4.2"));
        Assert.Equal(["node-1", "node-2"], NodesOf(shared, "iris@1.0.0"));
    }
}

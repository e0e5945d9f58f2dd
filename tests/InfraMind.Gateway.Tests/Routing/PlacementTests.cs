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
    public void Each_model_gets_its_replicas_on_the_freest_nodes()
    {
        var p = Placement.Place([Model("a@1"), Model("b@1")], [Node("n1"), Node("n2", cpu: 8000), Node("n3")], 2);
        Assert.Equal(2, NodesOf(p, "a@1").Length);
        Assert.Contains("n2", NodesOf(p, "a@1"));
        Assert.Equal(2, NodesOf(p, "b@1").Length);
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

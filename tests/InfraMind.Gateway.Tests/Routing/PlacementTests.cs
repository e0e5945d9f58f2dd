using InfraMind.Gateway.Routing;
using InfraMind.Manifest;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests.Routing;

public sealed class PlacementTests
{
    private const long Gi = 1024L * 1024 * 1024;

    private static PlacementNode Node(string id, long cpu = 4000, long mem = 8 * Gi, int gpu = 0, bool online = true, string[]? current = null, string[]? refused = null,
        string[]? ready = null) =>
        new(id, new NodeCapacity(cpu, mem, gpu), online, (current ?? []).ToHashSet(), (refused ?? []).ToHashSet()) { Ready = (ready ?? []).ToHashSet() };

    private static string[] Best(string key, int count, params string[] nodes) => [.. nodes.OrderByDescending(id => Placement.Weight(key, id)).Take(count).Order()];

    private static PlacementModel Model(string key, long cpu = 1000, long mem = Gi, int gpu = 0) => new(key, new ResourceRequest(cpu, mem, gpu));

    private static string[] NodesOf(Dictionary<string, HashSet<string>> p, string key) => [.. p.Where(kv => kv.Value.Contains(key)).Select(kv => kv.Key).Order()];

    [Fact]
    public void What_is_free_on_a_node_never_overflows_whatever_its_reports_say()
    {
        Assert.Equal(3000, Placement.Free(4000, [1000]));
        Assert.Equal(4000, Placement.Free(4000, [-5, 0]));
        Assert.Equal(-1, Placement.Free(4000, [long.MaxValue, long.MaxValue]));
        Assert.Equal(-1, Placement.Free(long.MaxValue, [long.MaxValue, long.MaxValue, 1]));
        Assert.Equal(long.MaxValue, Placement.Free(long.MaxValue, []));

        // Such a node holds nothing more; the others are placed as ever.
        var liar = Node("liar") with { Running = new Dictionary<string, ResourceRequest> { ["x@1"] = new(long.MaxValue, long.MaxValue, int.MaxValue), ["x@2"] = new(long.MaxValue, long.MaxValue, int.MaxValue) } };
        var p = Placement.Place([Model("a@1")], [liar, Node("n1")], 1);
        Assert.Equal(["n1"], NodesOf(p, "a@1"));
    }

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

    /// <summary>
    /// Tiny versions (10m CPU, 6 MiB) fit hundreds to a node by their declared resources alone: the count per node is a
    /// bound of its own. Past it, versions go to other nodes.
    /// </summary>
    [Fact]
    public void A_node_holds_at_most_its_count_of_versions_whatever_their_resources()
    {
        var tiny = Enumerable.Range(0, 300).Select(i => Model($"t{i}@1.0.0", cpu: 10, mem: 6L << 20)).ToList();
        var alone = Placement.Place(tiny, [Node("n1")], 1, maxPerNode: 32);
        Assert.Equal(32, alone["n1"].Count);
        Assert.Equal(300, Placement.Place(tiny, [Node("n1")], 1)["n1"].Count); // without a count: every one fits

        // What the node says it runs for other gateways is its word and does not count (the node bounds its own total).
        var shared = Node("n1") with { Running = Enumerable.Range(0, 500).ToDictionary(i => $"other@{i}", _ => new ResourceRequest(0, 0, 0)) };
        Assert.Equal(32, Placement.Place(tiny, [shared], 1, maxPerNode: 32)["n1"].Count);

        // With more nodes, what one cannot hold goes to the others, each within the bound.
        var spread = Placement.Place(tiny[..40], [Node("n1"), Node("n2")], 1, maxPerNode: 32);
        Assert.All(spread.Values, keys => Assert.True(keys.Count <= 32, $"{keys.Count} versions on a node"));
        Assert.Equal(40, spread.Values.Sum(keys => keys.Count));
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
    public void Gateways_that_started_apart_converge_on_the_same_replicas()
    {
        // Gateway A placed a@1 on n1, n2 and gateway B on n2, n3 (each saw other nodes first); all three run it ready now.
        // Both place it on the same two, the best ranked, and the third stops (no gateway assigns it any more).
        var key = "a@1";
        PlacementNode[] Seen(string[] own) => [.. new[] { "n1", "n2", "n3" }.Select(id => Node(id, current: own.Contains(id) ? [key] : [], ready: [key]))];
        var a = Placement.Place([Model(key)], Seen(["n1", "n2"]), 2);
        var b = Placement.Place([Model(key)], Seen(["n2", "n3"]), 2);
        Assert.Equal(Best(key, 2, "n1", "n2", "n3"), NodesOf(a, key));
        Assert.Equal(Best(key, 2, "n1", "n2", "n3"), NodesOf(b, key));
    }

    [Fact]
    public void A_node_claiming_to_run_a_version_is_not_given_it_for_that()
    {
        // n-liar reports a@1 ready (and running) without being placed there: the rank alone decides, as if it said nothing.
        var key = "a@1";
        var honest = Placement.Place([Model(key)], [Node("n1"), Node("n2"), Node("n-liar")], 1);
        var lied = Placement.Place([Model(key)], [Node("n1"), Node("n2"),
            Node("n-liar", ready: [key]) with { Running = new Dictionary<string, ResourceRequest> { [key] = new(1000, Gi, 0) } }], 1);
        Assert.Equal(NodesOf(honest, key), NodesOf(lied, key));
    }

    [Fact]
    public void A_version_that_moves_stays_on_its_old_node_until_the_new_one_is_ready()
    {
        // a@1 runs ready on the node that ranks lower; the better one joins: it gets a@1, and the old one stands in meanwhile.
        var key = "a@1";
        var (better, worse) = Placement.Weight(key, "x") > Placement.Weight(key, "y") ? ("x", "y") : ("y", "x");
        var joining = Placement.Place([Model(key)], [Node(worse, current: [key], ready: [key]), Node(better)], 1);
        Assert.Equal(new[] { "x", "y" }, NodesOf(joining, key));
        var ready = Placement.Place([Model(key)], [Node(worse, current: [key], ready: [key]), Node(better, current: [key], ready: [key])], 1);
        Assert.Equal([better], NodesOf(ready, key));
    }

    /// <summary>
    /// Only a node that runs the version ready stands in while the new one is not: one placed there before that is not
    /// ready (still starting, failing its pre-flight) answers nothing, and would only hold its resources.
    /// </summary>
    [Fact]
    public void A_node_that_held_a_version_but_is_not_ready_does_not_stand_in()
    {
        var key = "a@1";
        var (better, worse) = Placement.Weight(key, "x") > Placement.Weight(key, "y") ? ("x", "y") : ("y", "x");
        var p = Placement.Place([Model(key)], [Node(worse, current: [key]), Node(better)], 1);
        Assert.Equal([better], NodesOf(p, key));
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
    public void A_node_joining_takes_only_what_it_now_wins()
    {
        var models = Enumerable.Range(0, 40).Select(i => Model($"m{i}@1", cpu: 100, mem: Gi / 16)).ToList();
        var before = Placement.Place(models, [Node("n1"), Node("n2"), Node("n3")], 2);
        PlacementNode Settled(string id, Dictionary<string, HashSet<string>> p) => Node(id, current: [.. p[id]], ready: [.. p[id]]);
        var after = Placement.Place(models, [Settled("n1", before), Settled("n2", before), Settled("n3", before), Node("n4", cpu: 100_000, mem: 64 * Gi)], 2);
        var settled = Placement.Place(models, [.. new[] { "n1", "n2", "n3", "n4" }.Select(id => Settled(id, after))], 2);
        foreach (var m in models)
        {
            string[] old = NodesOf(before, m.Key);
            if (!after["n4"].Contains(m.Key))
            {
                Assert.Equal(old, NodesOf(after, m.Key)); // untouched: n4 does not win it
                continue;
            }

            // n4 won it: the node it replaces stands in until n4 is ready, then goes; the other replica never moves.
            Assert.Subset(NodesOf(after, m.Key).ToHashSet(), old.ToHashSet());
            Assert.Equal(2, NodesOf(settled, m.Key).Length);
            Assert.Contains("n4", NodesOf(settled, m.Key));
            Assert.Single(old.Intersect(NodesOf(settled, m.Key)));
        }

        // About 2 of every 4 versions now have n4 among their 2 best (rendezvous moves only those).
        Assert.InRange(after["n4"].Count, 10, 30);
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
    public void A_settled_placement_stays_as_it_is()
    {
        var models = new[] { Model("a@1"), Model("b@1"), Model("c@1") };
        var first = Placement.Place(models, [Node("n1"), Node("n2"), Node("n3")], 2);
        var again = Placement.Place(models, [.. new[] { "n1", "n2", "n3" }.Select(id => Node(id, current: [.. first[id]], ready: [.. first[id]]))], 2);
        foreach (var (node, keys) in first) Assert.Equal(keys.Order(), again[node].Order());
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

    /// <summary>
    /// The attack the threat model named (an audit, 2026-12-06): rank followed the id a node chose, so a node could try
    /// ids until one won a version. A node with a key ranks by its key's fingerprint: the id it ground wins nothing.
    /// </summary>
    [Fact]
    public void A_node_with_a_key_ranks_by_its_key_so_an_id_chosen_to_win_a_version_wins_nothing()
    {
        const string seed = "summarizer@1.0.0\nsha256:aa";
        string[] honest = [.. Enumerable.Range(1, 8).Select(i => $"n{i}")];
        // The attacker tries 500 ids and keeps the one that outranks every honest node.
        var ground = Enumerable.Range(0, 500).Select(i => $"grind-{i}").MaxBy(id => Placement.Weight(seed, id))!;
        Assert.True(honest.All(h => Placement.Weight(seed, ground) > Placement.Weight(seed, h)), "500 tries outrank 8 nodes");
        // A key whose fingerprint does not outrank them all (the attacker holds one key; the gateway admitted it as it is).
        var fingerprint = Enumerable.Range(0, 100).Select(i => $"sha256:{i:x64}").First(f => honest.Any(h => Placement.Weight(seed, h) > Placement.Weight(seed, f)));
        PlacementModel version = new("summarizer@1.0.0", new ResourceRequest(1000, Gi, 0)) { Seed = seed };
        PlacementNode[] nodes = [.. honest.Select(h => Node(h)), Node(ground)];

        // Keyless, the ground id takes the version; with its key, the id no longer counts.
        Assert.Equal([ground], NodesOf(Placement.Place([version], nodes, 1), version.Key));
        PlacementNode[] keyed = [.. honest.Select(h => Node(h)), Node(ground) with { Identity = Placement.IdentityOf(ground, fingerprint) }];
        var winner = keyed.MaxBy(n => Placement.Weight(seed, n.Identity))!.NodeId;
        Assert.NotEqual(ground, winner);
        Assert.Equal([winner], NodesOf(Placement.Place([version], keyed, 1), version.Key));
        Assert.Equal(fingerprint, Placement.IdentityOf("any-id", fingerprint));
        Assert.Equal("n1", Placement.IdentityOf("n1", null));
    }

    /// <summary>
    /// A version's name and number can be guessed before it is published, so a node could have picked its key for a
    /// version to come; the seed holds the image's digest, which no one but its publisher knows until then.
    /// </summary>
    [Fact]
    public void A_versions_ranks_are_drawn_from_its_image_digest_not_only_its_name_and_number()
    {
        Assert.Equal("a@1\nsha256:01", Placement.SeedOf("a@1", "sha256:01"));
        PlacementNode[] nodes = [.. Enumerable.Range(1, 16).Select(i => Node($"n{i}"))];
        var winners = new HashSet<string>(StringComparer.Ordinal);
        foreach (var digest in Enumerable.Range(0, 8).Select(i => $"sha256:{i:x64}"))
        {
            PlacementModel version = new("a@1", new ResourceRequest(1000, Gi, 0)) { Seed = Placement.SeedOf("a@1", digest) };
            var placed = NodesOf(Placement.Place([version], nodes, 2), "a@1");
            Assert.Equal(Best(version.Seed, 2, [.. nodes.Select(n => n.NodeId)]), placed);
            winners.UnionWith(placed);
        }

        // The same name and number, other images: other nodes (with one seed for all, it would be two nodes).
        Assert.True(winners.Count > 2, $"eight digests placed a@1 on {winners.Count} nodes");
    }

    /// <summary>
    /// The kept ranks follow a node whose identity changed (a keyless id registering a key) and a version whose seed
    /// changed, as ranking afresh would.
    /// </summary>
    [Fact]
    public void Kept_ranks_follow_a_node_that_gains_a_key_and_a_version_whose_seed_changes()
    {
        var ranks = new RendezvousRanks();
        string[] ids = [.. Enumerable.Range(1, 12).Select(i => $"n{i}")];
        string[] Fresh(Dictionary<string, string> nodes, string seed) =>
            [.. nodes.OrderByDescending(n => Placement.Weight(seed, n.Value)).ThenBy(n => n.Key, StringComparer.Ordinal).Select(n => n.Key)];
        var nodes = ids.ToDictionary(id => id, id => id, StringComparer.Ordinal);
        ranks.Sync(nodes, new Dictionary<string, string> { ["a@1"] = "a@1\nsha256:01" });
        Assert.Equal(Fresh(nodes, "a@1\nsha256:01"), ranks.Ranked("a@1"));

        // Every node gains a key: each is ranked by its fingerprint now.
        var keyed = ids.Select((id, i) => (id, $"sha256:{i + 100:x64}")).ToDictionary(n => n.id, n => n.Item2, StringComparer.Ordinal);
        ranks.Sync(keyed, new Dictionary<string, string> { ["a@1"] = "a@1\nsha256:01" });
        Assert.Equal(Fresh(keyed, "a@1\nsha256:01"), ranks.Ranked("a@1"));
        Assert.NotEqual(Fresh(nodes, "a@1\nsha256:01"), ranks.Ranked("a@1"));

        // The version's seed changes: ranked again.
        ranks.Sync(keyed, new Dictionary<string, string> { ["a@1"] = "a@1\nsha256:02" });
        Assert.Equal(Fresh(keyed, "a@1\nsha256:02"), ranks.Ranked("a@1"));
        Assert.NotEqual(Fresh(keyed, "a@1\nsha256:01"), ranks.Ranked("a@1"));
    }
}

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

    /// <summary>
    /// Each target node not ready yet keeps one stand-in, no more, and the stand-ins are the best-ranked of the nodes
    /// that held the version ready (scripts/mutation.sh routing: taking every holder, or the worst-ranked, passed).
    /// </summary>
    [Fact]
    public void Each_node_not_ready_yet_keeps_one_stand_in_the_best_ranked_of_those_that_held_it()
    {
        var key = "a@1";
        string[] byRank = [.. Enumerable.Range(1, 6).Select(i => $"n{i}").OrderByDescending(id => Placement.Weight(key, id))];
        PlacementNode Held(string id) => Node(id, current: [key], ready: [key]);

        // Two replicas; the best-ranked joins, not ready; the next four held it ready. The second is a target and ready:
        // one node is waited for, so one stand-in: the best-ranked holder that is not a target already, the third.
        var one = Placement.Place([Model(key)], [Node(byRank[0]), .. byRank[1..5].Select(Held)], 2);
        Assert.Equal(byRank[..3].Order(), NodesOf(one, key));

        // The best two join, neither ready: two stand-ins, the best two of the four that held it; the last two go.
        var two = Placement.Place([Model(key)], [Node(byRank[0]), Node(byRank[1]), .. byRank[2..6].Select(Held)], 2);
        Assert.Equal(byRank[..4].Order(), NodesOf(two, key));

        // Both targets ready: no stand-in at all.
        var none = Placement.Place([Model(key)], [.. byRank.Select(Held)], 2);
        Assert.Equal(byRank[..2].Order(), NodesOf(none, key));
    }

    /// <summary>A version fits a node whose free CPU, memory and GPUs are each exactly what it asks, and not one unit less.</summary>
    [Fact]
    public void A_version_fits_exactly_what_is_free_and_not_one_unit_more()
    {
        PlacementNode Exact() => Node("n1", cpu: 2000, mem: 2 * Gi, gpu: 1);
        Assert.Equal(["n1"], NodesOf(Placement.Place([Model("a@1", cpu: 2000, mem: 2 * Gi, gpu: 1)], [Exact()], 1), "a@1"));
        Assert.Empty(NodesOf(Placement.Place([Model("a@1", cpu: 2001, mem: 2 * Gi, gpu: 1)], [Exact()], 1), "a@1"));
        Assert.Empty(NodesOf(Placement.Place([Model("a@1", cpu: 2000, mem: (2 * Gi) + 1, gpu: 1)], [Exact()], 1), "a@1"));
        Assert.Empty(NodesOf(Placement.Place([Model("a@1", cpu: 2000, mem: 2 * Gi, gpu: 2)], [Exact()], 1), "a@1"));
    }

    /// <summary>What a version takes is taken from each of CPU, memory and GPUs: the next one finds the rest, in each alone.</summary>
    [Theory]
    [InlineData(1000, 0, 0)]
    [InlineData(0, 1, 0)]
    [InlineData(0, 0, 1)]
    public void What_a_placed_version_takes_is_not_free_for_the_next(long cpu, long gi, int gpu)
    {
        // Room for two of three versions in the one resource they ask for; plenty of the others.
        var node = Node("n1", cpu: cpu == 0 ? 100_000 : 2 * cpu, mem: gi == 0 ? 64 * Gi : 2 * gi * Gi, gpu: gpu == 0 ? 8 : 2 * gpu);
        PlacementModel[] models = [.. Enumerable.Range(1, 3).Select(i => Model($"m{i}@1", cpu: cpu, mem: gi * Gi, gpu: gpu))];
        var p = Placement.Place(models, [node], 1);
        Assert.Equal(["m1@1", "m2@1"], p["n1"].Order());
    }

    /// <summary>
    /// Two nodes of one identity weigh alike for every version: the lower id ranks first, on every gateway, whatever
    /// order it lists them in (the id is the tie-break <see cref="RendezvousRanks"/> names).
    /// </summary>
    [Fact]
    public void Nodes_that_weigh_alike_rank_by_id_whatever_order_they_are_listed_in()
    {
        PlacementNode Same(string id) => Node(id) with { Identity = "sha256:" + new string('a', 64) };
        foreach (var nodes in new[] { new[] { Same("n-b"), Same("n-a") }, [Same("n-a"), Same("n-b")] })
        {
            Assert.Equal(["n-a"], NodesOf(Placement.Place([Model("a@1")], nodes, 1), "a@1"));
            var ranks = new RendezvousRanks();
            ranks.Sync(nodes.ToDictionary(n => n.NodeId, n => n.Identity), new Dictionary<string, string> { ["a@1"] = "a@1" });
            Assert.Equal(["n-a", "n-b"], ranks.Ranked("a@1"));
            // Inserted into a kept order, too.
            ranks.Sync(new Dictionary<string, string> { ["n-b"] = nodes[0].Identity, ["n-a"] = nodes[0].Identity, ["n-0"] = nodes[0].Identity },
                new Dictionary<string, string> { ["a@1"] = "a@1" });
            Assert.Equal(["n-0", "n-a", "n-b"], ranks.Ranked("a@1"));
        }
    }

    /// <summary>
    /// The caller's ranks are the ones placement keeps up to date, and they cost one weight per (new node, version) or
    /// (node, new version): nothing is weighed twice. Only a node whose identity changed and a version whose seed
    /// changed are weighed again.
    /// </summary>
    [Fact]
    public void Kept_ranks_are_the_callers_and_weigh_only_what_is_new()
    {
        var ranks = new RendezvousRanks();
        List<PlacementNode> nodes = [.. Enumerable.Range(1, 4).Select(i => Node($"n{i}"))];
        List<PlacementModel> models = [Model("a@1", cpu: 10, mem: 1), Model("b@1", cpu: 10, mem: 1)];
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(8, ranks.Weighed);
        Assert.Equal(nodes.Select(n => n.NodeId).OrderByDescending(id => Placement.Weight("a@1", id)), ranks.Ranked("a@1"));

        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(8, ranks.Weighed); // the same nodes and versions: none

        nodes.Add(Node("n5"));
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(8 + 2, ranks.Weighed); // a new node: once per version

        models.Add(Model("c@1", cpu: 10, mem: 1));
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(10 + 5, ranks.Weighed); // a new version: once per node

        nodes[0] = nodes[0] with { Identity = Placement.IdentityOf("n1", "sha256:" + new string('b', 64)) };
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(15 + 3, ranks.Weighed); // a node that registered a key: once per version

        models[0] = models[0] with { Seed = Placement.SeedOf("a@1", "sha256:01") };
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(18 + 5, ranks.Weighed); // a version whose seed changed: once per node

        nodes.RemoveAt(1);
        models.RemoveAt(1);
        Placement.Place(models, nodes, 1, ranks);
        Assert.Equal(23, ranks.Weighed); // gone: none
        Assert.Equal(nodes.OrderByDescending(n => Placement.Weight(models[0].Seed, n.Identity)).Select(n => n.NodeId), ranks.Ranked("a@1"));
    }
}

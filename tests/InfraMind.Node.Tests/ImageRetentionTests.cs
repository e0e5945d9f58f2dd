using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Node.Tests;

/// <summary>
/// What a node keeps of the images it ran (<see cref="ImageRetention"/>), against the real engine: small images loaded
/// per test (unique ids), each held by the node's name alone, as an image fetched from a stranger's publish is (nameless
/// when loaded). An unused image goes once the unused ones exceed the budget, the longest unused first; an image with
/// another name (a developer's, another node's) only loses this node's name; a container holding it keeps it; a restarted
/// node finds what it named before; and a node agent lets a version's image go when its gateway no longer places it.
/// </summary>
public sealed class ImageRetentionTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A published version's assignment (the inner source below ignores everything but its key).</summary>
    private static ModelAssignment Assignment(string name, string version = "1.0.0") =>
        new(name, version, new System.Text.Json.Nodes.JsonObject(), "sha256:" + new string('0', 64), [], null);

    /// <summary>
    /// A small image of its own (a unique id), loaded nameless as a node loads a publish (or, with
    /// <paramref name="name"/>, under that name, as an operator's build is); returns its id.
    /// </summary>
    private static async Task<string> LoadAsync(ContainerEngine engine, string name = "")
    {
        using var tar = new MemoryStream(SmallImage.DockerSave(Guid.NewGuid().ToString("N"), tag: name));
        var loaded = Assert.Single(await engine.LoadImageAsync(tar, None));
        return (await engine.InspectImageAsync(loaded, None))!.Id;
    }

    /// <summary>As a node's source hands out a stranger's image: by id, present in the engine or refused.</summary>
    private sealed class Loaded(ContainerEngine engine, IReadOnlyDictionary<string, string> idsByKey) : IModelImageSource
    {
        public int Calls;

        /// <summary>The versions whose fetched copy the node told this source to drop, in order.</summary>
        public List<string> Forgotten { get; } = [];

        public ValueTask ForgetAsync(ModelAssignment model, CancellationToken cancellationToken)
        {
            lock (Forgotten) Forgotten.Add(model.Key);
            return ValueTask.CompletedTask;
        }

        public async Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            var id = idsByKey[model.Key];
            return await engine.ImageExistsAsync(id, cancellationToken) ? id : throw new ModelImageException($"{id} is gone");
        }
    }

    /// <summary>One series of the node's /metrics registry, collected as a scrape collects it.</summary>
    private static double? Scrape(NodeAgent agent, string series)
    {
        agent.ObserveMetrics();
        using var text = new MemoryStream();
        agent.Metrics.Registry.CollectAndExportAsTextAsync(text).GetAwaiter().GetResult();
        return PrometheusText.Value(Encoding.UTF8.GetString(text.ToArray()), series);
    }

    [SkippableFact]
    public async Task Unused_images_are_kept_within_the_budget_and_the_longest_unused_goes_first()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var (a, b, c) = (await LoadAsync(engine), await LoadAsync(engine), await LoadAsync(engine));
        try
        {
            var size = (await engine.InspectImageAsync(a, None))!.Size;
            var (sizeB, sizeC) = ((await engine.InspectImageAsync(b, None))!.Size, (await engine.InspectImageAsync(c, None))!.Size);
            Assert.True(size > 0 && Math.Abs(sizeB - size) < size / 10 && Math.Abs(sizeC - size) < size / 10, "the three images are alike in size");
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var (va, vb, vc) = (Assignment("a"), Assignment("b"), Assignment("c"));
            // Room for two unused images of this size (the three are alike), not three.
            var source = new Loaded(engine, new Dictionary<string, string> { [va.Key] = a, [vb.Key] = b, [vc.Key] = c });
            using var retention = new ImageRetention(source, engine, "retain-" + Guid.NewGuid().ToString("N"), 2 * size + size / 2, time);
            await retention.ReleaseAsync([], None);
            foreach (var v in new[] { va, vb, vc }) await retention.EnsureImageAsync(v, None);
            Assert.Equal([retention.NameOf(a)], (await engine.InspectImageAsync(a, None))!.Tags);

            // In use, an image stays whatever the budget; unused, two fit.
            await retention.ReleaseAsync([va], None);
            time.Advance(TimeSpan.FromMinutes(1));
            await retention.ReleaseAsync([vb], None);
            Assert.True(await engine.ImageExistsAsync(a, None) && await engine.ImageExistsAsync(b, None), "unused images within the budget were removed");
            Assert.Empty(source.Forgotten);
            Assert.Equal((2, size + sizeB), retention.Unused);

            // A third unused one: the longest unused (a) goes, the others stay.
            time.Advance(TimeSpan.FromMinutes(1));
            await retention.ReleaseAsync([vc], None);
            Assert.False(await engine.ImageExistsAsync(a, None), "the longest-unused image was kept beyond the budget");
            Assert.Equal([va.Key], source.Forgotten);
            Assert.True(await engine.ImageExistsAsync(b, None) && await engine.ImageExistsAsync(c, None));
            Assert.Equal((2, sizeB + sizeC), retention.Unused);

            // Used again, b is no longer unused: nothing goes, and it is held as before.
            await retention.EnsureImageAsync(vb, None);
            Assert.Equal((1, sizeC), retention.Unused);

            // However many bytes are allowed, at most so many unused images are kept: here one.
            using var counted = new ImageRetention(source, engine, "retain-count-" + Guid.NewGuid().ToString("N"), long.MaxValue, time, maxUnusedImages: 1);
            await counted.ReleaseAsync([], None);
            await counted.EnsureImageAsync(vb, None);
            await counted.EnsureImageAsync(vc, None);
            await counted.ReleaseAsync([vb], None);
            time.Advance(TimeSpan.FromMinutes(1));
            await counted.ReleaseAsync([vc], None);
            Assert.Equal((1, sizeC), counted.Unused);
            Assert.DoesNotContain(counted.NameOf(b), (await engine.InspectImageAsync(b, None))!.Tags);
            Assert.Contains(counted.NameOf(c), (await engine.InspectImageAsync(c, None))!.Tags);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, a, b, c);
        }
    }

    [SkippableFact]
    public async Task An_operators_image_is_never_the_nodes_and_one_held_by_a_container_or_another_node_stays()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var built = $"im-retain-{Guid.NewGuid():N}"[..24] + ":1";
        var (mine, held, shared) = (await LoadAsync(engine, built), await LoadAsync(engine), await LoadAsync(engine));
        using var docker = new DockerClientConfiguration(engine.Endpoint).CreateClient();
        string? container = null;
        try
        {
            var (vm, vh, vs) = (Assignment("mine"), Assignment("held"), Assignment("shared"));
            var source = new Loaded(engine, new Dictionary<string, string> { [vm.Key] = mine, [vh.Key] = held, [vs.Key] = shared });
            using var a = new ImageRetention(source, engine, "retain-a-" + Guid.NewGuid().ToString("N"), 0);
            using var b = new ImageRetention(source, engine, "retain-b-" + Guid.NewGuid().ToString("N"), 0);

            // `mine` carries the operator's name (an `infra build`): the node runs it and never names it.
            Assert.Equal(mine, await a.EnsureImageAsync(vm, None));
            Assert.Equal([built], (await engine.InspectImageAsync(mine, None))!.Tags);
            // `held`: the node's, but a container (not the node's) was made from it.
            await a.EnsureImageAsync(vh, None);
            container = (await docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = held, Cmd = ["/bin/true"] }, None)).ID;
            // `shared`: two nodes of one engine, each with its own name on it.
            await a.EnsureImageAsync(vs, None);
            await b.EnsureImageAsync(vs, None);
            Assert.Equal(2, (await engine.InspectImageAsync(shared, None))!.Tags.Count);

            await a.ReleaseAsync([vm, vh, vs], None);
            Assert.Equal([built], (await engine.InspectImageAsync(mine, None))!.Tags);
            Assert.True(await engine.ImageExistsAsync(held, None), "an image a container holds was removed");
            Assert.Equal([b.NameOf(shared)], (await engine.InspectImageAsync(shared, None))!.Tags);
            // `held` is still on the disk and unused by the node: counted, and to be tried again (the next test).
            Assert.Equal((1, (await engine.InspectImageAsync(held, None))!.Size), a.Unused);
            Assert.Empty(source.Forgotten);

            // The other node lets go too: now nothing holds `shared`, and its fetched copy may go.
            await b.ReleaseAsync([vs], None);
            Assert.False(await engine.ImageExistsAsync(shared, None));
            Assert.Equal([vs.Key], source.Forgotten);
        }
        finally
        {
            if (container is not null) await docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true }, None);
            await TestEngine.RemoveTestImagesAsync(engine, force: true, mine, held, shared);
        }
    }

    /// <summary>
    /// The leak this closes: a removal the engine refused (a container held the image) dropped the image from the
    /// node's books, so it stayed on the disk until the node restarted. It now stays counted and is tried again, with
    /// a back-off, whether or not another version stops, and goes once nothing holds it.
    /// </summary>
    [SkippableFact]
    public async Task An_image_a_container_held_is_tried_again_with_a_back_off_and_goes_once_nothing_holds_it()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var (held, other) = (await LoadAsync(engine), await LoadAsync(engine));
        using var docker = new DockerClientConfiguration(engine.Endpoint).CreateClient();
        string? container = null;
        try
        {
            var size = (await engine.InspectImageAsync(held, None))!.Size;
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var (vh, vo) = (Assignment("held"), Assignment("other"));
            var source = new Loaded(engine, new Dictionary<string, string> { [vh.Key] = held, [vo.Key] = other });
            using var retention = new ImageRetention(source, engine, "retain-retry-" + Guid.NewGuid().ToString("N"), 0, time);
            await retention.ReleaseAsync([], None);
            await retention.EnsureImageAsync(vh, None);
            await retention.EnsureImageAsync(vo, None);
            container = (await docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = held, Cmd = ["/bin/true"] }, None)).ID;

            // Both stop: `other` goes; `held` is refused, stays counted, and is not due before the first back-off.
            await retention.ReleaseAsync([vh, vo], None);
            Assert.False(await engine.ImageExistsAsync(other, None), "one refused removal kept another image that nothing holds");
            Assert.True(await engine.ImageExistsAsync(held, None));
            Assert.Equal((1, size), retention.Unused);
            Assert.False(retention.RetryDue);
            time.Advance(ImageRetention.FirstRetryDelay - TimeSpan.FromMilliseconds(1));
            Assert.False(retention.RetryDue);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(retention.RetryDue, "a refused removal was never due again");

            // Refused again (the container is still there): the wait doubles.
            await retention.ReleaseAsync([], None);
            Assert.True(await engine.ImageExistsAsync(held, None));
            Assert.False(retention.RetryDue);
            time.Advance(2 * ImageRetention.FirstRetryDelay - TimeSpan.FromMilliseconds(1));
            Assert.False(retention.RetryDue);
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(retention.RetryDue);

            // Nothing holds it now: the retry, with no version stopping, lets it go, and its fetched copy with it.
            await docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true }, None);
            container = null;
            await retention.ReleaseAsync([], None);
            Assert.False(await engine.ImageExistsAsync(held, None), "the node kept an image no container holds any more");
            Assert.Equal([vo.Key, vh.Key], source.Forgotten);
            Assert.Equal((0, 0L), retention.Unused);
            Assert.Equal(2, retention.Removed.Images);
            Assert.False(retention.RetryDue);
        }
        finally
        {
            if (container is not null) await docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true }, None);
            await TestEngine.RemoveTestImagesAsync(engine, force: true, held, other);
        }
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_restarted_node_finds_the_images_it_named_and_lets_go_of_those_it_no_longer_runs(bool records)
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var (old, again) = (await LoadAsync(engine), await LoadAsync(engine));
        var node = "retain-restart-" + Guid.NewGuid().ToString("N");
        var owner = ImageRetention.OwnerOf(node);
        var (vo, va) = (Assignment("old"), Assignment("again"));
        var source = new Loaded(engine, new Dictionary<string, string> { [vo.Key] = old, [va.Key] = again });
        // One directory for every node of a home, as `infra mesh up` gives its nodes.
        using var home = new TempDirectory("im-records");
        var directory = records ? home.Path : null;
        try
        {
            using (var before = new ImageRetention(source, engine, node, 0, recordDirectory: directory))
            {
                await before.EnsureImageAsync(vo, None);
                await before.EnsureImageAsync(va, None);
                // Stopped, not released: a node going down keeps what it ran.
            }

            // Another node of the same engine names nothing of it, and leaves its records alone.
            using (var stranger = new ImageRetention(source, engine, node + "-other", 0, recordDirectory: directory))
                await stranger.ReleaseAsync([], None);
            Assert.True(await engine.ImageExistsAsync(old, None) && await engine.ImageExistsAsync(again, None));
            if (records)
            {
                Assert.Equal(2, Directory.GetFiles(home.Path, owner + ".*").Length);
                // The record of an image the node no longer names (removed by hand), and a write that died: tidied at the restart.
                home.Write($"{owner}.{new string('0', 64)}.json", "{}");
                home.Write($"{owner}.{Hex(again)}.json.{Guid.NewGuid():N}", "{\"name\":");
            }

            // The node again: `again` is placed on it before its first reconcile ends; `old` is not.
            using var after = new ImageRetention(source, engine, node, 0, recordDirectory: directory);
            await after.EnsureImageAsync(va, None);
            await after.ReleaseAsync([], None);
            Assert.False(await engine.ImageExistsAsync(old, None), "an image named by the node's earlier run and unused now was kept");
            Assert.True(await engine.ImageExistsAsync(again, None));
            if (records)
            {
                // Found by the scan, it names the version its record names: the fetched copy goes with it.
                Assert.Equal([vo.Key], source.Forgotten);
                Assert.Equal([$"{owner}.{Hex(again)}.json"], Directory.GetFiles(home.Path).Select(Path.GetFileName));
            }
            else
            {
                // Found by the scan, it names no version of this run: nothing else is dropped with it.
                Assert.Empty(source.Forgotten);
            }
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, old, again);
        }
    }

    private static string Hex(string imageId) => imageId["sha256:".Length..];

    [SkippableFact]
    public async Task A_record_over_its_cap_or_damaged_names_no_version()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var (big, broken) = (await LoadAsync(engine), await LoadAsync(engine));
        var node = "retain-records-" + Guid.NewGuid().ToString("N");
        var owner = ImageRetention.OwnerOf(node);
        var (vb, vd) = (Assignment("big"), Assignment("broken"));
        var source = new Loaded(engine, new Dictionary<string, string> { [vb.Key] = big, [vd.Key] = broken });
        using var home = new TempDirectory("im-records");
        try
        {
            using (var before = new ImageRetention(source, engine, node, 0, recordDirectory: home.Path))
            {
                await before.EnsureImageAsync(vb, None);
                await before.EnsureImageAsync(vd, None);
            }

            // One record grown past the cap (a valid document, padded), one cut short.
            var bigRecord = Path.Combine(home.Path, $"{owner}.{Hex(big)}.json");
            await File.AppendAllTextAsync(bigRecord, new string(' ', ImageRetention.MaxRecordBytes));
            var brokenRecord = Path.Combine(home.Path, $"{owner}.{Hex(broken)}.json");
            await File.WriteAllTextAsync(brokenRecord, (await File.ReadAllTextAsync(brokenRecord))[..10]);

            using var after = new ImageRetention(source, engine, node, 0, recordDirectory: home.Path);
            await after.ReleaseAsync([], None);
            Assert.False(await engine.ImageExistsAsync(big, None) || await engine.ImageExistsAsync(broken, None));
            // Neither is read as a version: nothing is forgotten on their word, and both go with their names.
            Assert.Empty(source.Forgotten);
            Assert.Empty(Directory.GetFiles(home.Path));
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, big, broken);
        }
    }

    [SkippableFact]
    public async Task A_node_lets_go_of_a_versions_image_when_no_gateway_places_it_any_more()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var image = await LoadAsync(engine);
        try
        {
            var manifest = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes($"""
                name: retained-{Guid.NewGuid():N}
                version: 1.0.0
                entrypoint: serve.py
                runtime: python3.10
                protocol: rest
                port: 9000
                resources: {"{"}cpu: 1, memory: 64Mi, gpu: false{"}"}
                input_schema: {"{"}type: object{"}"}
                output_schema: {"{"}type: object{"}"}
                """)).Manifest!;
            var published = new ManifestCache().Get(manifest);
            var assignment = new ModelAssignment(manifest.Name, manifest.Version.ToString(), published.Json, "sha256:" + new string('0', 64), [], null);
            var placed = JsonSerializer.Deserialize<HeartbeatReply>(JsonSerializer.Serialize(new HeartbeatReply([assignment], []), MeshJson.Options), MeshJson.Options)!;
            var source = new Loaded(engine, new Dictionary<string, string> { [assignment.Key] = image });
            var options = new NodeOptions
            {
                NodeId = "retain-agent-" + Guid.NewGuid().ToString("N")[..12], Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 1L << 30, 0),
                UnusedImageBytes = 0, RestartBackoff = TimeSpan.FromSeconds(30), ContainerLabels = new Dictionary<string, string> { ["org.inframind.test"] = "retention" },
            };
            await using var agent = new NodeAgent(options, engine, source);
            await agent.ApplyAsync(placed, None);
            // The image has no server in it: the container fails to start, after the node named the image.
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (source.Calls == 0 || !(await engine.InspectImageAsync(image, None))!.Tags.Contains(ImageRetention.NameOf(options.NodeId, image)))
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(30), "the node never made the image present");
                await Task.Delay(100);
            }

            Assert.Equal(0, Scrape(agent, "inframind_node_images_removed_total"));
            // A container not the node's holds the image when the version stops: the engine refuses its removal.
            using var docker = new DockerClientConfiguration(engine.Endpoint).CreateClient();
            var holder = (await docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = image, Cmd = ["/bin/true"] }, None)).ID;
            try
            {
                await agent.ApplyAsync(new HeartbeatReply([], []), None);
                await agent.ImagesReleased;
                Assert.True(await engine.ImageExistsAsync(image, None));
                Assert.Equal(1, Scrape(agent, "inframind_node_unused_images"));
            }
            finally
            {
                await docker.Containers.RemoveContainerAsync(holder, new ContainerRemoveParameters { Force = true }, None);
            }

            // Later heartbeats (nothing else stops) try again once the back-off passed: the image goes.
            wait.Restart();
            while (await engine.ImageExistsAsync(image, None))
            {
                Assert.True(wait.Elapsed < ImageRetention.FirstRetryDelay + TimeSpan.FromSeconds(30),
                    "the node kept the image of a version no gateway places on it, with no budget for unused images, after the container holding it went");
                await Task.Delay(250);
                await agent.ApplyAsync(new HeartbeatReply([], []), None);
                await agent.ImagesReleased;
            }

            // The operator sees it on the node's /metrics.
            Assert.Equal(1, Scrape(agent, "inframind_node_images_removed_total"));
            Assert.True(Scrape(agent, "inframind_node_image_bytes_removed_total") > 0);
            Assert.Equal(0, Scrape(agent, "inframind_node_unused_images"));
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, image);
        }
    }
}

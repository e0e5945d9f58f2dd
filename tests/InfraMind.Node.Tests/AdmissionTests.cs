using System.Text;
using System.Text.Json;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Node.Tests;

/// <summary>
/// A node reads a placed manifest through the process's <see cref="ManifestCache"/>: once per content, and not at all
/// when a gateway of the same process has read it. A node too small for the model refuses it right after reading it,
/// so no container is involved; the engine is a real one all the same.
/// </summary>
public sealed class AdmissionTests
{
    private static ModelManifest Manifest(string version = "1.0.0") => ManifestReader.ValidateContent(Encoding.UTF8.GetBytes($$$"""
        name: echo
        version: {{{version}}}
        entrypoint: serve.py
        runtime: python3.10
        protocol: rest
        port: 9000
        resources: {cpu: 1, memory: 256Mi, gpu: false}
        input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
        output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
        """)).Manifest!;

    /// <summary>A heartbeat reply as a node receives it: serialised by the gateway, parsed here into new objects.</summary>
    private static HeartbeatReply OverTheWire(params PublishedManifest[] placed)
    {
        var reply = new HeartbeatReply([.. placed.Select(p => new ModelAssignment(p.Manifest.Name, p.Manifest.Version.ToString(), p.Json, "sha256:" + new string('0', 64), [], null))], []);
        return JsonSerializer.Deserialize<HeartbeatReply>(JsonSerializer.Serialize(reply, MeshJson.Options), MeshJson.Options)!;
    }

    private static NodeAgent SmallNode(ContainerEngine engine, ManifestCache cache)
    {
        var options = new NodeOptions { NodeId = "small", Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 64L << 20, 0) };
        return new NodeAgent(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System, null, cache);
    }

    [SkippableFact]
    public async Task A_node_beside_its_gateway_parses_nothing_and_a_node_apart_parses_once()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var shared = new ManifestCache();
        // The gateway's catalog published the typed manifest it read from model.yaml: no parse.
        var published = shared.Get(Manifest());
        await using (var beside = SmallNode(engine, shared))
        {
            await beside.ApplyAsync(OverTheWire(published), CancellationToken.None);
            var refusal = Assert.Single(beside.Reports());
            Assert.Equal(ModelState.Refused, refusal.State);
            Assert.Same(Verdict.Refused, refusal.Verdict);
            Assert.Contains("256Mi memory", refusal.Detail, StringComparison.Ordinal);
            Assert.Equal(0, shared.Parses);
        }

        var own = new ManifestCache();
        await using var apart = SmallNode(engine, own);
        for (var beat = 0; beat < 3; beat++)
        {
            // Placed, withdrawn, placed again: read once.
            await apart.ApplyAsync(OverTheWire(published), CancellationToken.None);
            Assert.Single(apart.Reports());
            await apart.ApplyAsync(new HeartbeatReply([], []), CancellationToken.None);
            Assert.Empty(apart.Reports());
        }

        Assert.Equal(1, own.Parses);
    }

    [SkippableFact]
    public async Task Past_its_count_of_models_a_node_refuses_whatever_its_free_resources()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var options = new NodeOptions { NodeId = "one-model", Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(8000, 8L << 30, 0), MaxModels = 1 };
        Assert.Empty(options.Validate());
        Assert.Contains((options with { MaxModels = 0 }).Validate(), e => e.Contains("1 to 1024 models", StringComparison.Ordinal));
        var cache = new ManifestCache();
        await using var node = new NodeAgent(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string>()), TimeProvider.System, null, cache);
        await node.ApplyAsync(OverTheWire(cache.Get(Manifest("1.0.0")), cache.Get(Manifest("1.0.1"))), CancellationToken.None);
        // One of the two is admitted (its image cannot be found here, which does not matter), the other refused.
        Assert.Equal(2, node.Reports().Count);
        var refusal = Assert.Single(node.Reports(), r => r.State == ModelState.Refused);
        Assert.Contains($"{MeshErrorCodes.NodeRefused.Value}: runs 1 models already, the most this node takes (--max-models 1)", refusal.Detail, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task An_invalid_placed_manifest_is_refused_with_its_reason()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        await using var node = SmallNode(engine, new ManifestCache());
        var json = Manifest().ToJson();
        json["port"] = "ninety";
        await node.ApplyAsync(new HeartbeatReply([new ModelAssignment("echo", "1.0.0", json, "sha256:" + new string('0', 64), [], null)], []), CancellationToken.None);
        var refusal = Assert.Single(node.Reports());
        Assert.Equal(ModelState.Refused, refusal.State);
        Assert.Contains("the published manifest of echo@1.0.0 is invalid", refusal.Detail, StringComparison.Ordinal);
    }
}

using System.Text.Json.Nodes;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Merkle;
using InfraMind.Registry.Models;
using InfraMind.Serving;
using InfraMind.Signing;
using InfraMind.Storage;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Node.Tests;

/// <summary>
/// Each link of a node's trust chain (#19 §2), against the real registry server over HTTP: the untampered entry loads
/// its image into the real engine (so a refusal below is the link's doing, not a broken setup), and every tampered
/// link is refused before anything is loaded — a signature by another key, a checkpoint of another registry, a
/// tampered inclusion proof, a manifest or image digest other than the signed one, content whose digest differs, a
/// damaged blob, a missing entry, an assignment with no entry.
/// </summary>
public sealed class TrustChainTests : IAsyncLifetime, IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _dir = new("im-node-trust");
    private readonly SigningKey _alice = SigningKey.CreateEphemeral("alice");
    private readonly SigningKey _mallory = SigningKey.CreateEphemeral("mallory");
    private RegistryServer _server = null!;
    private HttpClient _http = null!;
    private RegistryClient _client = null!;
    private PublicKey _registryKey = null!;
    private LocalContentStore _store = null!;
    private ImageArchive _image = null!;
    private ImageArchive _other = null!;
    private int _versions;

    public async Task InitializeAsync()
    {
        _server = await RegistryServer.StartAsync(new RegistryServerOptions(_dir.Combine("registry"), "http://127.0.0.1:0"), None);
        _http = new HttpClient { BaseAddress = _server.Address };
        _client = new RegistryClient(_http);
        _registryKey = await _client.GetKeyAsync(None);
        _store = new LocalContentStore(_dir.Combine("store"));
        _image = await SmallImage.ImportAsync(_store, "trust-" + Guid.NewGuid().ToString("N"), tag: "im-trust/model:1.0");
        _other = await SmallImage.ImportAsync(_store, "other-" + Guid.NewGuid().ToString("N"), tag: "im-trust/other:1.0");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        _http.Dispose();
        _alice.Dispose();
        _mallory.Dispose();
        _dir.Dispose();
    }

    /// <summary>
    /// Publishes the summarizer example under a new version (versions are immutable) over HTTP and returns the
    /// assignment a gateway would send for it.
    /// </summary>
    private async Task<(ModelAssignment Assignment, PublishStatement Statement)> PublishAsync(string imageDigest, string reference)
    {
        var package = _dir.Combine($"package-{++_versions}");
        TempDirectory.Copy(TestEngine.ExampleDir("summarizer-v1"), package);
        var yaml = Path.Combine(package, "model.yaml");
        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("version: 0.4.2", $"version: 1.0.{_versions}", StringComparison.Ordinal));
        var validation = ManifestReader.Validate(package);
        var manifest = validation.Manifest!;
        var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), imageDigest, await File.ReadAllBytesAsync(validation.ManifestPath),
            [new PublishedReference(reference, "local")], _alice.PublicKey, TimeProvider.System, manifest.ToJson());
        var published = await _client.PublishAsync(Dsse.SignPublish(statement, _alice), None);
        return (new ModelAssignment(manifest.Name, manifest.Version.ToString(), manifest.ToJson(), imageDigest, [reference], published.Bundle.Index), statement);
    }

    private Task<(ModelAssignment Assignment, PublishStatement Statement)> PublishHonestAsync() =>
        PublishAsync(_image.ManifestDigest.Value, "local://" + _image.ManifestDigest.Value);

    private VerifiedImageSource Source(ContainerEngine engine, IRegistryService? registry = null, PublicKey? pinned = null) =>
        new(registry ?? _client, pinned ?? _registryKey, new ContentResolver(_store), engine);

    private static async Task<string> RefusedAsync(VerifiedImageSource source, ModelAssignment assignment, ContainerEngine engine, string imageId)
    {
        var e = await Assert.ThrowsAsync<ModelImageException>(() => source.EnsureImageAsync(assignment, None));
        Assert.False(await engine.ImageExistsAsync(imageId, None), "a refused assignment loaded its image");
        return e.Message;
    }

    [SkippableFact]
    public async Task The_untampered_entry_loads_and_every_tampered_link_is_refused_before_anything_is_loaded()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var imageId = _image.ConfigDigest.Value;
        await TestEngine.RemoveImageAsync(engine, imageId);
        // Two more entries first, so the inclusion proof of the one under test has hashes to tamper with.
        await PublishAsync(_other.ManifestDigest.Value, "local://" + _other.ManifestDigest.Value);
        var (assignment, _) = await PublishHonestAsync();
        Assert.True(assignment.RegistryIndex >= 1);
        try
        {
            // The same statement signed by another key: the publisher it names did not sign it.
            var forged = new HostileRegistry(_client, b => b with { Envelope = Dsse.Sign(b.Envelope.Payload.Span, b.Envelope.PayloadType, _mallory) });
            Assert.Contains("signature", await RefusedAsync(Source(engine, forged), assignment, engine, imageId), StringComparison.Ordinal);

            // A checkpoint signed by another registry than the one this node pinned.
            using (var otherRegistry = SigningKey.CreateEphemeral("other-registry"))
            {
                Assert.Contains("checkpoint", await RefusedAsync(Source(engine, pinned: otherRegistry.PublicKey), assignment, engine, imageId), StringComparison.Ordinal);
            }

            // An inclusion proof with one hash changed: the entry is not proven to be in the signed tree.
            var tampered = new HostileRegistry(_client, b =>
            {
                var hashes = b.InclusionProof.Hashes.Select(h => h.ToArray()).ToList();
                Assert.NotEmpty(hashes);
                hashes[0][0] ^= 0x01;
                return b with { InclusionProof = b.InclusionProof with { Hashes = hashes.Select(h => (ReadOnlyMemory<byte>)h).ToList() } };
            });
            Assert.Contains("inclusion", await RefusedAsync(Source(engine, tampered), assignment, engine, imageId), StringComparison.Ordinal);

            // The gateway sends another manifest, or another image digest, than the publisher signed.
            var manifest = (JsonObject)assignment.Manifest.DeepClone();
            manifest["description"] = "not what was signed";
            Assert.Contains("not the one its publisher signed", await RefusedAsync(Source(engine), assignment with { Manifest = manifest }, engine, imageId), StringComparison.Ordinal);
            Assert.Contains("does not verify", await RefusedAsync(Source(engine), assignment with { ImageDigest = _other.ManifestDigest.Value }, engine, imageId), StringComparison.Ordinal);

            // A missing entry, and an assignment that names none.
            Assert.Contains("could not be fetched", await RefusedAsync(Source(engine), assignment with { RegistryIndex = 999 }, engine, imageId), StringComparison.Ordinal);
            Assert.Contains("no registry entry", await RefusedAsync(Source(engine), assignment with { RegistryIndex = null }, engine, imageId), StringComparison.Ordinal);

            // The positive control: the same source, untampered, loads the very image.
            Assert.Equal(imageId, await Source(engine).EnsureImageAsync(assignment, None));
            Assert.True(await engine.ImageExistsAsync(imageId, None));
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, imageId);
        }
    }

    /// <summary>
    /// A stranger's version end to end on a node that keeps no unused image: published with an oci:// reference to the
    /// real docker-registry, placed, verified, fetched into the node's own store and loaded (nameless) into the real
    /// engine, then no longer placed: the node lets the image go from the engine and its fetched copy from its store.
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_lets_go_of_a_strangers_image_and_its_fetched_copy_once_it_no_longer_runs_the_version(bool restarted)
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        await using var peer = await RegistryPeer.StartAsync();
        var image = await SmallImage.ImportAsync(_store, "stranger-" + Guid.NewGuid().ToString("N"), tag: "");
        var pushed = await new ContentResolver(_store).PushAsync(image, ContentReference.ParseTarget($"oci://{peer.HostPort}/stranger/model"), null, None);
        var reference = $"oci://{peer.HostPort}/stranger/model@{image.ManifestDigest.Value}";
        Assert.Equal(image.ManifestDigest, pushed.ManifestDigest);
        var (assignment, _) = await PublishAsync(image.ManifestDigest.Value, reference);
        var nodeStore = new LocalContentStore(_dir.Combine("node-store"));
        var imageId = image.ConfigDigest.Value;
        var options = new NodeOptions
        {
            NodeId = "trust-" + Guid.NewGuid().ToString("N")[..12], Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(8000, 8L << 30, 0),
            UnusedImageBytes = 0, RestartBackoff = TimeSpan.FromSeconds(30), ContainerLabels = new Dictionary<string, string> { ["org.inframind.test"] = "trust-retention" },
            ImageRecordDirectory = _dir.Combine("node-images"),
        };
        NodeAgent? agent = null;
        try
        {
            agent = new NodeAgent(options, engine, new VerifiedImageSource(_client, _registryKey, new ContentResolver(nodeStore), engine));
            await agent.ApplyAsync(new HeartbeatReply([assignment], []), None);
            // The image holds no server: its container fails to start, after the node fetched, loaded and named the image.
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (await engine.InspectImageAsync(imageId, None) is not { } loaded || !loaded.Tags.Contains(ImageRetention.NameOf(options.NodeId, imageId)))
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(60), "the node never loaded the version's image: " + string.Join("; ", agent.Reports().Select(r => r.Detail)));
                await Task.Delay(100);
            }

            Assert.Equal([ImageRetention.NameOf(options.NodeId, imageId)], (await engine.InspectImageAsync(imageId, None))!.Tags);
            Assert.NotNull(await nodeStore.FindAsync(image.ManifestDigest, None));
            if (restarted)
            {
                // The node goes down (keeping what it ran) and comes back: its first reconcile finds the image by its name,
                // and the version it was run from by the node's record of it.
                await agent.DisposeAsync();
                agent = null;
                Assert.True(await engine.ImageExistsAsync(imageId, None));
                Assert.Single(Directory.GetFiles(options.ImageRecordDirectory));
                agent = new NodeAgent(options, engine, new VerifiedImageSource(_client, _registryKey, new ContentResolver(nodeStore), engine));
            }

            // As heartbeats do: a removal the engine refused for a moment (a container of the version still being removed)
            // is tried again at a later one.
            var released = System.Diagnostics.Stopwatch.StartNew();
            do
            {
                await agent.ApplyAsync(new HeartbeatReply([], []), None);
                await agent.ImagesReleased;
                if (!await engine.ImageExistsAsync(imageId, None)) break;
                await Task.Delay(250);
            }
            while (released.Elapsed < ImageRetention.FirstRetryDelay + TimeSpan.FromSeconds(30));

            Assert.False(await engine.ImageExistsAsync(imageId, None), "the engine kept the image of a version the node no longer runs; containers of it: " + await ContainersOfAsync(engine, imageId));
            Assert.Null(await nodeStore.FindAsync(image.ManifestDigest, None));
            Assert.All(image.Blobs, b => Assert.False(File.Exists(nodeStore.BlobPath(b.Digest)), $"{b.Digest} stayed in the node's store"));
            // The publisher's own store is not the node's: its copy is untouched.
            Assert.NotNull(await _store.FindAsync(image.ManifestDigest, None));
            Assert.Empty(Directory.GetFiles(options.ImageRecordDirectory));
        }
        finally
        {
            if (agent is not null) await agent.DisposeAsync();
            await TestEngine.RemoveTestImagesAsync(engine, force: true, imageId);
        }
    }

    /// <summary>What holds an image (a failure's message): each container made from it, with its state and labels.</summary>
    private static async Task<string> ContainersOfAsync(ContainerEngine engine, string imageId)
    {
        using var docker = new Docker.DotNet.DockerClientConfiguration(engine.Endpoint).CreateClient();
        var all = await docker.Containers.ListContainersAsync(new Docker.DotNet.Models.ContainersListParameters { All = true }, None);
        var of = all.Where(c => c.ImageID == imageId).Select(c => $"{c.ID[..12]} {c.State} {c.Status} [{string.Join(", ", c.Labels.Select(l => $"{l.Key}={l.Value}"))}]").ToList();
        return of.Count == 0 ? "none" : string.Join("; ", of);
    }

    /// <summary>
    /// When the node let a version's image go (ImageRetention), the store's copy goes too if it is one: every
    /// reference of the version remote. A local:// reference makes the store the source itself, so it stays.
    /// </summary>
    [SkippableFact]
    public async Task The_stores_copy_of_a_let_go_image_goes_only_when_it_was_fetched_from_remote_references()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var copy = await SmallImage.ImportAsync(_store, "copy-" + Guid.NewGuid().ToString("N"), tag: "");
        var digest = copy.ManifestDigest.Value;
        var local = new ModelAssignment("m", "1.0.0", new JsonObject(), digest, ["local://" + digest], 1);
        var remote = local with { ContentReferences = [$"oci://127.0.0.1:5000/m@{digest}"] };

        await Source(engine).ForgetAsync(local, None);
        await Source(engine).ForgetAsync(remote with { ContentReferences = [.. remote.ContentReferences, "local://" + digest] }, None);
        Assert.NotNull(await _store.FindAsync(copy.ManifestDigest, None));

        await Source(engine).ForgetAsync(remote, None);
        Assert.Null(await _store.FindAsync(copy.ManifestDigest, None));
        Assert.False(File.Exists(_store.BlobPath(copy.ManifestDigest)));
    }

    [SkippableFact]
    public async Task Content_other_than_the_signed_digest_and_a_damaged_blob_are_refused()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var imageId = _image.ConfigDigest.Value;
        var otherId = _other.ConfigDigest.Value;
        await TestEngine.RemoveImageAsync(engine, imageId);
        await TestEngine.RemoveImageAsync(engine, otherId);
        try
        {
            // Honestly signed, but the reference holds another image than the digest the statement signs.
            var (mismatch, _) = await PublishAsync(_image.ManifestDigest.Value, "local://" + _other.ManifestDigest.Value);
            var message = await RefusedAsync(Source(engine), mismatch, engine, imageId);
            Assert.Contains($"holds {_other.ManifestDigest.Value}, not the signed {_image.ManifestDigest.Value}", message, StringComparison.Ordinal);
            Assert.False(await engine.ImageExistsAsync(otherId, None), "the other image was loaded");

            // The signed image, one of its layers damaged in the node's store: the bytes no longer match their digest.
            var (honest, _) = await PublishHonestAsync();
            SmallImage.FlipByte(_store.BlobPath(_image.LayerDigests[^1]));
            File.SetLastWriteTimeUtc(_store.BlobPath(_image.LayerDigests[^1]), DateTime.UtcNow.AddSeconds(5));
            await RefusedAsync(Source(engine), honest, engine, imageId);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, imageId, otherId);
        }
    }

    /// <summary>A registry (or a machine between it and the node) that alters the entries it serves.</summary>
    private sealed class HostileRegistry(IRegistryService inner, Func<EntryBundle, EntryBundle> tamper) : IRegistryService
    {
        public Task<PublishResponse> PublishAsync(DsseEnvelope envelope, CancellationToken cancellationToken) => inner.PublishAsync(envelope, cancellationToken);

        public async Task<EntryBundle> GetModelVersionAsync(string name, string version, CancellationToken cancellationToken) =>
            tamper(await inner.GetModelVersionAsync(name, version, cancellationToken));

        public async Task<EntryBundle> GetEntryAsync(long index, CancellationToken cancellationToken) => tamper(await inner.GetEntryAsync(index, cancellationToken));

        public Task<(long Size, IReadOnlyList<LogEntrySummary> Entries)> ListEntriesAsync(long start, int limit, CancellationToken cancellationToken) =>
            inner.ListEntriesAsync(start, limit, cancellationToken);

        public Task<PublicKey> GetKeyAsync(CancellationToken cancellationToken) => inner.GetKeyAsync(cancellationToken);

        public Task<string> GetCheckpointAsync(CancellationToken cancellationToken) => inner.GetCheckpointAsync(cancellationToken);

        public Task<ConsistencyProof> GetConsistencyProofAsync(long fromSize, long toSize, CancellationToken cancellationToken) =>
            inner.GetConsistencyProofAsync(fromSize, toSize, cancellationToken);
    }
}

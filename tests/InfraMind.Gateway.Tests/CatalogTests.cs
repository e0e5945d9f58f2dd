using System.Text;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Registry;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Serving;
using InfraMind.Signing;
using Semver;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The catalog hands the gateway typed, validated manifests, parsed once per content: a real registry (SQLite in a
/// temporary directory) with signed entries, read by the gateway's refresh loop many times over.
/// </summary>
public sealed class CatalogTests : IAsyncLifetime
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("im-gw-catalog-");
    private readonly SigningKey _publisher = SigningKey.CreateEphemeral("publisher");
    private ModelRegistry _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await ModelRegistry.OpenAsync(_dir.FullName, TimeProvider.System, new ManifestAdmission(), null, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        _publisher.Dispose();
        _dir.Delete(recursive: true);
    }

    private static string Yaml(string name, string version) => $$$"""
        name: {{{name}}}
        version: {{{version}}}
        entrypoint: serve.py
        runtime: python3.10
        protocol: rest
        port: 9000
        resources: {cpu: 1, memory: 256Mi, gpu: false}
        input_schema: {type: object, properties: {text: {type: string}}, required: [text]}
        output_schema: {type: object, properties: {summary: {type: string}}, required: [summary]}
        """;

    /// <summary>Publishes like `infra publish`: model.yaml bytes, the resolved manifest, signed, logged.</summary>
    private async Task PublishAsync(string name, string version, Func<ModelManifest, System.Text.Json.Nodes.JsonObject>? resolved = null)
    {
        var bytes = Encoding.UTF8.GetBytes(Yaml(name, version));
        var manifest = ManifestReader.ValidateContent(bytes).Manifest!;
        var image = "sha256:" + new string('a', 64);
        var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), image, bytes,
            [new PublishedReference("local://" + image, "local")], _publisher.PublicKey, TimeProvider.System, (resolved ?? (m => m.ToJson()))(manifest));
        await _registry.PublishAsync(Dsse.SignPublish(statement, _publisher), CancellationToken.None);
    }

    [Fact]
    public async Task Each_entrys_manifest_is_parsed_once_however_often_the_gateway_refreshes()
    {
        await PublishAsync("echo", "1.0.0");
        var cache = new ManifestCache();
        using var source = new LogModelSource(new LocalRegistryService(_registry), _registry.PublicKey);
        var catalog = new CountingCatalog(new VerifiedModelCatalog(source, null, cache));
        await using var gateway = await GatewayHost.StartAsync(new GatewayOptions { CatalogRefresh = TimeSpan.FromMilliseconds(20) }, catalog, CancellationToken.None);
        var first = Assert.Single(gateway.Mesh.Models);
        Assert.Equal(1, cache.Parses);

        await WaitAsync(() => catalog.Reads >= 10, "ten catalog refreshes");
        // Nothing new: the mesh was not even given the versions again.
        Assert.Same(first, Assert.Single(gateway.Mesh.Models));
        Assert.Equal(1, cache.Parses);

        // A new version is parsed once too; the old one is not parsed again.
        await PublishAsync("echo", "1.1.0");
        await WaitAsync(() => gateway.Mesh.Models.Count == 2, "the new version to be served");
        var reads = catalog.Reads;
        await WaitAsync(() => catalog.Reads >= reads + 10, "ten more refreshes");
        Assert.Equal(2, cache.Parses);
        Assert.Same(first.Manifest, gateway.Mesh.Models.Single(m => m.Published.Version.ToString() == "1.0.0").Manifest);
    }

    [Fact]
    public async Task An_entry_whose_manifest_is_not_the_published_versions_is_not_served()
    {
        // Signed and logged by a registry that admits anything: the catalog itself checks what it serves.
        await _registry.DisposeAsync();
        _registry = await ModelRegistry.OpenAsync(Path.Combine(_dir.FullName, "lax"), TimeProvider.System, null, null, CancellationToken.None);
        await PublishAsync("good", "1.0.0");
        await PublishAsync("liar", "1.0.0", m =>
        {
            // Another model's manifest under this entry's name and digest.
            var other = ManifestReader.ValidateContent(Encoding.UTF8.GetBytes(Yaml("other", "1.0.0"))).Manifest!.ToJson();
            other["manifestDigest"] = m.ManifestDigest;
            return other;
        });
        await PublishAsync("broken", "1.0.0", m =>
        {
            var json = m.ToJson();
            json["port"] = "ninety";
            return json;
        });
        using var source = new LogModelSource(new LocalRegistryService(_registry), _registry.PublicKey);
        var catalog = new VerifiedModelCatalog(source, null, new ManifestCache());
        var served = await catalog.GetModelsAsync(CancellationToken.None);
        Assert.Equal(["good"], served.Select(m => m.Name));
        Assert.Equal(SemVersion.Parse("1.0.0"), served[0].Version);
        Assert.Equal(3, (await new LocalRegistryService(_registry).ListEntriesAsync(0, 10, CancellationToken.None)).Size);
    }

    [Fact]
    public async Task A_chains_versions_are_made_once_however_many_there_are_and_however_often_they_are_read()
    {
        // A chain's follower hands a new list of new records on every read. With more versions than the manifest cache
        // holds (8 here, 256 in a gateway), every refresh used to parse every manifest again: 300 more per read.
        var versions = Enumerable.Range(0, 300).Select(i => Listed($"m{i:D3}", "1.0.0", i)).ToList();
        var source = new ListSource { Versions = versions };
        var cache = new ManifestCache(capacity: 8);
        var catalog = new VerifiedModelCatalog(source, null, cache);
        var first = await catalog.GetModelsAsync(CancellationToken.None);
        Assert.Equal(300, first.Count);
        Assert.Equal(300, cache.Parses);

        source.Versions = [.. versions.Select(v => v with { })];
        Assert.Same(first, await catalog.GetModelsAsync(CancellationToken.None));
        Assert.Equal(300, cache.Parses);

        // A version yanked (or its block replaced) leaves; one published since is made, and only it.
        source.Versions = [.. versions.Skip(1), Listed("m300", "1.0.0", 300)];
        var now = await catalog.GetModelsAsync(CancellationToken.None);
        Assert.Equal(300, now.Count);
        Assert.DoesNotContain(now, m => m.Name == "m000");
        Assert.Contains(now, m => m.Name == "m300");
        Assert.Equal(301, cache.Parses);
        Assert.Same(first.Single(m => m.Name == "m001"), now.Single(m => m.Name == "m001"));

        // The same name and version in another record (a block replaced, the version included again) is made anew.
        source.Versions = [.. versions.Skip(1).Select(v => v.Name == "m001" ? v with { Origin = "block 9999 (transaction 0xabc)" } : v), Listed("m300", "1.0.0", 300)];
        var again = await catalog.GetModelsAsync(CancellationToken.None);
        Assert.NotSame(now, again);
        Assert.NotSame(now.Single(m => m.Name == "m001"), again.Single(m => m.Name == "m001"));
    }

    /// <summary>A version as a chain's follower lists it (statement signed by the publisher; the origin names its block).</summary>
    private VerifiedModelVersion Listed(string name, string version, int block)
    {
        var bytes = Encoding.UTF8.GetBytes(Yaml(name, version));
        var manifest = ManifestReader.ValidateContent(bytes).Manifest!;
        var image = "sha256:" + new string('a', 64);
        var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), image, bytes,
            [new PublishedReference("local://" + image, "local")], _publisher.PublicKey, TimeProvider.System, manifest.ToJson());
        return new VerifiedModelVersion(name, version, statement, $"block {block} (transaction 0x{block:x})", null);
    }

    /// <summary>A source that answers a new list on every read, as <see cref="ChainModelSource"/> does.</summary>
    private sealed class ListSource : IVerifiedModelSource
    {
        public IReadOnlyList<VerifiedModelVersion> Versions { get; set; } = [];

        public Task<IReadOnlyList<VerifiedModelVersion>> GetServableAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<VerifiedModelVersion>>([.. Versions]);

        public Task<VerifiedModelVersion> GetVerifiedAsync(string name, string version, ExpectedPublish? expected, CancellationToken cancellationToken) =>
            throw new NotSupportedException("the catalog lists; nodes verify");
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>The catalog as the gateway sees it, counting how often the gateway reads it.</summary>
    private sealed class CountingCatalog(IModelCatalog inner) : IModelCatalog
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public event EventHandler? Changed
        {
            add => inner.Changed += value;
            remove => inner.Changed -= value;
        }

        public Task<IReadOnlyList<PublishedModel>> GetModelsAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return inner.GetModelsAsync(cancellationToken);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;
using InfraMind.Containers;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Builds examples/summarizer-v1 under a tag of this test run on first use, and removes that tag afterwards. Where no
/// engine answers, the tests that need the image fail or are skipped; the others run.
/// </summary>
public sealed class PushImageFixture : IAsyncLifetime
{
    public PushImageFixture()
    {
        Engine = new SharedPeer<ContainerEngine>(
            async () =>
            {
                var engine = await TestEngine.ConnectAsync();
                await engine.BuildImageAsync(TestEngine.ExampleDir("summarizer-v1"), Tag, new Dictionary<string, string> { ["org.inframind.test"] = "push" }, null, CancellationToken.None);
                return engine;
            },
            async engine =>
            {
                await TestEngine.RemoveTestImagesAsync(engine, Tag);
                engine.Dispose();
            });
    }

    public SharedPeer<ContainerEngine> Engine { get; }

    public string Tag { get; } = $"inframind-test/push-summarizer:{Guid.NewGuid():N}";

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => Engine.DisposeAsync().AsTask();
}

/// <summary>
/// `infra push` / `infra pull` as a user runs them, against the real engine and real peers, with interop both ways:
/// what infra pushes, docker pulls; what docker pushes, infra pulls, verifies and loads; the loaded image serves. The
/// round trips remove the pushed image from the engine by id first, so what is loaded, checked and run can only be
/// what came back from the peer.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class PushPullTests(PushImageFixture image, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<PushImageFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Infra_push_to_a_registry_is_what_docker_pulls_by_digest()
    {
        await image.Engine.GetAsync();
        await using var registry = await RegistryPeer.StartAsync();
        var watch = Stopwatch.StartNew();
        var pushed = await _cli.RunJsonAsync(0, "push", "--image", image.Tag, "--to", $"oci://{registry.HostPort}/models/summarizer", "--json");
        log.WriteLine($"infra push --to oci (export + upload {pushed.GetProperty("size").GetInt64()} B): {watch.Elapsed.TotalSeconds:0.00} s");
        string reference = pushed.GetProperty("reference").GetString()!;
        string digest = pushed.GetProperty("imageDigest").GetString()!;
        Assert.Equal($"oci://{registry.HostPort}/models/summarizer:{image.Tag.Split(':')[1]}@{digest}", reference);
        Assert.True(pushed.GetProperty("size").GetInt64() > 1_000_000);

        string dockerName = $"{registry.HostPort}/models/summarizer@{digest}";
        var (code, output) = await DockerCli.RunAsync("pull", dockerName);
        try
        {
            Assert.True(code == 0, output);
            Assert.Contains($"Digest: {digest}", output);
            // Same config digest = same image id: docker got exactly the image the engine built.
            Assert.Equal((await DockerCli.RunAsync("image", "inspect", "--format", "{{.Id}}", image.Tag)).Output.Trim(),
                (await DockerCli.RunAsync("image", "inspect", "--format", "{{.Id}}", dockerName)).Output.Trim());
        }
        finally
        {
            await DockerCli.RunAsync("rmi", dockerName);
        }

        // Pushing again neither exports (same image id as stored) nor uploads a blob, and gives the same reference.
        var (againCode, againOut, againErr) = await _cli.RunAsync("push", "--image", image.Tag, "--to", $"oci://{registry.HostPort}/models/summarizer", "--json");
        Assert.Equal(0, againCode);
        Assert.Equal(reference, System.Text.Json.JsonDocument.Parse(againOut).RootElement.GetProperty("reference").GetString());
        Assert.Contains($"export {image.Tag}: already there", againErr);
        Assert.DoesNotContain("/s)", againErr);
    }

    [SkippableFact]
    public async Task What_docker_pushed_infra_pulls_verifies_loads_and_the_model_answers()
    {
        var engine = await image.Engine.GetAsync();
        await using var registry = await RegistryPeer.StartAsync();
        string name = $"{registry.HostPort}/dockerpushed:1";
        Assert.Equal(0, (await DockerCli.RunAsync("tag", image.Tag, name)).Code);
        try
        {
            var (code, output) = await DockerCli.RunAsync("push", name);
            Assert.True(code == 0, output);
            await DockerCli.RunAsync("rmi", name);

            var watch = Stopwatch.StartNew();
            var pulled = await _cli.RunJsonAsync(0, "pull", "oci://" + name, "--load", "--json");
            log.WriteLine($"infra pull of a docker-pushed image --load (gzip layers): {watch.Elapsed.TotalSeconds:0.00} s");
            Assert.Equal(name, pulled.GetProperty("loaded")[0].GetString());
            Assert.Contains(pulled.GetProperty("imageDigest").GetString()!, output);
            Assert.Equal(ImageId(image.Tag), ImageId(name));
            await AssertServesAsync(engine, name);
        }
        finally
        {
            await DockerCli.RunAsync("rmi", name);
        }
    }

    [SkippableFact]
    public async Task Push_to_nginx_then_the_image_removed_by_id_comes_back_loaded_and_tested_and_a_tampered_file_is_refused()
    {
        using var engine = await TestEngine.ConnectAsync();
        await using var nginx = await NginxPeer.StartAsync();
        var package = await BuildUniqueAsync("rt-http");
        try
        {
            var watch = Stopwatch.StartNew();
            var pushed = await _cli.RunJsonAsync(0, "push", package.Dir, "--to", $"http://{nginx.HostPort}/images/", "--json");
            log.WriteLine($"infra push --to http (export + PUT {pushed.GetProperty("size").GetInt64()} B): {watch.Elapsed.TotalSeconds:0.00} s");
            string reference = pushed.GetProperty("reference").GetString()!;
            string digest = pushed.GetProperty("imageDigest").GetString()!;
            Assert.Matches($@"^http://{nginx.HostPort}/images/{digest[7..]}\.tar#sha256=[0-9a-f]{{64}}$", reference);

            await RoundTripAsync(engine, package, reference, null);

            var file = nginx.FilePath(new Uri(reference).AbsolutePath);
            FlipByte(file);
            using var victim = new CliRunner();
            var (code, _, err) = await victim.RunAsync("pull", reference);
            Assert.Equal(1, code);
            Assert.Contains("IM4002", err);
            Assert.Contains("expected sha256:" + reference[^64..], err);
            Assert.Contains("found sha256:", err);
            Assert.DoesNotContain("   at ", err);
            AssertStoredNothing(victim);
        }
        finally
        {
            await RemovePackageImageAsync(package);
        }
    }

    [SkippableFact]
    public async Task Push_to_ipfs_then_the_image_removed_by_id_comes_back_loaded_and_tested_and_a_tampered_block_is_refused()
    {
        using var engine = await TestEngine.ConnectAsync();
        await using var ipfs = await IpfsPeer.StartAsync();
        var package = await BuildUniqueAsync("rt-ipfs");
        try
        {
            var watch = Stopwatch.StartNew();
            var pushed = await _cli.RunJsonAsync(0, "push", package.Dir, "--to", $"ipfs://{ipfs.Api.Authority}", "--json");
            log.WriteLine($"infra push --to ipfs (export + add, {pushed.GetProperty("size").GetInt64()} B): {watch.Elapsed.TotalSeconds:0.00} s");
            string reference = pushed.GetProperty("reference").GetString()!;
            Assert.StartsWith("ipfs://Qm", reference);

            await RoundTripAsync(engine, package, reference, runner => runner.Environment["INFRAMIND_IPFS_API"] = ipfs.Api.ToString());

            // Bytes changed in the real node's own repository: one leaf block of the image, flipped where the node
            // does not look (inside the block's data), so the node serves it as if nothing happened.
            var block = new DirectoryInfo(ipfs.BlocksDirectory).EnumerateFiles("*.data", SearchOption.AllDirectories).MaxBy(f => f.Length)!;
            Assert.True(block.Length > 200_000, $"the largest block is {block.Length} B: not a leaf of the image");
            FlipByte(block.FullName);
            // Gone from the engine again, so that "not loaded" below is the refused pull's doing.
            Assert.Equal(0, (await DockerCli.RunAsync("rmi", "--force", package.Id)).Code);
            using var victim = new CliRunner();
            victim.Environment["INFRAMIND_IPFS_API"] = ipfs.Api.ToString();
            var (code, _, err) = await victim.RunAsync("pull", reference, "--load");
            Assert.True(code == 1, $"exit {code}: {err}");
            Assert.Contains("error IM4102", err);
            Assert.Contains(reference["ipfs://".Length..], err);
            Assert.DoesNotContain("   at ", err);
            AssertStoredNothing(victim);
            Assert.NotEqual(0, (await DockerCli.RunAsync("image", "inspect", package.Tag)).Code);
        }
        finally
        {
            await RemovePackageImageAsync(package);
        }
    }

    [SkippableFact]
    public async Task Push_to_local_and_pull_by_local_reference()
    {
        await image.Engine.GetAsync();
        var pushed = await _cli.RunJsonAsync(0, "push", "--image", image.Tag, "--json");
        string digest = pushed.GetProperty("imageDigest").GetString()!;
        Assert.Equal("local://" + digest, pushed.GetProperty("reference").GetString());
        var pulled = await _cli.RunJsonAsync(0, "pull", "local://" + image.Tag, "--json");
        Assert.Equal(digest, pulled.GetProperty("imageDigest").GetString());
    }

    [SkippableFact]
    public async Task Push_of_a_package_directory_pushes_its_name_version_image()
    {
        var engine = await image.Engine.GetAsync();
        var dir = Path.Combine(_cli.Work, "pkg");
        TempDirectory.Copy(TestEngine.ExampleDir("summarizer-v1"), dir);
        string name = "push-dir-" + Guid.NewGuid().ToString("N")[..8];
        File.WriteAllText(Path.Combine(dir, "model.yaml"), File.ReadAllText(Path.Combine(dir, "model.yaml")).Replace("name: summarizer-v1", "name: " + name, StringComparison.Ordinal));
        try
        {
            Assert.Equal(0, (await _cli.RunAsync("build", dir)).Code);
            var pushed = await _cli.RunJsonAsync(0, "push", dir, "--json");
            var pulled = await _cli.RunJsonAsync(0, "pull", $"local://{name}:0.4.2", "--json");
            Assert.Equal(pushed.GetProperty("imageDigest").GetString(), pulled.GetProperty("imageDigest").GetString());

            // A copy with the same name and version but another model.yaml is built: NAME:VERSION now names the
            // copy's image, and pushing the first directory is refused at once (it used to export the copy's image,
            // found out first at publish).
            var copy = Path.Combine(_cli.Work, "pkg-copy");
            TempDirectory.Copy(dir, copy);
            File.AppendAllText(Path.Combine(copy, "model.yaml"), "\n# a copy: other bytes, another manifest digest\n");
            Assert.Equal(0, (await _cli.RunAsync("build", copy)).Code);
            var refused = await _cli.RunJsonAsync(1, "push", dir, "--json");
            var error = refused.GetProperty("error");
            Assert.Equal("IM5147", error.GetProperty("code").GetString());
            Assert.Contains($"image {name}:0.4.2 (sha256:", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains($"infra build {dir}", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, $"{name}:0.4.2");
        }

        var (code, _, err) = await _cli.RunAsync("push", Path.Combine(_cli.Work, "missing"));
        Assert.Equal(2, code);
        Assert.Contains("IM1000", err);
    }

    [Fact]
    public async Task Unreachable_registry_exits_4_with_a_coded_message()
    {
        using var closed = new ClosedPort();
        var (code, _, err) = await _cli.RunAsync("pull", $"oci://127.0.0.1:{closed.Port}/x:1");
        Assert.Equal(4, code);
        Assert.Contains("error IM4203", err);
        Assert.Contains("connection refused", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public async Task Invalid_reference_exits_2_and_shows_the_valid_forms()
    {
        var (code, _, err) = await _cli.RunAsync("pull", "summarizer:1");
        Assert.Equal(2, code);
        Assert.Contains("error IM4201", err);
        Assert.Contains("oci://host[:port]/repo", err);
        var (pushCode, _, pushErr) = await _cli.RunAsync("push", "--image", "x:1", "--to", "oci://127.0.0.1:5000/a@sha256:" + new string('0', 64));
        Assert.Equal(2, pushCode);
        Assert.Contains("IM4201", pushErr);
    }

    [Fact]
    public async Task Help_documents_destinations_references_and_exit_codes()
    {
        var (_, push, _) = await _cli.RunAsync("push", "--help");
        Assert.Contains("oci://HOST[:PORT]/REPO[:TAG]", push);
        Assert.Contains("--to", push);
        Assert.Contains("4 destination unreachable", push);
        var (_, pull, _) = await _cli.RunAsync("pull", "--help");
        Assert.Contains("#sha256=", pull);
        Assert.Contains("--load", pull);
        Assert.Contains("1 content does not match its digest", pull);
    }

    /// <summary>A copy of summarizer-v1 under a name of its own, built by `infra build` (so labelled as infra test reuses it).</summary>
    private async Task<(string Dir, string Tag, string Id)> BuildUniqueAsync(string prefix)
    {
        string name = prefix + "-" + Guid.NewGuid().ToString("N")[..8];
        var dir = Path.Combine(_cli.Work, name);
        TempDirectory.Copy(TestEngine.ExampleDir("summarizer-v1"), dir);
        File.WriteAllText(Path.Combine(dir, "model.yaml"), File.ReadAllText(Path.Combine(dir, "model.yaml")).Replace("name: summarizer-v1", "name: " + name, StringComparison.Ordinal));
        var (code, output, err) = await _cli.RunAsync("build", dir);
        Assert.True(code == 0, output + err);
        string tag = $"{name}:0.4.2";
        return (dir, tag, ImageId(tag));
    }

    /// <summary>
    /// Removes the package's image from the engine by id, pulls <paramref name="reference"/> into a fresh home with
    /// --load, checks the loaded image is the original (same id), and runs `infra test` on it, which must reuse it.
    /// </summary>
    /// <summary>
    /// The image removed by id, pulled into a fresh home and loaded: the very image comes back (same id; an archive's
    /// own names are not handed to docker load, #13 §3, so it is loaded by its id) and serves.
    /// </summary>
    private async Task RoundTripAsync(ContainerEngine engine, (string Dir, string Tag, string Id) package, string reference, Action<CliRunner>? configure)
    {
        var (rmiCode, rmiOut) = await DockerCli.RunAsync("rmi", "--force", package.Id);
        Assert.True(rmiCode == 0, rmiOut);
        Assert.NotEqual(0, (await DockerCli.RunAsync("image", "inspect", package.Id)).Code);

        using var fresh = new CliRunner();
        configure?.Invoke(fresh);
        var watch = Stopwatch.StartNew();
        var pulled = await fresh.RunJsonAsync(0, "pull", reference, "--load", "--json");
        log.WriteLine($"infra pull {reference.Split(':')[0]} --load (fetch + verify + store + docker load): {watch.Elapsed.TotalSeconds:0.00} s");
        var loaded = pulled.GetProperty("loaded")[0].GetString()!;
        Assert.Equal(package.Id, ImageId(loaded));
        await AssertServesAsync(engine, package.Id);
    }

    /// <summary>By tag and by id: the round trip loads the image back by its id alone (no tag), which the tag would miss.</summary>
    private static async Task RemovePackageImageAsync((string Dir, string Tag, string Id) package)
    {
        await DockerCli.RunAsync("rmi", "--force", package.Tag);
        await DockerCli.RunAsync("rmi", "--force", package.Id);
    }

    private static string ImageId(string image) => DockerCli.Run(check: true, "image", "inspect", "--format", "{{.Id}}", image).Trim();

    /// <summary>Nothing of a refused pull is kept: no blob in the store, nothing left in staging.</summary>
    private static void AssertStoredNothing(CliRunner runner)
    {
        var store = Path.Combine(runner.Home, "store", "blobs", "sha256");
        Assert.True(!Directory.Exists(store) || Directory.GetFiles(store).Length == 0, "a refused pull stored blobs");
        var staging = Path.Combine(runner.Home, "store", "staging");
        Assert.True(!Directory.Exists(staging) || Directory.GetFileSystemEntries(staging).Length == 0, "a refused pull left files in staging");
    }

    private static async Task AssertServesAsync(ContainerEngine engine, string imageName)
    {
        await using var run = await engine.RunAsync(new ContainerSpec
        {
            Image = imageName,
            ContainerPort = 9000,
            CpuMillicores = 1000,
            MemoryBytes = 512L << 20,
            Labels = new Dictionary<string, string> { ["org.inframind.test"] = "push-pull" },
        }, CancellationToken.None);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectCallback = run.Connector.ConnectAsync }) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                using var body = new StringContent("{\"text\":\"InfraMind is a decentralized compute protocol. It runs models.\"}", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(run.Connector.BaseAddress, body);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Assert.Contains("summary", await response.Content.ReadAsStringAsync());
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                // Not listening yet, or slower than the client's timeout while it starts: asked again until the deadline.
            }

            Assert.True(DateTime.UtcNow < deadline, "the loaded model did not answer within 60 s");
            await Task.Delay(100);
        }
    }

    private static void FlipByte(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = f.Length / 2;
        int b = f.ReadByte();
        f.Position--;
        f.WriteByte((byte)(b ^ 1));
    }
}

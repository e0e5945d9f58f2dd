using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using InfraMind.Signing;
using InfraMind.Storage;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The local store after a kill -9 and after damage (#13 §9), registry credentials under a hostile challenge (#13 §2),
/// and the registry key and checkpoints a client remembers (#13 §10) — each through `infra` as a user runs it, against
/// real registries (docker-registry, `infra registry serve` processes) and listeners of the test's own.
/// </summary>
public sealed class StoreAndTrustTests : IDisposable
{
    private readonly CliRunner _cli = new();
    private readonly TempDirectory _dir = new("im-store-trust");

    public void Dispose()
    {
        _cli.Dispose();
        _dir.Dispose();
    }

    private string Store => Path.Combine(_cli.Home, "store");

    [SkippableFact]
    public async Task A_pull_killed_mid_transfer_leaves_staging_that_the_next_command_removes()
    {
        var started = new TaskCompletionSource();
        await using var stalling = new ListenerServer(async (context, ct) =>
        {
            context.Response.ContentLength64 = 50L << 20;
            var chunk = new byte[1 << 20];
            for (var i = 0; i < 5; i++) await context.Response.OutputStream.WriteAsync(chunk, ct);
            await context.Response.OutputStream.FlushAsync(ct);
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct); // then nothing: the pull sits mid-transfer
        });
        using var pull = Process.Start(InfraProcess.StartInfo(_cli.Home, "pull", $"http://127.0.0.1:{stalling.Port}/image.tar#sha256={new string('d', 64)}"))!;
        var staging = Path.Combine(Store, "staging");
        var clock = Stopwatch.StartNew();
        long written = 0;
        while (written < 4 << 20)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60) && !pull.HasExited, "the pull never got going: " + (pull.HasExited ? await pull.StandardError.ReadToEndAsync() : ""));
            written = Directory.Exists(staging) ? Directory.GetFiles(staging, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
            await Task.Delay(50);
        }

        pull.Kill(); // SIGKILL: no finally block, no dispose runs
        await pull.WaitForExitAsync();
        Assert.NotEmpty(Directory.GetDirectories(staging));

        var (code, _, err) = await _cli.RunAsync("pull", "local://sha256:" + new string('e', 64));
        Assert.Equal(1, code); // not in the store, said cleanly; opening the store swept the dead transfer
        Assert.Contains("IM4207", err, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(staging));
    }

    /// <summary>An image pushed to a real docker-registry; its pinned reference.</summary>
    private async Task<(RegistryPeer Peer, string Reference, string Digest)> PushedAsync()
    {
        var peer = await RegistryPeer.StartAsync() ?? throw new InvalidOperationException("docker-registry is not installed (CI=true fails before this)");
        var tar = _dir.Combine("image.tar");
        var digest = HostileArchives.Image(tar, seed: "pushed");
        var resolver = new ContentResolver(new LocalContentStore(_dir.Combine("source-store")));
        var image = await resolver.ResolveAsync(ContentReference.Parse(new Uri(tar).AbsoluteUri), null, CancellationToken.None);
        var pushed = await resolver.PushAsync(image, ContentReference.ParseTarget($"oci://{peer.HostPort}/crash/model"), null, CancellationToken.None);
        return (peer, ((OciReference)pushed.Reference with { Tag = null }).ToString(), digest);
    }

    [SkippableFact]
    public async Task A_zero_length_manifest_blob_does_not_block_a_re_pull_which_replaces_it()
    {
        var (peer, reference, digest) = await PushedAsync();
        await using (peer)
        {
            Assert.Equal(0, (await _cli.RunAsync("pull", reference)).Code);
            var blob = Path.Combine(Store, "blobs", "sha256", digest["sha256:".Length..]);
            await File.WriteAllBytesAsync(blob, []);

            var again = await _cli.RunJsonAsync(0, "pull", reference, "--json");
            Assert.Equal(digest, again.GetProperty("imageDigest").GetString());
            Assert.Equal(digest, HostileArchives.Sha256(await File.ReadAllBytesAsync(blob)));
        }
    }

    [SkippableFact]
    public async Task A_corrupt_index_is_IM4211_naming_the_repair_and_doctor_repair_rebuilds_it()
    {
        var tar = _dir.Combine("image.tar");
        var digest = HostileArchives.Image(tar, seed: "indexed");
        Assert.Equal(0, (await _cli.RunAsync("pull", new Uri(tar).AbsoluteUri)).Code);
        await File.WriteAllTextAsync(Path.Combine(Store, "index.json"), "{\"manifests\": [");

        var (code, output, err) = await _cli.RunAsync("pull", "local://" + digest, "--json");
        Assert.Equal(1, code);
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM4211", error.GetProperty("code").GetString());
        Assert.Contains("infra doctor --repair", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);

        // doctor checks the engine after it repairs, in a container of the base image (not the newest image InfraMind
        // built, which may be another test's, in its clean-up).
        using var engine = await TestEngine.ConnectAsync();
        var repaired = await _cli.RunJsonAsync(0, "doctor", "--repair", "--image", TestEngine.BaseImage, "--json");
        var store = repaired.GetProperty("store");
        Assert.True(store.GetProperty("indexRebuilt").GetBoolean());
        Assert.Equal(1, store.GetProperty("images").GetInt32());
        Assert.True(File.Exists(store.GetProperty("indexBackup").GetString()));
        Assert.Equal(digest, (await _cli.RunJsonAsync(0, "pull", "local://" + digest, "--json")).GetProperty("imageDigest").GetString());
    }

    [Fact]
    public async Task Doctor_repair_json_without_an_engine_says_what_the_repair_did_in_its_error()
    {
        // The repair needs no engine and is done; the JSON view is the error object alone, so the error carries it.
        var tar = _dir.Combine("image.tar");
        _ = HostileArchives.Image(tar, seed: "repaired without an engine");
        Assert.Equal(0, (await _cli.RunAsync("pull", new Uri(tar).AbsoluteUri)).Code);
        await File.WriteAllTextAsync(Path.Combine(Store, "index.json"), "{\"manifests\": [");

        var psi = InfraProcess.StartInfo(_cli.Home, "doctor", "--repair", "--json");
        psi.Environment["DOCKER_HOST"] = $"unix:///tmp/no-such-engine-{Guid.NewGuid():N}.sock";
        var (code, output, err) = await InfraProcess.RunAsync(psi, TimeSpan.FromSeconds(60));
        Assert.True(code == 3, output + err);
        var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM3001", error.GetProperty("code").GetString());
        Assert.StartsWith($"local store {Store}: 1 image(s) listed, index rebuilt from the blobs", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("; then: ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("hint").GetString()));
        Assert.Contains("the damaged one kept as ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        using var index = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Store, "index.json")));
        Assert.Equal(1, index.RootElement.GetProperty("manifests").GetArrayLength());
    }

    [Fact]
    public async Task Credentials_never_go_to_a_token_realm_on_another_port()
    {
        ConcurrentBag<string> atToken = [];
        await using var token = new RawHttpServer(r =>
        {
            atToken.Add(r.Header("Authorization"));
            return (200, null, "{\"token\":\"granted\"}"u8.ToArray());
        });
        await using var registry = new RawHttpServer(r => r.Header("Authorization") == "Bearer granted"
            ? (r.Path == "/v2/" ? 200 : 404, null, [])
            : (401, new Dictionary<string, string> { ["WWW-Authenticate"] = $"Bearer realm=\"http://127.0.0.1:{token.Port}/token\",service=\"x\"" }, []));
        _cli.Environment["INFRAMIND_REGISTRY_USERNAME"] = "deployer";
        _cli.Environment["INFRAMIND_REGISTRY_PASSWORD"] = "s3cret-pass";

        var (code, _, err) = await _cli.RunAsync("pull", $"oci://127.0.0.1:{registry.Port}/team/model:1");
        Assert.Equal(1, code); // authenticated anonymously, then the registry does not have it
        Assert.Contains("IM4206", err, StringComparison.Ordinal);
        Assert.NotEmpty(atToken);
        Assert.All(atToken, a => Assert.Equal("", a));
        Assert.DoesNotContain("s3cret-pass", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Docker_config_credentials_go_to_their_registry_and_the_environment_overrides_them()
    {
        ConcurrentBag<string> seen = [];
        string expected = "Basic " + Convert.ToBase64String("docker-user:from-config"u8.ToArray());
        await using var registry = new RawHttpServer(r =>
        {
            seen.Add(r.Header("Authorization"));
            return r.Header("Authorization") == expected
                ? (r.Path == "/v2/" ? 200 : 404, null, [])
                : (401, new Dictionary<string, string> { ["WWW-Authenticate"] = "Basic realm=\"test\"" }, []);
        });
        string config = _dir.Combine("docker-config");
        Directory.CreateDirectory(config);
        await File.WriteAllTextAsync(Path.Combine(config, "config.json"),
            """{"auths":{"REG":{"auth":"AUTH"}}}""".Replace("REG", $"127.0.0.1:{registry.Port}", StringComparison.Ordinal)
                .Replace("AUTH", Convert.ToBase64String("docker-user:from-config"u8.ToArray()), StringComparison.Ordinal));
        _cli.Environment["DOCKER_CONFIG"] = config;

        var (code, _, err) = await _cli.RunAsync("pull", $"oci://127.0.0.1:{registry.Port}/team/model:1");
        Assert.Equal(1, code); // authenticated with docker's credentials, then the registry does not have it
        Assert.Contains("IM4206", err, StringComparison.Ordinal);
        Assert.Contains(expected, seen);

        _cli.Environment["INFRAMIND_REGISTRY_USERNAME"] = "env-user";
        _cli.Environment["INFRAMIND_REGISTRY_PASSWORD"] = "from-env";
        (code, _, err) = await _cli.RunAsync("pull", $"oci://127.0.0.1:{registry.Port}/team/model:1");
        Assert.Equal(4, code);
        Assert.Contains("IM4205", err, StringComparison.Ordinal);
        Assert.Contains("Basic " + Convert.ToBase64String("env-user:from-env"u8.ToArray()), seen);
    }

    /// <summary>`infra registry serve` of <paramref name="home"/> on <paramref name="port"/>, taking content from 127.0.0.1.</summary>
    private static Task<RegistryServeProcess> ServeAsync(string home, int port) =>
        RegistryServeProcess.StartAsync(home, "--fetch-allow", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture));

    private async Task<(RawHttpServer Server, string Reference, string Digest)> ServedImageAsync(string seed)
    {
        var tar = _dir.Combine(seed + ".tar");
        var digest = HostileArchives.Image(tar, seed: seed);
        var bytes = await File.ReadAllBytesAsync(tar);
        var server = new RawHttpServer(_ => (200, null, bytes));
        return (server, $"http://127.0.0.1:{server.Port}/{seed}.tar#sha256={HostileArchives.Sha256(bytes)["sha256:".Length..]}", digest);
    }

    private static void CopyRegistry(string fromHome, string toHome)
    {
        TempDirectory.Copy(Path.Combine(fromHome, "registry"), Path.Combine(toHome, "registry"));
        foreach (var lockFile in Directory.GetFiles(Path.Combine(toHome, "registry"), "*.lock")) File.Delete(lockFile);
    }

    [Fact]
    public async Task Verify_pins_the_registry_key_and_catches_another_key_and_a_forked_log()
    {
        using var alice = SigningKey.CreateEphemeral("alice");
        var port = PeerProcess.FreePort();
        var url = $"http://127.0.0.1:{port}/";
        var (one, refOne, digestOne) = await ServedImageAsync("one");
        var (two, refTwo, digestTwo) = await ServedImageAsync("two");
        await using (one)
        await using (two)
        {
            var honest = _dir.Combine("honest");
            var fork = _dir.Combine("fork");
            await using (var registry = await ServeAsync(honest, port))
            {
                Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(alice, "m", "1.0.0", digestOne, refOne))).Status);
                Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(alice, "m", "1.1.0", digestOne, refOne))).Status);
                var first = await _cli.RunJsonAsync(0, "verify", "m@1.0.0", "--registry", url, "--json");
                Assert.True(first.GetProperty("passed").GetBoolean());
            }

            CopyRegistry(honest, fork);
            string honestKey;
            await using (var registry = await ServeAsync(honest, port))
            {
                Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(alice, "m", "1.2.0", digestOne, refOne))).Status);
                var grown = await _cli.RunJsonAsync(0, "verify", "m@1.2.0", "--registry", url, "--json");
                honestKey = grown.GetProperty("registryKey").GetString()!;
            }

            // The same key, another history: the fork logs another 1.2.0 as entry 2.
            await using (var registry = await ServeAsync(fork, port))
            {
                Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(alice, "m", "1.2.0", digestTwo, refTwo))).Status);
                var (code, output, _) = await _cli.RunAsync("verify", "m@1.0.0", "--registry", url, "--json");
                Assert.Equal(1, code);
                var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
                Assert.Equal("IM5151", error.GetProperty("code").GetString());
            }

            // Another registry on the same address: another key, named with the pinned one.
            await using (var registry = await ServeAsync(_dir.Combine("impostor"), port))
            {
                Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(alice, "m", "1.0.0", digestOne, refOne))).Status);
                var (code, output, _) = await _cli.RunAsync("verify", "m@1.0.0", "--registry", url, "--json");
                Assert.Equal(1, code);
                var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
                Assert.Equal("IM5150", error.GetProperty("code").GetString());
                var message = error.GetProperty("message").GetString()!;
                Assert.Contains(honestKey, message, StringComparison.Ordinal);
                using var http = new HttpClient();
                var served = PublicKey.FromPem(await http.GetStringAsync(url + "v1/key"));
                Assert.Contains(served.Fingerprint, message, StringComparison.Ordinal);

                // An explicit --registry-key wins over the pin.
                var keyFile = _dir.Combine("impostor.pem");
                await File.WriteAllTextAsync(keyFile, served.ToPem(), Encoding.ASCII);
                Assert.True((await _cli.RunJsonAsync(0, "verify", "m@1.0.0", "--registry", url, "--registry-key", keyFile, "--json")).GetProperty("passed").GetBoolean());
            }
        }
    }
}

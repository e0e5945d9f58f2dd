using System.Text;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// Credentials as docker keeps them (#18): config.json `auths`, `credHelpers` and `credsStore` with a real helper
/// program the test writes (a shell script speaking the helper protocol), against the real docker-registry behind
/// htpasswd basic auth. The environment's credentials stay an override.
/// </summary>
public sealed class DockerCredentialTests(DockerCredentialTests.AuthRegistry fixture) : IClassFixture<DockerCredentialTests.AuthRegistry>, IDisposable
{
    private const string User = "tester";
    private const string Password = "s3cret-pass";
    private readonly TempDirectory _dir = new("im-dockercred");

    private RegistryPeer _registry => fixture.Registry;

    private ImageArchive _image => fixture.Image;

    public void Dispose() => _dir.Dispose();

    /// <summary>One registry behind basic auth and one small image for the class (a registry start is the slow part).</summary>
    public sealed class AuthRegistry : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _dir = new("im-dockercred-src");

        public RegistryPeer Registry { get; private set; } = null!;

        public ImageArchive Image { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Registry = await RegistryPeer.StartAsync(User, Password);
            Image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("source")), "dockercred");
        }

        public async Task DisposeAsync()
        {
            if (Registry is not null) await Registry.DisposeAsync();
        }

        public void Dispose() => _dir.Dispose();
    }

    /// <summary>A docker config directory holding <paramref name="json"/>, and a bin directory with the helper <c>docker-credential-imtest</c>.</summary>
    private (string ConfigDir, string Bin, string Log) Setup(string json)
    {
        string root = _dir.Combine(Guid.NewGuid().ToString("N"));
        string config = Path.Combine(root, "docker"), bin = Path.Combine(root, "bin"), log = Path.Combine(root, "helper.log");
        Directory.CreateDirectory(config);
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(config, "config.json"), json);
        // The helper protocol: `get` reads the server on stdin; it answers JSON, or "credentials not found" and exit 1.
        CredentialHelperTests.WriteScript(Path.Combine(bin, "docker-credential-imtest"), $$"""
            #!/bin/sh
            read -r server || true
            echo "$1 $server" >> '{{log}}'
            if [ "$server" = "{{_registry.HostPort}}" ]; then
              printf '{"ServerURL":"%s","Username":"{{User}}","Secret":"{{Password}}"}' "$server"
            else
              echo "credentials not found in native keychain"; exit 1
            fi
            """);
        CredentialHelperTests.WriteScript(Path.Combine(bin, "docker-credential-imnone"), $$"""
            #!/bin/sh
            read -r server || true
            echo "$1 $server" >> '{{log}}'
            echo "credentials not found in native keychain"; exit 1
            """);
        return (config, bin, log);
    }

    private Task<PushResult> PushAsync(PeerOptions options, string repo = "cred/model") =>
        new RegistryBackend(options).PushAsync(_image, ContentReference.ParseTarget($"oci://{_registry.HostPort}/{repo}:1"), null, CancellationToken.None);

    private static Dictionary<string, string?> Env(string configDir, string bin) => new() { ["DOCKER_CONFIG"] = configDir, ["PATH"] = bin + ":/usr/bin:/bin" };

    [SkippableFact]
    public async Task A_credHelpers_helper_answers_for_its_registry_once_and_push_and_pull_pass()
    {
        var (config, bin, log) = Setup(Cfg("""{"credHelpers":{"REG":"imtest"},"auths":{"REG":{"auth":"AUTH"}}}""", "tester:wrong"));
        var env = Env(config, bin);
        var options = new PeerOptions { CredentialSource = DockerCredentialStore.FromEnvironment(n => env.GetValueOrDefault(n)) };
        var pushed = await PushAsync(options);
        var pulled = await new RegistryBackend(options).PullAsync(pushed.Reference, new LocalContentStore(_dir.Combine("pulled")), null, CancellationToken.None);
        Assert.Equal(_image.ManifestDigest, pulled.ManifestDigest);
        // Asked once, with the protocol's verb and exactly the registry (host:port) on stdin; the helper won over auths.
        Assert.Equal([$"get {_registry.HostPort}"], File.ReadAllLines(log));
    }

    [SkippableFact]
    public async Task Auths_with_base64_auth_or_username_and_password_are_sent_and_refusal_names_the_file()
    {
        var (config, _, _) = Setup(Cfg("""{"auths":{"http://REG/v2/":{"auth":"AUTH"}}}""", User + ":" + Password));
        await PushAsync(new PeerOptions { CredentialSource = new DockerCredentialStore(config, null) });

        var (plain, _, _) = Setup(Cfg("""{"auths":{"REG":{"username":"tester","password":"s3cret-pass"}}}"""));
        await PushAsync(new PeerOptions { CredentialSource = new DockerCredentialStore(plain, null) }, "cred/plain");

        var (wrong, _, _) = Setup(Cfg("""{"auths":{"REG":{"auth":"AUTH"}}}""", "tester:wrong"));
        var refused = await Assert.ThrowsAsync<StorageException>(() => PushAsync(new PeerOptions { CredentialSource = new DockerCredentialStore(wrong, null) }));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, refused.Code);
        Assert.Contains(Path.Combine(wrong, "config.json"), refused.Message);
        Assert.DoesNotContain("wrong", refused.Message.Replace(wrong, "", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task The_environment_overrides_docker_config_and_a_helper_without_an_answer_leaves_none()
    {
        var (wrong, _, _) = Setup(Cfg("""{"auths":{"REG":{"auth":"AUTH"}}}""", "tester:wrong"));
        await PushAsync(new PeerOptions
        {
            Credentials = new RegistryCredentials(User, Password, [_registry.HostPort]),
            CredentialSource = new DockerCredentialStore(wrong, null),
        });

        // credsStore serves every registry; this helper holds nothing ("credentials not found"): no credentials, IM4205.
        var (config, bin, log) = Setup("""{"credsStore":"imnone"}""");
        var none = await Assert.ThrowsAsync<StorageException>(() => PushAsync(new PeerOptions { CredentialSource = new DockerCredentialStore(config, bin) }));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, none.Code);
        Assert.Contains($"docker login {_registry.HostPort}", none.Hint);
        Assert.Equal([$"get {_registry.HostPort}"], File.ReadAllLines(log));

        // Scoped to other registries (a publisher's fetch), a store that would answer gives nothing and runs no helper.
        var (answering, answeringBin, answeringLog) = Setup("""{"credsStore":"imtest"}""");
        var scoped = new DockerCredentialStore(answering, answeringBin, onlyFor: ["registry.example.test"]);
        var withheld = await Assert.ThrowsAsync<StorageException>(() => PushAsync(new PeerOptions { CredentialSource = scoped }));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, withheld.Code);
        Assert.False(File.Exists(answeringLog));
    }

    /// <summary>A config.json from <paramref name="template"/>: REG is the registry's host:port, AUTH the base64 of <paramref name="pair"/>.</summary>
    private string Cfg(string template, string pair = "") => template.Replace("REG", _registry.HostPort, StringComparison.Ordinal).Replace("AUTH", Base64(pair), StringComparison.Ordinal);

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
}

using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// InfraMind itself as an image (#18): scripts/build-image.sh builds deploy/Dockerfile from the self-contained publish
/// on the local Debian base; the image runs `infra --version` and `infra validate`, and `registry serve --listen 0.0.0.0`
/// in a container answers on a port published on 127.0.0.1; a gateway and a node in containers (the node with the
/// host's engine socket) form a mesh with it, and each stops cleanly on `docker stop`. Everything the test
/// makes (image, network, containers) carries its own label and is removed at the end.
/// </summary>
[Trait("Category", "Image")]
public sealed class ContainerImageTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task The_image_runs_infra_validates_an_example_and_serves_the_registry_on_a_published_port()
    {
        (await TestEngine.ConnectAsync()).Dispose();   // a missing engine or base image fails under CI=true
        string id = Guid.NewGuid().ToString("N")[..12];
        string label = "org.inframind.test=infra-image-" + id;
        string image = "inframind-test-image-" + id + ":1";
        string network = "im-test-image-" + id;
        try
        {
            // The first build in a fresh checkout publishes infra, later ones reuse it. Plain (INFRAMIND_READY_TO_RUN=0,
            // .build/infra-plain): the precompiled publish took this test 6 to 10 minutes of the suite's 2 cores
            // (2026-12-07), and precompilation changes how fast infra starts, nothing this test checks. The plain one:
            // about 1 minute on 2 quiet cores.
            var build = await RunAsync(TimeSpan.FromMinutes(12), Path.Combine(TestEngine.RepoRoot, "scripts", "build-image.sh"), image, "--", "--label", label);
            Assert.True(build.Code == 0, $"build-image.sh: exit {build.Code}\n{build.Out}\n{build.Err}");
            Assert.Equal(image, build.Out.Trim().Split('\n')[^1]);

            var inspect = await DockerAsync("image", "inspect", image, "--format",
                "{{.Config.User}}|{{json .Config.Entrypoint}}|{{index .Config.Labels \"org.inframind.stand-in\"}}|{{index .Config.Labels \"org.inframind.test\"}}");
            Assert.Equal($"10001:10001|[\"infra\"]||infra-image-{id}", inspect.Out.Trim());

            // The image's infra is the publish ./infra runs here.
            var local = await RunAsync(Step, Path.Combine(TestEngine.RepoRoot, ".build", "infra-plain", "infra"), "--version");
            var version = await DockerAsync("run", "--rm", "--network", "none", "--label", label, image, "--version");
            Assert.Matches(@"^\d+\.\d+\.\d+", version.Out.Trim());
            Assert.Equal(local.Out.Trim(), version.Out.Trim());

            var validate = await DockerAsync("run", "--rm", "--network", "none", "--label", label,
                "-v", TestEngine.ExampleDir("summarizer-v1") + ":/models/summarizer-v1:ro", image, "validate", "/models/summarizer-v1");
            Assert.Contains("is valid: summarizer-v1 0.4.2", validate.Out, StringComparison.Ordinal);

            // A bad command is infra's usage error, exit 2, from inside the image too.
            var usage = await RunAsync(Step, "docker", "run", "--rm", "--network", "none", "--label", label, image, "no-such-verb");
            Assert.Equal(2, usage.Code);

            // What a node container needs (docs/container.md): with root, the host's PIDs, CAP_SYS_ADMIN and the engine's
            // socket, `infra doctor` in the image enters a throwaway container's network namespace as a node enters its
            // models'; without the host's PIDs it cannot, and says so (IM3009, exit 3). It names the base image to enter:
            // left to choose, it takes the newest image InfraMind built, and that may be another test's, in its clean-up.
            string[] nodeRights = ["--user", "0:0", "--cap-add", "SYS_ADMIN", "-v", "/var/run/docker.sock:/var/run/docker.sock"];
            var doctor = await RunAsync(Step, "docker", ["run", "--rm", "--network", "none", "--label", label, "--pid", "host", .. nodeRights, image, "doctor", "--image", TestEngine.BaseImage]);
            Assert.True(doctor.Code == 0, $"doctor: exit {doctor.Code}\n{doctor.Out}\n{doctor.Err}");
            Assert.Contains("isolation enforced: entered the network namespace of a container", doctor.Out, StringComparison.Ordinal);
            var noPids = await RunAsync(Step, "docker", ["run", "--rm", "--network", "none", "--label", label, .. nodeRights, image, "doctor", "--image", TestEngine.BaseImage, "--json"]);
            Assert.True(noPids.Code == 3, $"doctor without --pid host: exit {noPids.Code}\n{noPids.Out}\n{noPids.Err}");
            Assert.Contains("IM3009", noPids.Out + noPids.Err, StringComparison.Ordinal);

            // The engine here has no default bridge: a network of the test's own, the port published on loopback only.
            await DockerAsync("network", "create", "--label", label, network);
            var started = await DockerAsync("run", "-d", "--label", label, "--network", network, "--name", "im-registry-" + id, "-p", "127.0.0.1::7400",
                image, "registry", "serve", "--listen", "0.0.0.0", "--json");
            string container = started.Out.Trim();
            var port = await DockerAsync("port", container, "7400/tcp");
            // Off loopback (0.0.0.0 here) a server speaks TLS by default with its own certificate; the pin is in its --json.
            var published = new Uri("https://" + port.Out.Trim().Split('\n')[0]);
            Assert.Equal("127.0.0.1", published.Host);
            var registryPin = await LoggedFieldAsync(container, "tlsFingerprint");

            using var http = Pinned(published, registryPin);
            string key = await PollAsync(http, "v1/key", TimeSpan.FromSeconds(60), container);
            Assert.StartsWith("-----BEGIN PUBLIC KEY-----", key, StringComparison.Ordinal);
            var entries = await http.GetAsync(new Uri("v1/entries", UriKind.Relative));
            Assert.True(entries.IsSuccessStatusCode, $"GET /v1/entries: {(int)entries.StatusCode}");

            // A small mesh of three containers on that network, as docs/container.md runs it: the gateway (its own
            // user) over the registry, and a node (root, the host's PIDs, CAP_SYS_ADMIN, the engine's socket) that
            // registers with the mesh token both are handed as a file.
            string secrets = Directory.CreateTempSubdirectory("im-image-").FullName;
            try
            {
                string token = Path.Combine(secrets, "node-token");
                await File.WriteAllTextAsync(token, InfraMind.Serving.MeshToken.Create());
                File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                Assert.Equal(0, (await RunAsync(Step, "chown", "10001:10001", token)).Code);
                string gateway = (await DockerAsync("run", "-d", "--label", label, "--network", network, "--name", "im-gateway-" + id,
                    "-p", "127.0.0.1::8080", "-v", token + ":/run/secrets/node-token:ro", image, "gateway", "serve",
                    "--listen", "0.0.0.0", "--port", "8080", "--advertise", $"https://im-gateway-{id}:8080",
                    "--registry", $"https://im-registry-{id}:7400/#{registryPin}", "--node-token-file", "/run/secrets/node-token", "--json")).Out.Trim();
                var gatewayPin = await LoggedFieldAsync(gateway, "tlsFingerprint");
                string node = (await DockerAsync("run", "-d", "--label", label, "--network", network, "--name", "im-node-" + id,
                    "--user", "0:0", "--pid", "host", "--cap-add", "SYS_ADMIN", "-v", "/var/run/docker.sock:/var/run/docker.sock",
                    "-v", token + ":/run/secrets/node-token:ro", image, "node", "serve", "--id", "im-image-" + id,
                    "--gateway", $"https://im-gateway-{id}:8080/#{gatewayPin}", "--registry", $"https://im-registry-{id}:7400/#{registryPin}",
                    "--listen", "0.0.0.0", "--port", "7500", "--advertise", $"https://im-node-{id}:7500",
                    "--token-file", "/run/secrets/node-token", "--cpu", "1", "--memory", "1Gi")).Out.Trim();
                var gatewayPort = await DockerAsync("port", gateway, "8080/tcp");
                using var gatewayHttp = Pinned(new Uri("https://" + gatewayPort.Out.Trim().Split('\n')[0]), gatewayPin);
                await PollAsync(gatewayHttp, "inference/v1", TimeSpan.FromSeconds(60), gateway,
                    body => body.Contains($"\"id\":\"im-image-{id}\",\"address\":\"https://im-node-{id}:7500/\",\"online\":true", StringComparison.Ordinal));

                // docker stop sends SIGTERM: every server stops cleanly (exit 0), within the 10 s before SIGKILL.
                foreach (var (what, name) in new[] { ("node", node), ("gateway", gateway), ("registry", container) })
                {
                    await DockerAsync("stop", "-t", "10", name);
                    var exit = await DockerAsync("inspect", name, "--format", "{{.State.ExitCode}}");
                    var logs = await RunAsync(Step, "docker", "logs", name);
                    Assert.True(exit.Out.Trim() == "0", $"{what}: exit {exit.Out.Trim()}\n{logs.Out}\n{logs.Err}");
                    if (what == "registry") Assert.Contains($"\"registry\": \"https://0.0.0.0:7400/#{registryPin}\"", logs.Out, StringComparison.Ordinal);
                }
            }
            finally
            {
                Directory.Delete(secrets, recursive: true);
            }
        }
        finally
        {
            await CleanUpAsync(label, network, image);
        }

        // Nothing the test labelled is left.
        Assert.Empty((await DockerAsync("ps", "-aq", "--filter", "label=" + label)).Out.Trim());
        Assert.Empty((await DockerAsync("network", "ls", "-q", "--filter", "label=" + label)).Out.Trim());
        Assert.Empty((await DockerAsync("images", "-q", "--filter", "label=" + label)).Out.Trim());
    }

    /// <summary>An HTTP client of a server that takes only the certificate whose key is <paramref name="pin"/>.</summary>
    private static HttpClient Pinned(Uri address, string pin) =>
        new(new SocketsHttpHandler { UseProxy = false, SslOptions = InfraMind.Serving.Tls.MeshTls.Pinned(pin) }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>A field of the JSON a serving container prints once up (--json), read from its logs.</summary>
    private static async Task<string> LoggedFieldAsync(string container, string field)
    {
        var clock = Stopwatch.StartNew();
        var logs = (Code: 0, Out: "", Err: "");
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            logs = await RunAsync(Step, "docker", "logs", container);
            var at = logs.Out.IndexOf('{', StringComparison.Ordinal);
            var end = logs.Out.LastIndexOf('}');
            try
            {
                if (at >= 0 && end > at && System.Text.Json.Nodes.JsonNode.Parse(logs.Out[at..(end + 1)])?[field]?.GetValue<string>() is { } value) return value;
            }
            catch (System.Text.Json.JsonException)
            {
                // printed only in part yet
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{container} printed no {field} within 60 s\n{logs.Out}\n{logs.Err}");
        return "";
    }

    private static async Task<string> PollAsync(HttpClient http, string path, TimeSpan limit, string container, Func<string, bool>? until = null)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < limit)
        {
            try
            {
                var response = await http.GetAsync(new Uri(path, UriKind.Relative));
                string body = await response.Content.ReadAsStringAsync();
                if (response.IsSuccessStatusCode && (until is null || until(body))) return body;
                last = $"{(int)response.StatusCode} {body}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException e)
            {
                last = e.Message;
            }

            await Task.Delay(250);
        }

        var logs = await RunAsync(Step, "docker", "logs", container);
        Assert.Fail($"the container did not answer {path} as expected within {limit.TotalSeconds} s ({last})\n{logs.Out}\n{logs.Err}");
        return "";
    }

    private static async Task CleanUpAsync(string label, string network, string image)
    {
        var containers = await RunAsync(Step, "docker", "ps", "-aq", "--filter", "label=" + label);
        foreach (var c in containers.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await RunAsync(Step, "docker", "rm", "-f", c);
        }

        await RunAsync(Step, "docker", "network", "rm", network);
        // A node removes its model containers when it stops; any a killed one left carry its id.
        var models = await RunAsync(Step, "docker", "ps", "-aq", "--filter", "label=org.inframind.node=im-image-" + label[^12..]);
        foreach (var c in models.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await RunAsync(Step, "docker", "rm", "-f", c);
        }
        await RunAsync(Step, "docker", "rmi", "-f", image);
    }

    private static async Task<(int Code, string Out, string Err)> DockerAsync(params string[] args)
    {
        var result = await RunAsync(Step, "docker", args);
        Assert.True(result.Code == 0, $"docker {string.Join(' ', args)}: exit {result.Code}\n{result.Out}\n{result.Err}");
        return result;
    }

    private static Task<(int Code, string Out, string Err)> RunAsync(TimeSpan timeout, string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestEngine.RepoRoot };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["INFRAMIND_READY_TO_RUN"] = "0";
        return InfraProcess.RunAsync(psi, timeout);
    }
}

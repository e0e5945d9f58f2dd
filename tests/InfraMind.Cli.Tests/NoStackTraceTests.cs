using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using InfraMind.Testing;
using Microsoft.Data.Sqlite;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The real `infra` process, given broken things to work with: a damaged registry log, a damaged local store index,
/// an engine that goes away mid-run, a registry that answers garbage. Each time: the documented code and exit code,
/// the --json error object, and never a stack trace.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class NoStackTraceTests : IDisposable
{
    private static readonly string Missing = "local://sha256:" + new string('a', 64);
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task A_damaged_registry_log_is_IM5123_from_publish_verify_log_and_registry_serve()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var tag = await TinyImage.EnsureAsync(engine);
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        var reference = (await _cli.RunJsonAsync(0, "push", "--image", tag, "--to", "local", "--json")).GetProperty("reference").GetString()!;
        await _cli.RunJsonAsync(0, "publish", "--model", Model("damaged", "1.0.0"), "--image", reference, "--json");
        var log = Path.Combine(_cli.Home, "registry", "log.sqlite");
        var intact = await File.ReadAllBytesAsync(log);

        // A row changed behind the registry's back: the stored leaves no longer hash to the signed root.
        using (var db = new SqliteConnection($"Data Source={log};Pooling=False"))
        {
            await db.OpenAsync();
            using var update = db.CreateCommand();
            update.CommandText = "UPDATE log_leaves SET leaf_hash = zeroblob(32) WHERE idx = 0";
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        await AssertEveryRegistryCommandFailsAsync(reference, "no longer hash to the root");

        // Bytes flipped in the file header: SQLite no longer knows it for a database.
        var flipped = (byte[])intact.Clone();
        for (var i = 0; i < 16; i++) flipped[i] ^= 0x5a;
        await File.WriteAllBytesAsync(log, flipped);
        await AssertEveryRegistryCommandFailsAsync(reference, "is damaged");

        // Cut short, as a full disk or a bad copy leaves it.
        await File.WriteAllBytesAsync(log, intact[..(intact.Length / 2)]);
        var cut = await RunAsync(null, "log", "--json");
        AssertFailure(cut, 1, "IM5123");
    }

    private async Task AssertEveryRegistryCommandFailsAsync(string reference, string because)
    {
        foreach (var args in new[]
                 {
                     new[] { "log", "--json" },
                     ["verify", "damaged@1.0.0", "--json"],
                     ["publish", "--model", Model("damaged", "1.0.1"), "--image", reference, "--json"],
                     ["registry", "serve", "--port", "0", "--json"],
                 })
        {
            var result = await RunAsync(null, args);
            var error = AssertFailure(result, 1, "IM5123");
            Assert.Contains(because, error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains("backup", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("{\"schemaVersion\": 2, \"manifests\": [", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{\"manifests\": [{\"mediaType\": \"x\", \"digest\": 5, \"size\": 1}]}", "damaged")]
    public async Task A_damaged_local_store_index_is_IM4211(string index, string because)
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        Directory.CreateDirectory(Path.Combine(_cli.Home, "store"));
        await File.WriteAllTextAsync(Path.Combine(_cli.Home, "store", "index.json"), index);
        foreach (var args in new[]
                 {
                     new[] { "pull", Missing, "--json" },
                     ["publish", "--model", Path.Combine(TestEngine.ExampleDir("summarizer-v1"), "model.yaml"), "--image", Missing, "--json"],
                 })
        {
            var error = AssertFailure(await RunAsync(null, args), 1, "IM4211");
            Assert.Contains(because, error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains("index.json", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("doctor", "--prune", "--json")]
    [InlineData("build", "{example}", "--json")]
    [InlineData("push", "--image", "inframind-test-tiny:1", "--json")]
    public async Task An_engine_that_vanishes_mid_run_is_IM3001(params string[] args)
    {
        await using var engine = new VanishingEngine();
        var result = await RunAsync(
            new Dictionary<string, string> { ["DOCKER_HOST"] = engine.Endpoint },
            args.Select(a => a.Replace("{example}", TestEngine.ExampleDir("summarizer-v1"), StringComparison.Ordinal)).ToArray());
        var error = AssertFailure(result, 3, "IM3001");
        Assert.True(engine.Answered >= 1, "the engine never answered: this tested a missing engine, not one that vanishes");
        Assert.Contains(engine.Endpoint, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("doctor", "--json")]
    [InlineData("build", "{example}", "--json")]
    [InlineData("test", "--container", "{example}", "--json")]
    public async Task No_engine_fails_as_json_with_the_fix_as_its_hint(params string[] args)
    {
        // The fix was part of the message and the hint null: a script reading error.hint got nothing to show.
        var socket = $"/tmp/nonexistent-{Guid.NewGuid():N}.sock";
        var result = await RunAsync(new Dictionary<string, string> { ["DOCKER_HOST"] = "unix://" + socket },
            args.Select(a => a.Replace("{example}", TestEngine.ExampleDir("summarizer-v1"), StringComparison.Ordinal)).ToArray());
        var error = AssertFailure(result, 3, "IM3001");
        var message = error.GetProperty("message").GetString()!;
        Assert.Equal(JsonValueKind.String, error.GetProperty("hint").ValueKind);
        var hint = error.GetProperty("hint").GetString()!;
        Assert.Contains(socket, message, StringComparison.Ordinal);
        Assert.Contains("does not exist", message, StringComparison.Ordinal);
        Assert.Contains("setup-engine.sh", hint, StringComparison.Ordinal);
        Assert.Contains("DOCKER_HOST", hint, StringComparison.Ordinal);
        Assert.DoesNotContain("setup-engine.sh", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Podman", message, StringComparison.Ordinal);
        Assert.Contains($"  hint: {hint}", result.Err, StringComparison.Ordinal);
    }

    public static TheoryData<string, int, string, string> Garbage() => new()
    {
        { "html", 200, "text/html", "<html><body>It works!</body></html>" },
        { "wrong json", 200, "application/json", "{\"size\": \"many\", \"entries\": 7}" },
        { "json array", 200, "application/json", "[1, 2, 3]" },
        { "error page", 500, "text/html", "<html>Internal Server Error</html>" },
        { "too large", 200, "application/json", "" },
    };

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task A_registry_that_answers_garbage_is_a_coded_failure(string what, int status, string contentType, string body)
    {
        await using var server = new ListenerServer(async (context, cancellationToken) =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            if (what == "too large")
            {
                // 32 MiB of JSON-looking bytes: twice what infra holds of one answer.
                var chunk = Encoding.ASCII.GetBytes("[" + new string(' ', (1 << 20) - 1));
                for (var i = 0; i < 32; i++) await context.Response.OutputStream.WriteAsync(chunk, cancellationToken);
            }
            else
            {
                await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body), cancellationToken);
            }

            context.Response.Close();
        });
        var expected = status >= 500 ? "IM5131" : "IM5132";
        foreach (var args in new[]
                 {
                     new[] { "log", "--registry", server.BaseUri.ToString(), "--json" },
                     ["verify", "m@1.0.0", "--registry", server.BaseUri.ToString(), "--json"],
                     ["gateway", "serve", "--registry", server.BaseUri.ToString(), "--port", "0", "--json"],
                 })
        {
            var error = AssertFailure(await RunAsync(null, args), 4, expected);
            Assert.Contains(server.BaseUri.ToString(), error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_registry_that_does_not_speak_http_is_IM5132()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2\r\nthis is not http\r\n\r\n"), stop.Token);
                await Task.Delay(100, stop.Token);
            }
        });
        var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/";
        var error = AssertFailure(await RunAsync(null, "log", "--registry", url, "--json"), 4, "IM5132");
        Assert.Contains(url, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        await stop.CancelAsync();
        await ServerTask.EndedAsync(serving);
    }

    /// <summary>The failure's exit code, its --json error object (returned), its line on stderr, and no stack trace anywhere.</summary>
    private static JsonElement AssertFailure((int Code, string Out, string Err) result, int exit, string code)
    {
        var (actual, output, error) = result;
        Assert.True(actual == exit, $"exit {actual}, expected {exit} ({code})\nstdout: {output}\nstderr: {error}");
        Assert.DoesNotContain("   at ", output + error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output + error, StringComparison.Ordinal);
        Assert.Contains($"error {code}: ", error, StringComparison.Ordinal);
        var json = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal(code, json.GetProperty("code").GetString());
        return json.Clone();
    }

    private Task<(int Code, string Out, string Err)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = InfraProcess.StartInfo(_cli.Home, args);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        return InfraProcess.RunAsync(psi, TimeSpan.FromMinutes(2));
    }

    private string Model(string name, string version) => _cli.SummarizerModel(name, version);

    /// <summary>
    /// A container engine that goes away mid-run: on a unix socket (what DOCKER_HOST names) it answers the first
    /// request like an engine's /_ping, then closes its socket and removes it, as a stopped dockerd does.
    /// </summary>
    private sealed class VanishingEngine : IAsyncDisposable
    {
        private readonly string _directory = Path.Combine(Path.GetTempPath(), "im-eng-" + Guid.NewGuid().ToString("N")[..8]);
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(2));
        private readonly Task _serving;

        public VanishingEngine()
        {
            Directory.CreateDirectory(_directory);
            var path = Path.Combine(_directory, "docker.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen(8);
            Endpoint = "unix://" + path;
            _serving = Task.Run(ServeOnceAsync);
        }

        public string Endpoint { get; }

        public int Answered { get; private set; }

        private async Task ServeOnceAsync()
        {
            try
            {
                using var client = await _listener.AcceptAsync(_stop.Token);
                var request = new StringBuilder();
                var buffer = new byte[4096];
                // The end of the headers; Docker.DotNet ends its header lines with a bare \n.
                while (request.ToString() is var text && !text.Contains("\n\r\n", StringComparison.Ordinal) && !text.Contains("\n\n", StringComparison.Ordinal))
                {
                    var n = await client.ReceiveAsync(buffer, _stop.Token);
                    if (n == 0) return;
                    request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }

                await client.SendAsync(Encoding.ASCII.GetBytes(
                    "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"), _stop.Token);
                Answered++;
                client.Shutdown(SocketShutdown.Both);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                _listener.Close();
                File.Delete(Path.Combine(_directory, "docker.sock"));
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _serving;
            _listener.Dispose();
            _stop.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}

using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// Docker's credential configuration at its boundary: helpers that hang, flood, fail or are missing, names that are
/// paths, files that are not JSON, keys written as URLs. Real helper programs (shell scripts); no registry needed.
/// </summary>
public sealed class CredentialHelperTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-credhelper");

    public void Dispose() => _dir.Dispose();

    internal static void WriteScript(string path, string text)
    {
        File.WriteAllText(path, text.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private DockerCredentialStore Store(string json, string? helperBody = null, TimeSpan? timeout = null)
    {
        string root = _dir.Combine(Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(root, "config.json"), json);
        if (helperBody is not null)
        {
            WriteScript(Path.Combine(root, "docker-credential-h"), "#!/bin/sh\n" + helperBody);
        }

        return new DockerCredentialStore(root, root) { HelperTimeout = timeout ?? TimeSpan.FromSeconds(10) };
    }

    private static async Task<StorageException> Fails(DockerCredentialStore store, string registry = "r.example.test")
    {
        var e = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync(registry, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.CredentialConfigFailed, e.Code);
        return e;
    }

    [Fact]
    public async Task A_helper_that_hangs_is_stopped_at_its_time_limit()
    {
        var clock = Stopwatch.StartNew();
        var e = await Fails(Store("""{"credsStore":"h"}""", "sleep 30", TimeSpan.FromSeconds(1)));
        Assert.Contains("did not answer within 1 s", e.Message);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 15);
    }

    [Fact]
    public async Task A_helper_that_floods_its_output_is_stopped_at_the_byte_limit()
    {
        var e = await Fails(Store("""{"credsStore":"h"}""", "yes flood"));
        Assert.Contains($"more than {DockerCredentialStore.MaxHelperOutputBytes} bytes", e.Message);
    }

    /// <summary>
    /// A helper that prints 4 MiB and exits is refused at the bound, 64 KiB, not read whole: the endless flood above
    /// would be stopped by any bound, so it cannot tell this one from a thousand times larger.
    /// </summary>
    [Fact]
    public async Task A_helper_that_prints_more_than_the_bound_and_exits_is_refused_at_the_bound()
    {
        var e = await Fails(Store("""{"credsStore":"h"}""", $"head -c {4 << 20} /dev/zero"));
        Assert.Contains($"more than {DockerCredentialStore.MaxHelperOutputBytes} bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_missing_or_path_named_helper_and_a_bad_answer_are_clear_errors()
    {
        var failed = await Fails(Store("""{"credsStore":"h"}""", "echo 'keychain locked' >&2; exit 3"));
        Assert.Contains("exit 3", failed.Message);
        Assert.Contains("keychain locked", failed.Message);

        Assert.Contains("no executable docker-credential-absent is on PATH", (await Fails(Store("""{"credsStore":"absent"}"""))).Message);
        Assert.Contains("a helper name is letters", (await Fails(Store("""{"credHelpers":{"r.example.test":"../../bin/sh"}}"""))).Message);
        Assert.Contains("not JSON", (await Fails(Store("""{"credsStore":"h"}""", "echo not-json"))).Message);
        Assert.Contains("without a Username and Secret", (await Fails(Store("""{"credsStore":"h"}""", "echo '{\"ServerURL\":\"x\"}'"))).Message);
        Assert.Contains("identity token", (await Fails(Store("""{"credsStore":"h"}""", "echo '{\"Username\":\"<token>\",\"Secret\":\"refresh\"}'"))).Message);
    }

    [Fact]
    public async Task A_failure_is_not_remembered_and_an_answer_is_asked_for_once()
    {
        var store = Store("""{"credsStore":"h"}""", """
            count="$(dirname "$0")/count"; n=$(cat "$count" 2>/dev/null || echo 0); echo $((n + 1)) > "$count"
            [ "$n" = 0 ] && { echo 'first call fails' >&2; exit 3; }
            echo '{"ServerURL":"r.example.test","Username":"u","Secret":"s"}'
            """);
        Assert.Contains("first call fails", (await Fails(store)).Message);
        Assert.Equal("u", (await store.GetAsync("r.example.test", CancellationToken.None))!.UserName);
        Assert.Equal("s", (await store.GetAsync("r.example.test", CancellationToken.None))!.Password);
        Assert.Equal("2", File.ReadAllText(Path.Combine(Path.GetDirectoryName(store.ConfigPath)!, "count")).Trim());
    }

    [Fact]
    public async Task Config_files_that_are_not_json_too_large_or_badly_encoded_are_clear_errors()
    {
        Assert.Contains("not valid JSON", (await Fails(Store("{\"auths\":"))).Message);
        Assert.Contains("not base64", (await Fails(Store("""{"auths":{"r.example.test":{"auth":"%%%"}}}"""))).Message);
        var big = Store("{\"pad\":\"" + new string('x', DockerCredentialStore.MaxConfigBytes) + "\"}");
        // Refused on the size the file system gives, before a byte of it is read (the bounded read is for files whose
        // size is no guide: a link to a device).
        var refused = (await Fails(big)).Message;
        Assert.Contains($"is {new FileInfo(big.ConfigPath).Length} bytes, more than the {DockerCredentialStore.MaxConfigBytes}", refused, StringComparison.Ordinal);
        Assert.Contains("it was not read", refused, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_that_is_a_link_to_an_endless_device_is_read_up_to_its_bound_only()
    {
        // A hostile local config: a link to /dev/zero has length 0 to the file system and no end. It is counted as
        // it is read and refused past 1 MiB, not read whole (which grew to 2 GiB before failing).
        string root = _dir.Combine("dev-zero");
        Directory.CreateDirectory(root);
        File.CreateSymbolicLink(Path.Combine(root, "config.json"), "/dev/zero");
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = await Fails(new DockerCredentialStore(root, root));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Contains($"holds more than the {DockerCredentialStore.MaxConfigBytes} bytes", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"reading it allocated {allocated} bytes");
    }

    [Fact]
    public async Task A_config_that_is_a_pipe_nobody_writes_to_is_refused_after_the_open_timeout_not_waited_for()
    {
        // A FIFO blocks open(2) until a writer comes: `infra pull` hung there. It is refused once OpenTimeout passes.
        string root = _dir.Combine("fifo");
        Directory.CreateDirectory(root);
        var fifo = Path.Combine(root, "config.json");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) await mkfifo.WaitForExitAsync();
        Assert.True(File.Exists(fifo));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // On a thread of its own, bounded: before, the open blocked the caller's thread itself.
        var e = await Task.Run(() => Fails(new DockerCredentialStore(root, root))).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("did not open within 5 s (a named pipe nobody writes to?); it was not read", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed >= DockerCredentialStore.OpenTimeout - TimeSpan.FromMilliseconds(100), $"refused after {clock.Elapsed}");

        // The open left waiting ends once a writer comes (and closes what it opened): no thread stays blocked.
        await using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
    }

    [Fact]
    public async Task Keys_match_as_docker_matches_them_and_absent_config_or_entry_gives_none()
    {
        var store = Store("""{"auths":{"https://R.Example.Test:5000/v1/":{"username":"u","password":"p"}}}""");
        var found = await store.GetAsync("r.example.test:5000", CancellationToken.None);
        Assert.Equal(("u", "p"), (found!.UserName, found.Password));
        Assert.Equal(["r.example.test:5000"], found.Registries);
        Assert.Null(await store.GetAsync("r.example.test", CancellationToken.None));
        Assert.Null(await new DockerCredentialStore(_dir.Combine("nothing-here"), null).GetAsync("r.example.test", CancellationToken.None));

        var fromEnv = DockerCredentialStore.FromEnvironment(n => n == "HOME" ? "/home/someone" : null);
        Assert.Equal("/home/someone/.docker/config.json", fromEnv.ConfigPath);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace InfraMind.Testing;

/// <summary>
/// A real server a test starts on a 127.0.0.1 port of its own and stops by its PID: the shared part of
/// <see cref="RegistryPeer"/> and <see cref="NginxPeer"/>.
/// </summary>
public abstract class PeerProcess : IAsyncDisposable
{
    private Process? _process;

    protected PeerProcess(string prefix)
    {
        Directory = new TempDirectory(prefix);
    }

    public TempDirectory Directory { get; }

    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public string HostPort => $"127.0.0.1:{Port}";

    public Uri BaseUri => new($"http://{HostPort}/");

    public int ProcessId => _process?.Id ?? 0;

    /// <summary>What the server wrote to stdout/stderr, for failure messages.</summary>
    public string Log => File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;

    protected string LogPath => Directory.Combine("peer.log");

    /// <summary>
    /// Finds an executable on PATH or at one of <paramref name="candidates"/>; when missing, fails or skips the test
    /// (<see cref="Peers.Missing"/>).
    /// </summary>
    public static string FindExecutable(string name, string installScript, params string[] candidates)
    {
        foreach (string c in candidates.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(p => Path.Combine(p, name))))
        {
            if (File.Exists(c))
            {
                return c;
            }
        }

        throw Peers.Missing($"{name} is not installed", $"run {installScript} (scripts/setup-peers.sh runs it)");
    }

    /// <summary>
    /// Starts the server on a free port; retries with another port when the first was taken meanwhile. (These peers
    /// cannot listen on port 0 and say which port they got, so a port is picked first and a conflict retried.)
    /// </summary>
    protected async Task StartAsync(string executable, Func<int, IReadOnlyList<string>> arguments, Func<int, Task> beforeStart, Func<HttpResponseMessage, bool> ready, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            Port = FreePort();
            await beforeStart(Port);
            var info = new ProcessStartInfo(executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory ?? string.Empty,
            };
            foreach (string a in arguments(Port))
            {
                info.ArgumentList.Add(a);
            }

            _process = Process.Start(TiedTo(info, Environment.ProcessId))!;
            var log = new StreamWriter(LogPath, append: true) { AutoFlush = true };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            // Generous: a Node.js peer (ganache, Hardhat) takes 3-5 s on quiet cores and several times that under the suite's
            // load; a peer that lost its port exits at once, which ends this wait early.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            while (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                try
                {
                    using var response = await http.GetAsync(BaseUri, cancellationToken);
                    if (ready(response))
                    {
                        // Whoever answered, the peer must still be running: one that lost the port to another
                        // process between the pick and its bind exits, and that other process is not the peer.
                        await Task.Delay(100, cancellationToken);
                        if (!_process.HasExited) return;
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // A peer that accepts connections before it answers (Hardhat compiling its config) takes longer than one poll.
                }

                await Task.Delay(20, cancellationToken);
            }

            await StopAsync();
        }

        throw new InvalidOperationException($"{executable} did not start on 127.0.0.1 (3 ports tried). Log:\n{Log}");
    }

    public async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// <paramref name="info"/> made to end with the process <paramref name="hostPid"/> (the test host): a host killed
    /// outright (a hang timeout, a mutation run's timeout, SIGKILL) runs no DisposeAsync, and a server it started would
    /// run on, holding its port and directory (seen: dev chains left by killed test hosts). A shell starts the command and
    /// checks every half second that both live; once the host is gone it ends the command, and once the command exits
    /// the shell exits with its code. Output and environment are the command's. Stop it with
    /// <c>Kill(entireProcessTree: true)</c>: the shell and the command are two processes. (The IPFS peer, a Node.js
    /// program, ends itself the same way: tests/peers/ipfs/reap.cjs.)
    /// </summary>
    public static ProcessStartInfo TiedTo(ProcessStartInfo info, int hostPid)
    {
        ArgumentNullException.ThrowIfNull(info);
        var tied = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = info.RedirectStandardOutput,
            RedirectStandardError = info.RedirectStandardError,
            RedirectStandardInput = info.RedirectStandardInput,
            UseShellExecute = false,
            WorkingDirectory = info.WorkingDirectory,
        };
        tied.Environment.Clear();
        foreach (var (k, v) in info.Environment) tied.Environment[k] = v;
        tied.ArgumentList.Add("-c");
        tied.ArgumentList.Add("""
            host=$1; shift
            "$@" & child=$!
            while kill -0 "$host" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
            kill "$child" 2>/dev/null
            wait "$child"
            """);
        tied.ArgumentList.Add("peer");
        tied.ArgumentList.Add(hostPid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        tied.ArgumentList.Add(info.FileName);
        foreach (var a in info.ArgumentList) tied.ArgumentList.Add(a);
        return tied;
    }

    /// <summary>
    /// A port nothing listens on now (the OS picks it), for a server that cannot listen on port 0 and report its port:
    /// whoever uses it must retry on a conflict, as <see cref="StartAsync"/> and <see cref="ListenerServer"/> do. A
    /// server that can bind port 0 does, and its port is read back; a port where nothing may answer is a <see cref="ClosedPort"/>.
    /// </summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// Debian's <c>docker-registry</c> (distribution 2.8) with filesystem storage under a temp directory, deletes enabled,
/// optionally behind htpasswd basic auth. Installed by tests/peers/registry/install.sh.
/// </summary>
public sealed class RegistryPeer : PeerProcess
{
    private RegistryPeer()
        : base("im-registry")
    {
    }

    public string StorageDirectory => Directory.Combine("storage");

    public (string User, string Password)? Credentials { get; private set; }

    /// <summary>Where the registry keeps a blob (layers, configs and manifests alike) on disk.</summary>
    public string BlobDataPath(string digest)
    {
        string hex = digest["sha256:".Length..];
        return Path.Combine(StorageDirectory, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    /// <summary>Starts a registry; where docker-registry is not installed the test fails or is skipped (<see cref="Peers.Missing"/>).</summary>
    public static async Task<RegistryPeer> StartAsync(string? user = null, string? password = null, CancellationToken cancellationToken = default)
    {
        string exe = FindExecutable("docker-registry", "tests/peers/registry/install.sh", "/usr/bin/docker-registry");

        var peer = new RegistryPeer();
        string config = peer.Directory.Combine("config.yml");
        string auth = string.Empty;
        if (user is not null && password is not null)
        {
            peer.Credentials = (user, password);
            string htpasswd = peer.Directory.Combine("htpasswd");
            await File.WriteAllTextAsync(htpasswd, $"{user}:{Bcrypt(password)}\n", cancellationToken);
            auth = $"auth:\n  htpasswd:\n    realm: inframind-test\n    path: {htpasswd}\n";
        }

        await peer.StartAsync(
            exe,
            _ => ["serve", config],
            port => File.WriteAllTextAsync(config,
                "version: 0.1\n" +
                "log:\n  level: warn\n" +
                $"storage:\n  filesystem:\n    rootdirectory: {peer.StorageDirectory}\n  delete:\n    enabled: true\n" +
                $"http:\n  addr: 127.0.0.1:{port}\n" + auth, cancellationToken),
            r => r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized or HttpStatusCode.NotFound,
            cancellationToken);
        return peer;
    }

    // htpasswd files of the registry hold bcrypt hashes; Python's crypt module (present wherever python3 is) makes them.
    // Cost 4 (16 rounds), bcrypt's minimum: the registry verifies the hash on every request, and at the default cost
    // 12 a small push took seconds on a loaded 2-core machine. A test password guards nothing.
    private static string Bcrypt(string password)
    {
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add("-W");
        info.ArgumentList.Add("ignore");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))");
        using var p = Process.Start(info)!;
        p.StandardInput.Write(password);
        p.StandardInput.Close();
        string hash = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return hash.StartsWith("$2", StringComparison.Ordinal) ? hash : throw new InvalidOperationException("python3 crypt could not make a bcrypt hash: " + p.StandardError.ReadToEnd());
    }
}

/// <summary>
/// Debian's nginx in the foreground with its dav module taking PUT into <see cref="Root"/>; everything (config, temp
/// paths, pid, logs) under a temp directory. Installed by tests/peers/nginx/install.sh.
/// </summary>
public sealed class NginxPeer : PeerProcess
{
    private NginxPeer()
        : base("im-nginx")
    {
    }

    /// <summary>The directory nginx serves and writes PUT files into.</summary>
    public string Root => Directory.Combine("www");

    public string FilePath(string urlPath) => Path.Combine(Root, urlPath.TrimStart('/'));

    /// <summary>Starts nginx; where it is not installed the test fails or is skipped (<see cref="Peers.Missing"/>).</summary>
    public static async Task<NginxPeer> StartAsync(CancellationToken cancellationToken = default)
    {
        string exe = FindExecutable("nginx", "tests/peers/nginx/install.sh", "/usr/sbin/nginx");

        var peer = new NginxPeer();
        string prefix = peer.Directory.Path;
        string config = peer.Directory.Combine("nginx.conf");
        foreach (string dir in new[] { peer.Root, Path.Combine(prefix, "tmp") })
        {
            System.IO.Directory.CreateDirectory(dir);
        }

        // Workers run as nobody when nginx starts as root: the served and temp directories must be theirs to write.
        var open = (UnixFileMode)0x1FF;
        File.SetUnixFileMode(prefix, open);
        File.SetUnixFileMode(peer.Root, open);
        File.SetUnixFileMode(Path.Combine(prefix, "tmp"), open);
        string errorLog = peer.Directory.Combine("error.log");
        await peer.StartAsync(
            exe,
            _ => ["-p", prefix + "/", "-c", config, "-e", errorLog],
            port => File.WriteAllTextAsync(config, $$"""
                daemon off;
                worker_processes 1;
                pid {{prefix}}/nginx.pid;
                error_log {{errorLog}} warn;
                events { worker_connections 64; }
                http {
                  access_log off;
                  client_body_temp_path {{prefix}}/tmp/body;
                  proxy_temp_path {{prefix}}/tmp/proxy;
                  fastcgi_temp_path {{prefix}}/tmp/fastcgi;
                  uwsgi_temp_path {{prefix}}/tmp/uwsgi;
                  scgi_temp_path {{prefix}}/tmp/scgi;
                  server {
                    listen 127.0.0.1:{{port}};
                    root {{peer.Root}};
                    location / {
                      dav_methods PUT DELETE MKCOL COPY MOVE;
                      create_full_put_path on;
                      client_max_body_size 0;
                    }
                  }
                }
                """, cancellationToken),
            r => (int)r.StatusCode is 200 or 403 or 404,
            cancellationToken);
        return peer;
    }
}

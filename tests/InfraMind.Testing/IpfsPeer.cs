using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit;

namespace InfraMind.Testing;

/// <summary>
/// A real js-ipfs daemon (npm ipfs 0.66.1, tests/peers/ipfs) with the Kubo RPC API and a gateway on 127.0.0.1, offline,
/// with its own repository in a temp directory. Stopped by its own PID on dispose.
/// </summary>
public sealed class IpfsPeer : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly TempDirectory _repo;
    private readonly Task _drainOut;
    private readonly Task _drainErr;
    private readonly System.Text.StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _api = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Uri> _gateway = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IpfsPeer(Process process, TempDirectory repo, string repoPath)
    {
        _process = process;
        _repo = repo;
        RepoPath = repoPath;
        _drainOut = Drain(process.StandardOutput);
        _drainErr = Drain(process.StandardError);
    }

    public static string PeerDir => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "ipfs");

    public static string CliScript => Path.Combine(PeerDir, "node_modules", "ipfs", "src", "cli.js");

    public static string Polyfill => Path.Combine(PeerDir, "polyfill.cjs");

    public static string Reaper => Path.Combine(PeerDir, "reap.cjs");

    /// <summary>The RPC address (<c>http://127.0.0.1:PORT</c>; the API is under <c>/api/v0</c>).</summary>
    public Uri Api { get; private set; } = null!;

    /// <summary>The path gateway (<c>http://127.0.0.1:PORT</c>; content under <c>/ipfs/CID</c>).</summary>
    public Uri Gateway { get; private set; } = null!;

    /// <summary>The node's repository (its <c>IPFS_PATH</c>): config, datastore and the blockstore under <c>blocks/</c>.</summary>
    public string RepoPath { get; }

    /// <summary>From process start until <c>/api/v0/version</c> answered.</summary>
    public TimeSpan StartTime { get; private set; }

    /// <summary>How long <c>jsipfs init</c> took (key generation and repository).</summary>
    public TimeSpan InitTime { get; private set; }

    public int ProcessId => _process.Id;

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>
    /// Starts a daemon. Where the peer is not installed (tests/peers/ipfs/install.sh, needs node and npm) the test
    /// fails or is skipped (<see cref="Peers.Missing"/>). Both listeners bind port 0: the ports are read back from
    /// what the daemon prints, so no port is picked first and lost to another process meanwhile.
    /// </summary>
    public static async Task<IpfsPeer> StartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(CliScript) || !HasNode())
        {
            throw Peers.Missing("the js-ipfs peer is not installed", "run tests/peers/ipfs/install.sh (needs node and npm)");
        }

        var repo = new TempDirectory("im-ipfs");
        try
        {
            string configPath = repo.Combine("init-config.json");
            await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(Config()), cancellationToken);
            string ipfsPath = repo.Combine("repo");
            var initWatch = Stopwatch.StartNew();
            var init = NodeProcess(ipfsPath, "init", "--emptyRepo", $"--defaultConfig={configPath}");
            using (var p = Process.Start(init)!)
            {
                var err = p.StandardError.ReadToEndAsync(cancellationToken);
                var output = await p.StandardOutput.ReadToEndAsync(cancellationToken);
                await p.WaitForExitAsync(cancellationToken);
                if (p.ExitCode != 0) throw new InvalidOperationException($"jsipfs init failed ({p.ExitCode}): {await err}\n{output}");
            }

            var watch = Stopwatch.StartNew();
            var process = Process.Start(NodeProcess(ipfsPath, "daemon", "--offline", "--enable-preload=false"))!;
            var peer = new IpfsPeer(process, repo, ipfsPath);
            try
            {
                await peer.WaitForApiAsync(cancellationToken);
            }
            catch
            {
                await peer.DisposeAsync();
                throw;
            }

            peer.StartTime = watch.Elapsed;
            peer.InitTime = initWatch.Elapsed - watch.Elapsed;
            return peer;
        }
        catch
        {
            repo.Dispose();
            throw;
        }
    }

    /// <summary>js-ipfs's blockstore (flatfs): one <c>.data</c> file per block, named by its multihash, sharded.</summary>
    public string BlocksDirectory => Path.Combine(RepoPath, "blocks");

    private async Task WaitForApiAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        var exited = _process.WaitForExitAsync(limit.Token);
        var listening = Task.WhenAll(_api.Task, _gateway.Task);
        var first = await Task.WhenAny(listening, exited, Task.Delay(Timeout.Infinite, limit.Token));
        if (first == exited && _process.HasExited)
            throw new InvalidOperationException($"the js-ipfs daemon exited ({_process.ExitCode}) before it listened:\n{Log}");
        if (first != listening)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"the js-ipfs daemon did not print its API and gateway addresses within 60 s:\n{Log}");
        }

        Api = await _api.Task;
        Gateway = await _gateway.Task;

        // Listening is printed once the servers are bound; the API answering proves the node behind them is up.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        while (true)
        {
            try
            {
                using var response = await http.PostAsync(new Uri(Api, "/api/v0/version"), null, limit.Token);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException) when (!limit.IsCancellationRequested)
            {
            }

            if (limit.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"the js-ipfs daemon did not answer /api/v0/version within 60 s:\n{Log}");
            }

            await Task.Delay(50, limit.Token);
        }
    }

    private static Dictionary<string, object> Config() => new Dictionary<string, object>
    {
        ["Addresses"] = new Dictionary<string, object>
        {
            ["API"] = "/ip4/127.0.0.1/tcp/0",
            ["Gateway"] = "/ip4/127.0.0.1/tcp/0",
            ["RPC"] = "",
            ["Swarm"] = Array.Empty<string>(),
            ["Announce"] = Array.Empty<string>(),
            ["NoAnnounce"] = Array.Empty<string>(),
            ["Delegates"] = Array.Empty<string>(),
        },
        ["Bootstrap"] = Array.Empty<string>(),
        ["Discovery"] = new Dictionary<string, object>
        {
            ["MDNS"] = new Dictionary<string, object> { ["Enabled"] = false },
            ["webRTCStar"] = new Dictionary<string, object> { ["Enabled"] = false },
        },
        ["Pubsub"] = new Dictionary<string, object> { ["Enabled"] = false },
    };

    private static ProcessStartInfo NodeProcess(string ipfsPath, params string[] args)
    {
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = PeerDir,
        };
        psi.ArgumentList.Add(CliScript);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["IPFS_PATH"] = ipfsPath;
        // js-ipfs 0.66 calls Promise.withResolvers, which Node 20 lacks.
        psi.Environment["NODE_OPTIONS"] = $"--require {Polyfill} --require {Reaper}";
        psi.Environment["INFRAMIND_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["IPFS_MONITORING"] = "";
        return psi;
    }

    private static bool HasNode()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit(10_000);
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private async Task Drain(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log) _log.AppendLine(line);
            // "HTTP API listening on /ip4/127.0.0.1/tcp/44265/http", "Gateway (read only) listening on /ip4/…/tcp/40723/http"
            if (Listening(line, "HTTP API listening on ") is { } api) _api.TrySetResult(api);
            else if (Listening(line, "Gateway (read only) listening on ") is { } gateway) _gateway.TrySetResult(gateway);
        }
    }

    private static Uri? Listening(string line, string prefix)
    {
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var parts = line[prefix.Length..].Trim().Split('/');
        // ["", "ip4", "127.0.0.1", "tcp", "PORT", "http"]
        return parts.Length >= 5 && parts[1] == "ip4" && parts[3] == "tcp" && int.TryParse(parts[4], out var port)
            ? new Uri($"http://{parts[2]}:{port}")
            : null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // The repository is thrown away with the temp directory, so there is nothing to close cleanly.
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            await Task.WhenAll(_drainOut, _drainErr).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            _process.Dispose();
            _repo.Dispose();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}

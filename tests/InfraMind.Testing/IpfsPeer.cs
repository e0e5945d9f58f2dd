using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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

    private IpfsPeer(Process process, TempDirectory repo, Uri api, Uri gateway)
    {
        _process = process;
        _repo = repo;
        Api = api;
        Gateway = gateway;
        _drainOut = Drain(process.StandardOutput);
        _drainErr = Drain(process.StandardError);
    }

    public static string PeerDir => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "ipfs");

    public static string CliScript => Path.Combine(PeerDir, "node_modules", "ipfs", "src", "cli.js");

    public static string Polyfill => Path.Combine(PeerDir, "polyfill.cjs");

    public static string Reaper => Path.Combine(PeerDir, "reap.cjs");

    /// <summary>The RPC address (<c>http://127.0.0.1:PORT</c>; the API is under <c>/api/v0</c>).</summary>
    public Uri Api { get; }

    /// <summary>The path gateway (<c>http://127.0.0.1:PORT</c>; content under <c>/ipfs/CID</c>).</summary>
    public Uri Gateway { get; }

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
    /// Starts a daemon, or returns null when the peer is not installed and CI is not set (the test then returns early).
    /// Under CI=true a missing peer fails the test: CI must have run tests/peers/ipfs/install.sh.
    /// </summary>
    public static async Task<IpfsPeer?> TryStartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(CliScript) || !HasNode())
        {
            if (TestEngine.IsCi) Assert.Fail("CI=true but the js-ipfs peer is not installed: run tests/peers/ipfs/install.sh (needs node and npm).");
            return null;
        }

        return await StartAsync(cancellationToken);
    }

    public static async Task<IpfsPeer> StartAsync(CancellationToken cancellationToken = default)
    {
        var repo = new TempDirectory("im-ipfs");
        try
        {
            int apiPort = FreePort();
            int gatewayPort = FreePort();
            while (gatewayPort == apiPort) gatewayPort = FreePort();
            string configPath = repo.Combine("init-config.json");
            await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(Config(apiPort, gatewayPort)), cancellationToken);
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
            var api = new Uri($"http://127.0.0.1:{apiPort}");
            var peer = new IpfsPeer(process, repo, api, new Uri($"http://127.0.0.1:{gatewayPort}"));
            try
            {
                await WaitForApiAsync(process, api, peer, cancellationToken);
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

    private static async Task WaitForApiAsync(Process process, Uri api, IpfsPeer peer, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
                throw new InvalidOperationException($"the js-ipfs daemon exited ({process.ExitCode}) before it answered:\n{peer.Log}");
            try
            {
                using var response = await http.PostAsync(new Uri(api, "/api/v0/version"), null, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException($"the js-ipfs daemon did not answer /api/v0/version within 60 s:\n{peer.Log}");
            await Task.Delay(50, cancellationToken);
        }
    }

    private static Dictionary<string, object> Config(int apiPort, int gatewayPort) => new Dictionary<string, object>
    {
        ["Addresses"] = new Dictionary<string, object>
        {
            ["API"] = $"/ip4/127.0.0.1/tcp/{apiPort}",
            ["Gateway"] = $"/ip4/127.0.0.1/tcp/{gatewayPort}",
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task Drain(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log) _log.AppendLine(line);
        }
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

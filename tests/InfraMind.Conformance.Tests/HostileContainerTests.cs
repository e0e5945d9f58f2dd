using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using InfraMind.Containers;
using InfraMind.Testing;
using Xunit.Abstractions;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// Isolation, proven by a model that attacks: before it serves, it tries to reach every kind of destination there is
/// from a container on this machine — the host's loopback, the host's own interface address, the host's address on an
/// engine bridge, a container on that bridge, another run's container, the host's abstract unix sockets, a raw socket,
/// and addresses off the machine — and answers every request with what it observed. `infra test` must still reach its
/// port and pass it, while every attempt failed, and failed the way "no network" fails: no listener of the test's
/// saw a connection, and nothing off the machine was ever sent to (the container has no route and no interface but lo,
/// so the kernel refuses with ENETUNREACH before a packet exists; probe.py does not even try when it has a network).
/// </summary>
[Collection(EngineCollection.Name)]
public sealed class HostileContainerTests(ITestOutputHelper output)
{
    private static readonly CancellationToken None = CancellationToken.None;

    [SkippableFact]
    public async Task A_hostile_model_reaches_nothing_while_infra_test_reaches_its_port()
    {
        using var engine = await TestEngine.ConnectAsync();
        var label = Guid.NewGuid().ToString("N");
        var labels = new Dictionary<string, string> { ["org.inframind.test"] = label };
        var network = $"im-hostile-{label[..12]}";
        string? bridgeContainer = null;
        using var hostLoopback = new CountingListener(new IPEndPoint(IPAddress.Loopback, 0));
        var hostAddress = HostInterfaceAddress();
        Assert.NotNull(hostAddress); // an IPv4 address on an interface that is up, besides loopback
        using var hostInterface = new CountingListener(new IPEndPoint(hostAddress, 0));
        using var abstractSocket = new CountingListener(new UnixDomainSocketEndPoint("\0inframind-hostile-" + label));
        CountingListener? bridgeGateway = null;
        RunningContainer? otherRun = null;
        try
        {
            // An engine bridge with a container on it: what every run had before, and what other workloads may have.
            DockerCli.Run(check: true, "network", "create", "--label", $"org.inframind.test={label}", network);
            var gateway = IPAddress.Parse(DockerCli.Run(check: true, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", network).Trim());
            bridgeContainer = DockerCli.Run(check: true, "run", "-d", "--network", network, "--label", $"org.inframind.test={label}", "--memory", "64m",
                TestEngine.BaseImage, "python3", "-m", "http.server", "9100").Trim();
            var bridgeAddress = IPAddress.Parse(DockerCli.Run(check: true, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", bridgeContainer).Trim());
            bridgeGateway = new CountingListener(new IPEndPoint(gateway, 0));
            // Another run, isolated like every run, listening on 9100 in its own namespace.
            otherRun = await engine.RunAsync(new ContainerSpec
            {
                Image = TestEngine.BaseImage,
                ContainerPort = 9100,
                MemoryBytes = 64L << 20,
                Command = ["python3", "-m", "http.server", "9100"],
                Labels = labels,
            }, None);

            // Controls: each target is live, seen from where it is reachable (this machine, or the other run's namespace).
            await WaitUntilAsync(() => ConnectsAsync(new IPEndPoint(bridgeAddress, 9100)), "the bridge container's http.server");
            await WaitUntilAsync(() => otherRun.ProbePortAsync(None), "the other run's http.server");
            foreach (var control in new[] { hostLoopback, hostInterface, bridgeGateway, abstractSocket })
            {
                Assert.True(await ConnectsAsync(control.EndPoint), $"control: this machine cannot reach its own listener {control.EndPoint}");
                await WaitUntilAsync(() => Task.FromResult(control.Accepted == 1), $"the control connection to {control.EndPoint}");
            }

            var controlCounts = new[] { hostLoopback, hostInterface, bridgeGateway, abstractSocket }.Select(l => l.Accepted).ToList();
            var targets = string.Join(' ',
                $"host-loopback=tcp4:127.0.0.1:{hostLoopback.Port}",
                $"host-interface=tcp4:{hostAddress}:{hostInterface.Port}",
                $"bridge-gateway=tcp4:{gateway}:{bridgeGateway.Port}",
                $"bridge-container=tcp4:{bridgeAddress}:9100",
                "other-run=tcp4:127.0.0.1:9100",
                $"host-abstract-socket=unix:inframind-hostile-{label}",
                "raw-socket=raw4:127.0.0.1",
                "offsite-tcp4=tcp4:198.51.100.7:80",
                "offsite-udp4=udp4:198.51.100.7:53",
                "offsite-tcp6=tcp6:[2001:db8::7]:80");

            using var package = new TempDirectory("im-hostile");
            BrokenModel.Create(package.Path, "hostile-" + label[..8], "BEHAVIOR=hostile", $"ENV TARGETS=\"{targets}\"");
            var report = await new ConformanceRunner(engine).RunPackageAsync(package.Path, new ConformanceOptions
            {
                Cases = 2,
                HookTimeout = TimeSpan.FromSeconds(20),
                ReadinessTimeout = TimeSpan.FromSeconds(30),
                Labels = labels,
            }, None);

            // `infra test` reached the port through the container's namespace: every case answered and passed.
            Assert.True(report.Passed, string.Join("\n", report.Steps.Select(s => $"{s.Step} {s.Status} {s.Detail}")));
            var answer = JsonDocument.Parse(report.Cases.First(c => c.Positive).Response!).RootElement.GetProperty("summary").GetString()!;
            using var observed = JsonDocument.Parse(answer);
            var results = observed.RootElement.GetProperty("results").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            var seen = string.Join(", ", results.Select(r => $"{r.Key}: {r.Value}"));
            output.WriteLine($"the hostile model observed: {seen}; interfaces {observed.RootElement.GetProperty("interfaces")}");

            // What it has: its own loopback, no route anywhere.
            Assert.Equal(["lo"], observed.RootElement.GetProperty("interfaces").EnumerateArray().Select(e => e.GetString()));
            Assert.Empty(observed.RootElement.GetProperty("routes").EnumerateArray());
            Assert.Empty(observed.RootElement.GetProperty("routes6").EnumerateArray());

            // What it got: its own loopback has nothing of the host's or the other run's on it; every other address is
            // unreachable before a packet is sent; the host's abstract sockets live in another namespace; no raw sockets.
            Assert.Equal(10, results.Count);
            Assert.DoesNotContain(results.Values, v => v is "connected" or "sent" or "timeout" || v!.StartsWith("skipped", StringComparison.Ordinal));
            Assert.True(results["host-loopback"] == "ECONNREFUSED", seen);
            Assert.True(results["other-run"] == "ECONNREFUSED", seen);
            Assert.True(results["host-interface"] == "ENETUNREACH", seen);
            Assert.True(results["bridge-gateway"] == "ENETUNREACH", seen);
            Assert.True(results["bridge-container"] == "ENETUNREACH", seen);
            Assert.True(results["offsite-tcp4"] == "ENETUNREACH", seen);
            Assert.True(results["offsite-udp4"] == "ENETUNREACH", seen);
            Assert.True(results["offsite-tcp6"] is "ENETUNREACH" or "EADDRNOTAVAIL", seen);
            Assert.True(results["host-abstract-socket"] == "ECONNREFUSED", seen);
            Assert.True(results["raw-socket"] == "EPERM", seen);

            // And on this machine's side: no listener of the test's saw anything but its own control connection.
            Assert.Equal(controlCounts, new[] { hostLoopback, hostInterface, bridgeGateway, abstractSocket }.Select(l => l.Accepted).ToList());
        }
        finally
        {
            if (otherRun is not null) await otherRun.DisposeAsync();
            bridgeGateway?.Dispose();
            if (bridgeContainer is not null) DockerCli.Run(check: false, "rm", "-f", bridgeContainer);
            DockerCli.Run(check: false, "network", "rm", network);
            // Its targets are baked into it, so the image is this run's alone.
            await TestEngine.RemoveTestImagesAsync(engine, force: true, $"hostile-{label[..8]}:1.0.0");
        }

        var left = await engine.PruneAsync(labels, null, None);
        Assert.Empty(left.Containers);
        Assert.Empty(left.Networks);
    }

    /// <summary>This machine's first IPv4 address on an interface that is up, other than loopback (eth0's, typically).</summary>
    private static IPAddress? HostInterfaceAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == OperationalStatus.Up && i.NetworkInterfaceType != NetworkInterfaceType.Loopback && !i.Name.StartsWith("br-", StringComparison.Ordinal))
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);

    private static async Task<bool> ConnectsAsync(EndPoint endPoint)
    {
        using var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.ConnectAsync(endPoint, limit.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what} never listened");
            await Task.Delay(50);
        }
    }

    /// <summary>A listener of the test's that counts the connections it accepted (and closes them).</summary>
    private sealed class CountingListener : IDisposable
    {
        private readonly Socket _socket;
        private readonly CancellationTokenSource _stop = new();
        private int _accepted;

        public CountingListener(EndPoint endPoint)
        {
            _socket = endPoint is UnixDomainSocketEndPoint
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            _socket.Bind(endPoint);
            _socket.Listen(16);
            EndPoint = _socket.LocalEndPoint!;
            _ = AcceptAsync();
        }

        public EndPoint EndPoint { get; }

        public int Port => ((IPEndPoint)EndPoint).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var client = await _socket.AcceptAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}

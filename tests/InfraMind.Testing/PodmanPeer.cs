using System.Diagnostics;
using InfraMind.Containers;

namespace InfraMind.Testing;

/// <summary>
/// Podman's Docker-compatible API, served by `podman system service` on a unix socket of the test's own and stopped
/// by its PID. Where podman is not installed (tests/peers/podman/install.sh) the test fails or is skipped (<see cref="Peers.Missing"/>).
/// </summary>
public sealed class PodmanPeer : IAsyncDisposable
{
    private readonly Process _process;

    private PodmanPeer(Process process, TempDirectory directory, Uri endpoint)
    {
        _process = process;
        Directory = directory;
        Endpoint = endpoint;
    }

    public TempDirectory Directory { get; }

    /// <summary><c>unix:///…/podman.sock</c>, for DOCKER_HOST or <see cref="ContainerEngine.ConnectAsync(Uri, CancellationToken)"/>.</summary>
    public Uri Endpoint { get; }

    public static async Task<PodmanPeer> StartAsync()
    {
        var podman = PeerProcess.FindExecutable("podman", "tests/peers/podman/install.sh", "/usr/bin/podman", "/usr/local/bin/podman");

        var directory = new TempDirectory("im-podman");
        var socket = directory.Combine("podman.sock");
        var info = new ProcessStartInfo(podman) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "system", "service", "--time=0", "unix://" + socket }) info.ArgumentList.Add(a);
        var process = Process.Start(PeerProcess.TiedTo(info, Environment.ProcessId))!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var peer = new PodmanPeer(process, directory, new Uri("unix://" + socket));
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var engine = await ContainerEngine.ConnectAsync(peer.Endpoint, CancellationToken.None);
                return peer;
            }
            catch (EngineUnavailableException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                await Task.Delay(100);
            }
            catch
            {
                await peer.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>Copies an image from the Docker engine into Podman's storage (`docker save | podman load`) unless it is there.</summary>
    public static async Task ImportFromDockerAsync(string image)
    {
        if (await RunAsync("podman", "image", "exists", image) == 0) return;
        var code = await RunAsync("bash", "-o", "pipefail", "-c", $"docker save '{image}' | podman load");
        Xunit.Assert.True(code == 0, $"docker save {image} | podman load failed ({code})");
    }

    private static async Task<int> RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var drain = Task.WhenAll(p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(limit.Token);
        await drain;
        return p.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Dispose();
    }
}

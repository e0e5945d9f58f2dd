using System.Collections.Concurrent;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Tests;

/// <summary>
/// A version the node stops on purpose (no gateway places it any more, a yank, the node shutting down) is not a failed
/// container. The watch of a ready container waited for its exit or the next health check; stopping cancelled both,
/// and when the engine's cancelled wait had completed by the time the watch looked, it took the stop for the
/// container's death: a warning "failed on this node: container-exited … exited with code 0; restarting" (and a
/// failure counted) for a container that was running. Seen on 5 of ~15 stops in a mesh under load; here a version is
/// started and stopped again several times, each stop a fresh chance for that interleaving (a race in the engine
/// client's cancellation that no test can order, so this test can pass by luck without the fix, rarely).
/// </summary>
public sealed class StopTests
{
    private const int Stops = 8;

    private sealed class Warnings(ConcurrentQueue<string> sink) : ILogger<NodeAgent>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel level) => level >= LogLevel.Warning;

        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? e, Func<TState, Exception?, string> format)
        {
            if (level >= LogLevel.Warning) sink.Enqueue(format(state, e));
        }
    }

    [SkippableFact]
    public async Task A_version_the_node_stops_is_never_reported_as_a_container_that_died()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var dir = new TempDirectory("im-stop");
        TempDirectory.Copy(Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model"), dir.Path);
        var manifest = ManifestReader.Validate(dir.Path).Manifest!;
        var assignment = new ModelAssignment(manifest.Name, manifest.Version.ToString(), ManifestCache.Shared.Get(manifest).Json, "sha256:" + new string('0', 64), [], null);
        var run = Guid.NewGuid().ToString("N");
        var warnings = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            NodeId = "stop-" + run[..12], Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 1L << 30, 0),
            // The watch waits on the container's exit and a health tick that never comes during the test.
            HealthInterval = TimeSpan.FromHours(1),
            ContainerLabels = new Dictionary<string, string> { ["org.inframind.test"] = run },
        };
        try
        {
            await using var agent = new NodeAgent(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [assignment.Key] = dir.Path }),
                TimeProvider.System, new Warnings(warnings));
            for (var i = 0; i < Stops; i++)
            {
                await agent.ApplyAsync(new HeartbeatReply([assignment], []), CancellationToken.None);
                var wait = System.Diagnostics.Stopwatch.StartNew();
                while (agent.Reports().SingleOrDefault()?.State != ModelState.Ready)
                {
                    Assert.True(wait.Elapsed < TimeSpan.FromSeconds(60), $"the version never got ready: {string.Join(" | ", warnings)}");
                    await Task.Delay(50);
                }

                // Stopped: the node's own doing, which awaits the container's removal.
                await agent.ApplyAsync(new HeartbeatReply([], []), CancellationToken.None);
                Assert.Empty(agent.Reports());
            }

            Assert.True(warnings.IsEmpty, $"{warnings.Count} warning(s) in {Stops} stops: {string.Join(" | ", warnings)}");
        }
        finally
        {
            await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.test"] = run }, null, CancellationToken.None);
        }
    }
}

using InfraMind.Testing;
namespace InfraMind.Containers.Tests.Run;

/// <summary>Builds examples/summarizer-v1 once for the tests that run it, and removes the image afterwards.</summary>
public sealed class SummarizerImageFixture : IAsyncLifetime
{
    /// <summary>The engine; where none answers, every test of the class fails or is skipped (<see cref="Peers.Missing"/>).</summary>
    public ContainerEngine Engine { get; private set; } = null!;

    public string Tag { get; } = $"inframind-test/summarizer-v1:{Guid.NewGuid():N}";

    public string ImageId { get; private set; } = "";

    public List<string> BuildLines { get; } = [];

    /// <summary>Labels every test container gets, so that this test session's leftovers can be pruned alone.</summary>
    public Dictionary<string, string> SessionLabels { get; } = new() { ["org.inframind.test-session"] = Guid.NewGuid().ToString("N") };

    public async Task InitializeAsync()
    {
        Engine = await TestEngine.ConnectAsync();
        ImageId = await Engine.BuildImageAsync(
            TestEngine.ExampleDir("summarizer-v1"),
            Tag,
            new Dictionary<string, string> { ["org.inframind.test"] = "summarizer" },
            new LineCollector(BuildLines),
            CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (Engine is null)
        {
            return;
        }

        await Engine.PruneAsync(SessionLabels, null, CancellationToken.None);
        await TestEngine.RemoveTestImagesAsync(Engine, force: true, Tag);
        Engine.Dispose();
    }

    public ContainerSpec Spec(string? runId = null) => new()
    {
        Image = Tag,
        ContainerPort = 9000,
        CpuMillicores = 2000,
        MemoryBytes = 4L << 30,
        RunId = runId,
        Labels = SessionLabels,
    };

    private sealed class LineCollector(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}

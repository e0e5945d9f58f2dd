using InfraMind.Testing;
using System.Net;
using System.Text.Json;

namespace InfraMind.Containers.Tests.Run;

/// <summary>The second example model, built and run under the isolation policy with its model.yaml's limits.</summary>
public sealed class ExampleModelTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [SkippableFact]
    public async Task Iris_classifier_trains_in_init_and_classifies_under_its_limits()
    {
        using var engine = await TestEngine.ConnectAsync();

        var tag = $"inframind-test/iris-classifier:{Guid.NewGuid():N}";
        var session = new Dictionary<string, string> { ["org.inframind.test-session"] = Guid.NewGuid().ToString("N") };
        try
        {
            await engine.BuildImageAsync(TestEngine.ExampleDir("iris-classifier"), tag, new Dictionary<string, string>(), null, None);
            await using var run = await engine.RunAsync(
                new ContainerSpec { Image = tag, ContainerPort = 9000, CpuMillicores = 1000, MemoryBytes = 256L << 20, Labels = session },
                None);

            var init = await run.ExecAsync(["sh", "hooks/init.sh"], TimeSpan.FromSeconds(60), None);
            Assert.True(init.Succeeded, init.Stdout + init.Stderr);
            Assert.Contains("naive_bayes leave-one-out accuracy: 0.95", init.Stdout, StringComparison.Ordinal);

            await Http.WaitForHealthAsync(run.Connector, TimeSpan.FromSeconds(15));
            Assert.Equal(0, (await run.ExecAsync(["sh", "hooks/health.sh"], TimeSpan.FromSeconds(10), None)).ExitCode);

            var (status, body) = await Http.PostJsonAsync(run.Connector,
                """{"measurements": {"sepal_length": 67, "sepal_width": 31, "petal_length": 56, "petal_width": 24}, "unit": "mm", "method": "knn", "k": 7}""");
            Assert.Equal(HttpStatusCode.OK, status);
            var answer = JsonDocument.Parse(body).RootElement;
            Assert.Equal("virginica", answer.GetProperty("label").GetString());
            Assert.Equal("knn", answer.GetProperty("method").GetString());
            var probabilities = answer.GetProperty("probabilities").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.Equal(["setosa", "versicolor", "virginica"], probabilities.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(1.0, probabilities.Values.Sum(), 3);
            Assert.Equal(3, answer.GetProperty("ranking").GetArrayLength());

            var (badStatus, badBody) = await Http.PostJsonAsync(run.Connector,
                """{"measurements": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}, "candidates": ["tulip"]}""");
            Assert.Equal(HttpStatusCode.BadRequest, badStatus);
            var error = JsonDocument.Parse(badBody).RootElement.GetProperty("error");
            Assert.Equal("invalid_enum", error.GetProperty("code").GetString());
            Assert.Equal("/candidates/0", error.GetProperty("pointer").GetString());

            Assert.True((await run.InspectStateAsync(None)).Running);
        }
        finally
        {
            await engine.PruneAsync(session, null, None);
            await TestEngine.RemoveTestImagesAsync(engine, force: true, tag);
        }
    }
}

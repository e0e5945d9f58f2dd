using System.Collections.Concurrent;
using System.Net;
using System.Text;
using InfraMind.Manifest;
using InfraMind.Node.Images;
using InfraMind.Serving;
using InfraMind.Testing;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Tests;

/// <summary>
/// What a node's job API (a real Kestrel, a real container) passes on of a model's answer head that HTTP or Kestrel will
/// not take as it is. The node copied the model's status and Content-Type onto its own answer and wrote the body after
/// them, so a Content-Type with a byte that is not ASCII (or a control character), or a 205 with its body, threw inside
/// the node: an unhandled exception logged with its stack trace, and a bare 500 to the gateway, which judged it "the
/// model answered 500 to a valid input" (the same answer, on the gateway's direct route, passed). After a 204 or 304 the
/// write of no bytes threw too (the status had gone out; the stack trace was logged). A 101 to a job (which asks for no
/// upgrade) left the node reading the raw connection until the job's time ran out: request-timeout, held against the node.
/// </summary>
public sealed class JobRelayTests
{
    [SkippableFact]
    public async Task A_models_answer_head_the_node_cannot_pass_on_as_it_is_is_passed_on_without_it_or_named()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var dir = new TempDirectory("im-relay");
        TempDirectory.Copy(Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model"), dir.Path);
        var manifest = ManifestReader.Validate(dir.Path).Manifest!;
        var assignment = new ModelAssignment(manifest.Name, manifest.Version.ToString(), ManifestCache.Shared.Get(manifest).Json, "sha256:" + new string('0', 64), [], null);
        var run = Guid.NewGuid().ToString("N");
        var errors = new ConcurrentQueue<string>();
        var options = new NodeOptions
        {
            NodeId = "relay-" + run[..12], Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 1L << 30, 0), ListenUrl = "http://127.0.0.1:0",
            JobTimeout = TimeSpan.FromSeconds(20),
            ContainerLabels = new Dictionary<string, string> { ["org.inframind.test"] = run },
        };
        try
        {
            await using var node = await NodeHost.StartAsync(options, engine, new PackageDirectoryImageSource(engine, new Dictionary<string, string> { [assignment.Key] = dir.Path }),
                TimeProvider.System, logging => logging.AddProvider(new ErrorLogger(errors)), CancellationToken.None);
            await node.Agent.ApplyAsync(new HeartbeatReply([assignment], []), CancellationToken.None);
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (node.Agent.Reports().Single().State != ModelState.Ready)
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(90), $"the version never got ready: {node.Agent.Reports().Single().Detail}");
                await Task.Delay(50);
            }

            using var http = new HttpClient { BaseAddress = node.Url, Timeout = TimeSpan.FromSeconds(60) };
            async Task<(HttpResponseMessage Response, string Body, TimeSpan Took)> JobAsync(string text)
            {
                var took = System.Diagnostics.Stopwatch.StartNew();
                var response = await http.PostAsync($"jobs/{assignment.Name}/{assignment.Version}",
                    new StringContent($$"""{"text": "{{text}}"}""", Encoding.UTF8, "application/json"));
                return (response, await response.Content.ReadAsStringAsync(), took.Elapsed);
            }

            // A Content-Type the node cannot write: the answer is passed on whole, without it (a gateway reads the bytes).
            foreach (var text in new[] { "head:latin1-content-type", "head:control-content-type" })
            {
                var (response, body, _) = await JobAsync(text);
                using (response)
                {
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{text}: {(int)response.StatusCode} {body}");
                    Assert.Equal("""{"summary": "ok"}""", body);
                    Assert.Null(response.Content.Headers.ContentType);
                    Assert.False(response.Headers.Contains(MeshHeaders.Verdict));
                }
            }

            // Statuses HTTP gives no body: passed on as they are, without one.
            foreach (var status in new[] { 204, 205, 304 })
            {
                var (response, body, _) = await JobAsync($"head:status-{status}");
                using (response)
                {
                    Assert.True((int)response.StatusCode == status, $"{status}: {(int)response.StatusCode} {body}");
                    Assert.Equal("", body);
                }
            }

            // A 101 is no answer: named as the model's at once, not read until the job's time runs out.
            var (switched, detail, took) = await JobAsync("head:status-101");
            using (switched)
            {
                Assert.True(switched.StatusCode == HttpStatusCode.BadGateway, $"101: {(int)switched.StatusCode} {detail}");
                Assert.Equal([Verdict.MalformedAnswer.WireName], switched.Headers.GetValues(MeshHeaders.Verdict));
                Assert.Contains("101", detail, StringComparison.Ordinal);
                Assert.True(took < TimeSpan.FromSeconds(10), $"took {took.TotalSeconds:0.#} s");
            }

            // The model still answers as before, and nothing of the above was an internal error of the node.
            var (good, answer, _) = await JobAsync("hello");
            using (good)
            {
                Assert.Equal(HttpStatusCode.OK, good.StatusCode);
                Assert.Equal("application/json", good.Content.Headers.ContentType?.MediaType);
                Assert.Equal("""{"summary": "hello"}""", answer);
            }

            Assert.True(errors.IsEmpty, string.Join(" | ", errors));
        }
        finally
        {
            await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.test"] = run }, null, CancellationToken.None);
        }
    }

    private sealed class ErrorLogger(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lines.Enqueue(formatter(state, exception) + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})"));
        }

        public void Dispose()
        {
        }
    }
}

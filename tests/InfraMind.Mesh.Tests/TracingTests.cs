using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Serving;
using InfraMind.Serving.Telemetry;
using InfraMind.Testing.Otlp;
using OpenTelemetry.Trace;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// Traces across a real mesh, exported over OTLP/HTTP to a real receiver that decodes them: one request is one trace
/// from the client's traceparent through the gateway and the node to the model's container.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class TracingTests
{
    [SkippableFact]
    public async Task One_request_is_one_connected_trace_from_the_client_through_gateway_and_node_to_the_model()
    {
        await using var receiver = new OtlpReceiver();
        // The standard variable, read as a process would read it.
        using var provider = MeshTracing.Start("inframind-test", name => name == MeshTracing.EndpointVariable ? receiver.Endpoint.AbsoluteUri : null);
        Assert.NotNull(provider);
        await using var mesh = await LocalMesh.StartAsync("mesh-trace", new GatewayOptions { Replicas = 1, DirectToLocalContainers = false });
        await mesh.AddNodeAsync("n1", "echo-trace");
        await mesh.WaitForStateAsync("n1", "ready", TimeSpan.FromSeconds(120));

        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        const string clientSpan = "00f067aa0ba902b7";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"inference/v1/{mesh.Model}", UriKind.Relative))
        {
            Content = new StringContent("""{"text": "trace me"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("traceparent", $"00-{traceId}-{clientSpan}-01");
        request.Headers.TryAddWithoutValidation("tracestate", "vendor=client-secret");
        request.Headers.TryAddWithoutValidation("baggage", "user=alice");
        // A client that sends its own headers and nothing else (this process's HttpClient would add its own traceparent).
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null }) { BaseAddress = mesh.Gateway.Url };
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = JsonNode.Parse((string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["summary"]!)!;

        // The model got the request's trace id and a span of the node as its parent; the client's tracestate and baggage stopped at the gateway.
        var traceparent = (string?)seen["traceparent"];
        Assert.NotNull(traceparent);
        var parts = traceparent.Split('-');
        Assert.Equal(["00", traceId], parts[..2]);
        Assert.Equal("01", parts[3]);
        Assert.Null(seen["tracestate"]);
        Assert.Null(seen["baggage"]);

        // From the span the model names (the node's call to it) up to the client's span, every link is a span the
        // receiver has. Export is batched and server spans end after their answer: flush and wait for the whole chain.
        ReceivedSpan[] trace = [];
        var chain = new List<ReceivedSpan>();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (chain.Count == 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"no connected chain from the model's parent {parts[2]} to the client in 20 s: {string.Join(", ", trace)}");
            provider.ForceFlush(2000);
            trace = [.. receiver.Spans.Where(s => s.TraceId == traceId)];
            chain = Chain(trace, parts[2], clientSpan);
            if (chain.Count == 0) await Task.Delay(100);
        }
        Assert.Empty(receiver.Refused);
        Assert.Equal(trace.Length, trace.Select(s => s.SpanId).Distinct().Count());

        // Model call (node's HTTP client) <- node job <- node's server span <- gateway's HTTP client <- attempt <- route <- gateway's server span.
        var path = chain.Select(s => (s.Scope, s.Name)).ToList();
        Assert.True(path.Count == 7, "the chain: " + string.Join(" <- ", chain));
        Assert.Equal(("System.Net.Http", 3), (chain[0].Scope, chain[0].Kind));
        Assert.Equal((MeshTracing.NodeSourceName, "job"), path[1]);
        Assert.Equal("n1", chain[1][MeshTracing.NodeTag]);
        Assert.Equal(mesh.Key, chain[1][MeshTracing.ModelTag]);
        Assert.Equal(("Microsoft.AspNetCore", 2), (chain[2].Scope, chain[2].Kind));
        Assert.StartsWith("POST /jobs/", chain[2].Name, StringComparison.Ordinal);
        Assert.Equal(("System.Net.Http", 3), (chain[3].Scope, chain[3].Kind));
        Assert.Equal((MeshTracing.GatewaySourceName, "attempt"), path[4]);
        Assert.Equal("n1", chain[4][MeshTracing.NodeTag]);
        Assert.Equal("1", chain[4][MeshTracing.AttemptTag]);
        Assert.Equal((MeshTracing.GatewaySourceName, "route"), path[5]);
        Assert.Equal(("Microsoft.AspNetCore", 2), (chain[6].Scope, chain[6].Kind));
        Assert.Equal(mesh.Model, chain[6][MeshTracing.ModelTag]);
        // Validation is its own span under the request, ended before routing began.
        Assert.Contains(trace, s => s.Name == "validate" && s.ParentSpanId == chain[6].SpanId);
        Assert.All(trace, s => Assert.Equal("inframind-test", s.Service));

        // Heartbeats are no part of any trace, and the pre-flight that admitted the container is a trace of its own.
        Assert.DoesNotContain(receiver.Spans, s => s.Name.Contains("heartbeat", StringComparison.Ordinal));
        var preflight = Assert.Single(receiver.Spans, s => s.Name == "preflight" && s[MeshTracing.ModelTag] == mesh.Key);
        Assert.Null(preflight.ParentSpanId);
        Assert.Equal("passed", preflight[MeshTracing.VerdictTag]);
    }

    /// <summary>The spans from <paramref name="from"/> up its parents to the one whose parent is <paramref name="root"/>; empty while a link is missing.</summary>
    private static List<ReceivedSpan> Chain(ReceivedSpan[] trace, string from, string root)
    {
        var byId = trace.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        var chain = new List<ReceivedSpan>();
        for (var id = from; chain.Count <= trace.Length; )
        {
            if (!byId.TryGetValue(id, out var span)) return [];
            chain.Add(span);
            if (span.ParentSpanId == root) return chain;
            if (span.ParentSpanId is not { } parent) return [];
            id = parent;
        }

        return [];
    }
}

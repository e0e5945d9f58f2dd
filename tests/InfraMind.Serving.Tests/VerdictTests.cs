using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Serving.Tests;

public sealed class VerdictTests
{
    public static TheoryData<string> WireNames() => [.. Verdict.All.Select(v => v.WireName)];

    [Theory]
    [MemberData(nameof(WireNames))]
    public void Each_verdict_travels_as_its_wire_name_and_reads_back_as_itself(string wireName)
    {
        var verdict = Verdict.FromWireName(wireName);
        Assert.Equal(wireName, verdict.WireName);
        Assert.Equal(wireName, verdict.ToString());
        var json = JsonSerializer.Serialize(verdict, MeshJson.Options);
        Assert.Equal($"\"{wireName}\"", json);
        Assert.Same(verdict, JsonSerializer.Deserialize<Verdict>(json, MeshJson.Options));
        // Without the mesh's options too: reports are written with their own.
        Assert.Same(verdict, JsonSerializer.Deserialize<Verdict>(JsonSerializer.Serialize(verdict)));
    }

    [Fact]
    public void Wire_names_are_unique_kebab_case_and_stable()
    {
        Assert.Equal(Verdict.All.Count, Verdict.All.Select(v => v.WireName).Distinct(StringComparer.Ordinal).Count());
        Assert.All(Verdict.All, v => Assert.Matches("^[a-z]+(-[a-z]+)*$", v.WireName));
        // Reports, nodes and scripts match on these: renaming one is a breaking change.
        Assert.Equal(
            [
                "manifest-invalid", "build-failed", "start-failed", "container-exited", "container-oom-killed", "init-failed", "warmup-failed",
                "healthcheck-failed", "no-answer-on-port", "wrong-port", "response-not-json", "output-schema-violation", "response-too-large",
                "wrong-protocol", "grpc-unimplemented", "json-tensor-missing", "malformed-answer", "pids-limit-reached", "server-error-on-valid-input", "rejected-valid-input", "server-error-on-invalid-input", "accepted-invalid-input",
                "connection-failed", "request-timeout", "unsupported-protocol", "refused", "image-unavailable", "model-not-ready", "node-busy",
                "node-unauthorized", "receipt-invalid", "tls-pin-mismatch", "answer-disagrees", "unknown",
            ],
            Verdict.All.Select(v => v.WireName));
    }

    [Fact]
    public void The_models_fault_is_what_quarantined_before_the_list_was_typed_plus_what_only_infra_test_sees()
    {
        // Before: Reputation.cs listed these twelve by hand; manifest-invalid and build-failed never reach a gateway.
        Assert.Equal(
            [
                "manifest-invalid", "build-failed", "container-oom-killed", "init-failed", "warmup-failed", "healthcheck-failed",
                "no-answer-on-port", "wrong-port", "response-not-json", "output-schema-violation", "response-too-large",
                "wrong-protocol", "grpc-unimplemented", "json-tensor-missing", "malformed-answer", "pids-limit-reached",
                "server-error-on-valid-input",
                "rejected-valid-input", "server-error-on-invalid-input", "accepted-invalid-input",
            ],
            Verdict.All.Where(v => v.Fault == Fault.Model).Select(v => v.WireName));
    }

    [Fact]
    public void A_name_this_build_does_not_know_reads_as_unknown_and_is_the_nodes()
    {
        Assert.False(Verdict.TryFromWireName("gpu-melted", out _));
        Assert.False(Verdict.TryFromWireName(null, out _));
        Assert.Same(Verdict.Unknown, Verdict.FromWireName("gpu-melted"));
        Assert.Same(Verdict.Unknown, JsonSerializer.Deserialize<Verdict>("\"gpu-melted\"", MeshJson.Options));
        Assert.Equal(Fault.Node, Verdict.Unknown.Fault);
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Verdict>("42", MeshJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Verdict>("{}", MeshJson.Options));
    }

    [Fact]
    public void A_heartbeat_carries_verdicts_by_name()
    {
        var beat = new NodeHeartbeat("n1",
        [
            new ModelReport("echo", "1.0.0", ModelState.Failed, Verdict.NoAnswerOnPort, "nothing on 9000", 0, 0, 1, DateTimeOffset.UnixEpoch),
            new ModelReport("echo", "2.0.0", ModelState.Ready, null, null, 1, 0, 0, DateTimeOffset.UnixEpoch),
        ]);
        var json = JsonSerializer.Serialize(beat, MeshJson.Options);
        Assert.Contains("\"verdict\":\"no-answer-on-port\"", json, StringComparison.Ordinal);
        Assert.Contains("\"verdict\":null", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize<NodeHeartbeat>(json, MeshJson.Options)!;
        Assert.Same(Verdict.NoAnswerOnPort, back.Models[0].Verdict);
        Assert.Null(back.Models[1].Verdict);
    }

    [Fact]
    public void Every_verdict_is_documented()
    {
        var docs = File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "errors.md")) + File.ReadAllText(Path.Combine(TestEngine.RepoRoot, "docs", "mesh.md"));
        // As a name, not a word of prose: `refused` in code quotes, or a cell of errors.md's verdict table.
        Assert.All(Verdict.All, v => Assert.Matches($"`{v.WireName}`|[|/] {v.WireName} [|/]", docs));
    }
}

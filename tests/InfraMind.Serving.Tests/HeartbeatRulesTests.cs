using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Serving.Tests;

/// <summary>
/// What a heartbeat and a gateway's reply to it may hold (<see cref="RegistrationRules"/>): each limit at its value and
/// one past it, every list and field a reply may leave out, and the worst heartbeat a node can send against what a
/// gateway reads. The node's and gateway's use of them is proven in GatewayReplyTests and the gateway's tests.
/// </summary>
public sealed class HeartbeatRulesTests
{
    private const string Lacks = "an assignment lacks its name, version, manifest, image digest or content references";
    private const string Bounds = "a name is at most 63 characters and a version at most 256";
    private const string NotNamed = "no manifest names it so (a name is lowercase letters, digits and '-', a version SemVer)";

    private static ModelReport Report(string name = "echo", string version = "1.0.0", string? detail = null) =>
        new(name, version, ModelState.Refused, Verdict.Refused, detail, 0, 0, 0, DateTimeOffset.UnixEpoch);

    private static ModelAssignment Assigned(string name = "echo", string version = "1.0.0") =>
        new(name, version, new JsonObject(), "sha256:" + new string('0', 64), ["sha256:" + new string('1', 64)], 7);

    private static List<ModelReport> Reports(int count, string? detail) => [.. Enumerable.Range(0, count).Select(i => Report($"m{i}", detail: detail))];

    private static string Cut(int kept) => new string('x', kept) + "…";

    // The longest a manifest may name a model and its version (SemVer: one '+', which JSON escapes, before build metadata).
    private static string LongestName(int i) => $"m{i}".PadRight(63, 'n');

    private static string LongestVersion(int i) => $"1.0.{i}+".PadRight(256, 'b');

    [Fact]
    public void A_report_may_name_63_characters_and_a_version_of_256_and_no_more()
    {
        Assert.Null(RegistrationRules.CheckReport(Report(new string('n', 63), new string('1', 256))));
        Assert.Equal($"a report names the model '{new string('n', 63)}…' (64 characters) version '1.0.0': {Bounds}",
            RegistrationRules.CheckReport(Report(new string('n', 64))));
        Assert.Equal($"a report names the model 'echo' version '{new string('1', 63)}…' (257 characters): {Bounds}",
            RegistrationRules.CheckReport(Report(version: new string('1', 257))));
        Assert.Throws<ArgumentNullException>(() => RegistrationRules.CheckReport(null!));
    }

    [Fact]
    public void A_reply_may_hold_1024_assignments_and_1024_preflights_at_the_longest_names()
    {
        var most = Enumerable.Range(0, 1024).Select(i => Assigned(LongestName(i), LongestVersion(i))).ToList();
        Assert.Null(RegistrationRules.CheckReply(new HeartbeatReply(most, [.. most.Select(a => a.Key)])));
        Assert.Null(RegistrationRules.CheckReply(new HeartbeatReply([], [])));
        Assert.Null(RegistrationRules.CheckReply(new HeartbeatReply([Assigned() with { ContentReferences = [], RegistryIndex = null }], [])));
    }

    [Fact]
    public void A_reply_of_1025_assignments_or_preflights_is_refused_with_both_counts()
    {
        var many = Enumerable.Range(0, 1025).Select(i => Assigned($"m{i}")).ToList();
        Assert.Equal("it holds 1025 assignments and 0 pre-flight requests; a node takes at most 1024 of each",
            RegistrationRules.CheckReply(new HeartbeatReply(many, [])));
        Assert.Equal("it holds 1 assignments and 1025 pre-flight requests; a node takes at most 1024 of each",
            RegistrationRules.CheckReply(new HeartbeatReply([Assigned()], [.. many.Select(a => a.Key)])));
    }

    [Theory]
    [InlineData("""{"preflight": []}""")]
    [InlineData("""{"assignments": []}""")]
    [InlineData("""{"assignments": null, "preflight": []}""")]
    [InlineData("""{}""")]
    [InlineData("""null""")]
    public void A_reply_without_either_list_is_refused(string json) =>
        Assert.Equal("it lacks its assignments or preflight list", RegistrationRules.CheckReply(JsonSerializer.Deserialize<HeartbeatReply>(json, MeshJson.Options)));

    public static TheoryData<ModelAssignment?> Incomplete() =>
    [
        null,
        Assigned() with { Name = null! },
        Assigned() with { Name = "" },
        Assigned() with { Version = null! },
        Assigned() with { Version = "" },
        Assigned() with { Manifest = null! },
        Assigned() with { ImageDigest = null! },
        Assigned() with { ContentReferences = null! },
        Assigned() with { ContentReferences = ["sha256:" + new string('1', 64), null!] },
    ];

    [Theory]
    [MemberData(nameof(Incomplete))]
    public void An_assignment_lacking_a_field_is_refused_wherever_it_stands(ModelAssignment? assignment)
    {
        Assert.Equal(Lacks, RegistrationRules.CheckReply(new HeartbeatReply([assignment!], [])));
        Assert.Equal(Lacks, RegistrationRules.CheckReply(new HeartbeatReply([Assigned("a"), assignment!, Assigned("b")], [])));
    }

    [Fact]
    public void An_assignment_naming_more_than_a_report_may_name_is_refused()
    {
        Assert.Equal($"an assignment names the model '{new string('n', 63)}…' (64 characters) version '1.0.0': {Bounds}",
            RegistrationRules.CheckReply(new HeartbeatReply([Assigned(new string('n', 64))], [])));
        Assert.Equal($"an assignment names the model 'echo' version '{new string('1', 63)}…' (257 characters): {Bounds}",
            RegistrationRules.CheckReply(new HeartbeatReply([Assigned("a"), Assigned(version: new string('1', 257))], [])));
    }

    [Theory]
    [InlineData("Echo", "1.0.0")]
    [InlineData("echo_1", "1.0.0")]
    [InlineData("\"", "1.0.0")]
    [InlineData("\u00e9cho", "1.0.0")]
    [InlineData("echo", "1.0")]
    [InlineData("echo", "v1.0.0")]
    [InlineData("echo", "01.0.0")]
    [InlineData("echo", "1.0.0+a+b")]
    [InlineData("echo", "1.0.0-\"")]
    public void An_assignment_no_manifest_can_name_is_refused(string name, string version)
    {
        Assert.Equal($"an assignment names the model '{name}' version '{version}': {NotNamed}",
            RegistrationRules.CheckReply(new HeartbeatReply([Assigned(), Assigned(name, version)], [])));
        Assert.Null(RegistrationRules.CheckReply(new HeartbeatReply([Assigned("echo-2"), Assigned("0", "1.0.0-rc.1+build-5.z")], [])));
    }

    [Fact]
    public void A_version_is_named_name_at_version_as_a_preflight_request_names_it()
    {
        Assert.Equal("echo@1.0.0", Assigned().Key);
        Assert.Equal("m@2.0.0-rc.1", ModelKey.Of("m", "2.0.0-rc.1"));
    }

    [Fact]
    public void A_null_preflight_request_is_refused()
    {
        Assert.Equal("a pre-flight request is null", RegistrationRules.CheckReply(new HeartbeatReply([Assigned()], ["echo@1.0.0", null!])));
        Assert.Equal("a pre-flight request is null", RegistrationRules.CheckReply(new HeartbeatReply([], [null!])));
    }

    [Fact]
    public void A_detail_is_cut_to_1024_characters_and_marked()
    {
        Assert.Null(RegistrationRules.Detail(null));
        var whole = new string('x', 1024);
        Assert.Same(whole, RegistrationRules.Detail(whole));
        Assert.Equal(Cut(1024), RegistrationRules.Detail(new string('x', 1025)));
        Assert.Equal(Cut(10), RegistrationRules.Detail(new string('x', 11), 10));
        Assert.Equal("xxxxxxxxxx", RegistrationRules.Detail("xxxxxxxxxx", 10));
    }

    [Fact]
    public void Bounded_cuts_the_detail_alone_and_returns_a_report_within_bounds_as_it_is()
    {
        var within = Report(detail: new string('x', 1024));
        Assert.Same(within, RegistrationRules.Bounded(within));
        var none = Report();
        Assert.Same(none, RegistrationRules.Bounded(none, 1));
        var over = Report(detail: new string('x', 1025)) with { PreflightGeneration = 3, Restarts = 2, Failures = 1, LastFailure = Verdict.OomKilled };
        Assert.Equal(over with { Detail = Cut(1024) }, RegistrationRules.Bounded(over));
        Assert.Equal(over with { Detail = Cut(32) }, RegistrationRules.Bounded(over, 32));
        Assert.Same(within, RegistrationRules.Bounded(within, 1024));
        Assert.Throws<ArgumentNullException>(() => RegistrationRules.Bounded(null!));
    }

    [Fact]
    public void A_heartbeat_carries_the_first_1024_reports_in_order()
    {
        Assert.Empty(RegistrationRules.Heartbeat([]));
        var beat = RegistrationRules.Heartbeat(Reports(1025, null));
        Assert.Equal(Enumerable.Range(0, 1024).Select(i => $"m{i}"), beat.Select(r => r.Name));
        Assert.Equal(Reports(1024, null), beat);
        Assert.Equal(Reports(1, "x"), RegistrationRules.Heartbeat(Reports(1, "x")));
        Assert.Throws<ArgumentNullException>(() => RegistrationRules.Heartbeat(null!));
    }

    [Theory]
    [InlineData(1, 1024)] // one report: its detail is at most 1,024 whatever the budget
    [InlineData(31, 1024)]
    [InlineData(32, 1024)] // a node's default most keeps whole details
    [InlineData(33, 992)] // 32,768 / 33
    [InlineData(100, 327)]
    [InlineData(1024, 32)]
    [InlineData(1025, 32)] // the 1,025th is not sent, so it takes no share
    public void The_reports_of_a_heartbeat_share_32K_characters_of_detail(int count, int share)
    {
        var cut = RegistrationRules.Heartbeat(Reports(count, new string('x', share + 1)));
        Assert.All(cut, r => Assert.Equal(Cut(share), r.Detail));
        Assert.True(cut.Count * share <= RegistrationRules.HeartbeatDetailBudget, $"{cut.Count} × {share}");
        var whole = RegistrationRules.Heartbeat(Reports(count, new string('x', share)));
        Assert.All(whole, r => Assert.Equal(new string('x', share), r.Detail));
        Assert.All(RegistrationRules.Heartbeat(Reports(count, null)), r => Assert.Null(r.Detail));
    }

    [Fact]
    public void The_worst_heartbeat_a_node_sends_fits_what_a_gateway_reads()
    {
        // Every report as long as a report may be, refusals and running versions alike: names and versions at the
        // longest a reply may assign, each detail 1 MiB of a character JSON escapes (six bytes), every number at its
        // longest. The node serialises a heartbeat with MeshJson.Options (NodeAgent.Signed).
        var quoted = new string('"', 1 << 20);
        var longest = Report() with
        {
            State = ModelState.Starting, Verdict = Verdict.ServerErrorOnInvalidInput, Detail = quoted, PreflightGeneration = long.MinValue,
            Restarts = int.MinValue, Failures = int.MinValue, Since = DateTimeOffset.MaxValue.ToOffset(TimeSpan.FromHours(-14)),
            LastFailure = Verdict.ServerErrorOnInvalidInput, Limits = new ResourceRequest(long.MinValue, long.MinValue, int.MinValue),
        };
        var reports = Enumerable.Range(0, 5000).Select(i => longest with { Name = LongestName(i), Version = LongestVersion(i) });
        var beat = RegistrationRules.Heartbeat(reports);
        Assert.Equal(1024, beat.Count);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new NodeHeartbeat(new string('n', RegistrationRules.MaxNodeIdLength), beat), MeshJson.Options);
        Assert.Equal(1 << 20, RegistrationRules.MaxHeartbeatBytes);
        Assert.True(bytes.Length <= RegistrationRules.MaxHeartbeatBytes, $"{bytes.Length} bytes");
        Assert.Equal(new string('"', 32) + "…", beat[0].Detail);
    }

    [Fact]
    public void A_reply_whose_refusals_would_outgrow_every_heartbeat_is_refused()
    {
        // A node reports a refusal under the name and version it was assigned (ModelInstance.Refusal), whatever the
        // manifest says: 1,024 assignments named in characters JSON escapes (six bytes each) made the node's every
        // heartbeat, to every gateway, a 413.
        var hostile = Enumerable.Range(0, 1024).Select(i => Assigned(new string('"', 63), $"{i}".PadLeft(256, '"'))).ToList();
        var refusals = RegistrationRules.Heartbeat(hostile.Select(a => Report(a.Name, a.Version, "refused")));
        Assert.True(JsonSerializer.SerializeToUtf8Bytes(new NodeHeartbeat("n", refusals), MeshJson.Options).Length > RegistrationRules.MaxHeartbeatBytes);
        Assert.StartsWith("an assignment names the model '\"\"", RegistrationRules.CheckReply(new HeartbeatReply(hostile, [])), StringComparison.Ordinal);
    }
}

namespace InfraMind.Serving.Tests;

/// <summary>
/// The rules' edges, each limit at its value and one past it (scripts/mutation.sh contracts measures them); each broken
/// field is proven at both the node and the gateway in InfraMind.Mesh.Tests.
/// </summary>
public sealed class RegistrationRulesTests
{
    private static readonly NodeCapacity Capacity = new(4000, 8L << 30, 0);
    private static readonly TimeSpan Beat = TimeSpan.FromSeconds(2);

    internal static NodeRegistration Valid() =>
        new("node-1", new Uri("http://127.0.0.1:7301/"), Capacity, new Dictionary<string, string> { ["zone"] = "a" }, Beat);

    private static string? OnlyProblem(string? nodeId = "node-1", NodeCapacity? capacity = null, IReadOnlyDictionary<string, string>? labels = null,
        TimeSpan? interval = null) =>
        Assert.Single(RegistrationRules.CheckNode(nodeId, capacity ?? Capacity, labels, interval ?? Beat));

    [Fact]
    public void A_valid_registration_has_no_problem_and_the_limits_are_inclusive()
    {
        Assert.Empty(RegistrationRules.Check(Valid()));
        Assert.Empty(RegistrationRules.Check(Valid() with
        {
            NodeId = new string('n', RegistrationRules.MaxNodeIdLength),
            HeartbeatInterval = RegistrationRules.MaxHeartbeatInterval,
            Labels = Enumerable.Range(0, RegistrationRules.MaxLabels).ToDictionary(i => $"k{i}", _ => new string('v', RegistrationRules.MaxLabelValueLength)),
        }));
        Assert.Empty(RegistrationRules.CheckNode("A-z_0.9", new NodeCapacity(1, 1, 0), null, TimeSpan.FromTicks(1)));
        Assert.Empty(RegistrationRules.CheckNode("n", Capacity, new Dictionary<string, string> { [new string('k', 63)] = null! }, Beat));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("n\u0153ud")] // a letter, not an ASCII one
    [InlineData("node-\u0663")] // a digit (Arabic-Indic three), not an ASCII one
    [InlineData("nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn")] // 65
    public void A_node_id_is_1_to_64_ascii_letters_digits_dashes_underscores_or_dots(string? id) =>
        Assert.Equal($"node id '{id}' must be 1–64 letters, digits, '-', '_' or '.'", OnlyProblem(nodeId: id));

    [Theory]
    [InlineData(0, 1, 0)]
    [InlineData(-1, 1, 0)]
    [InlineData(1, 0, 0)]
    [InlineData(1, -1, 0)]
    [InlineData(1, 1, -1)]
    public void Capacity_needs_cpu_and_memory_above_zero_and_no_negative_gpu_count(long cpu, long memory, int gpu)
    {
        Assert.Equal("capacity must have cpu > 0, memory > 0 and gpu ≥ 0", OnlyProblem(capacity: new NodeCapacity(cpu, memory, gpu)));
        Assert.Equal("capacity must have cpu > 0, memory > 0 and gpu ≥ 0", Assert.Single(RegistrationRules.CheckNode("n", null, null, Beat)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(60 * TimeSpan.TicksPerSecond + 1)]
    public void The_heartbeat_interval_is_positive_and_at_most_a_minute(long ticks) =>
        Assert.Equal("heartbeat interval must be positive and at most 60 s", OnlyProblem(interval: TimeSpan.FromTicks(ticks)));

    public static TheoryData<Dictionary<string, string>> BadLabels() => new()
    {
        Enumerable.Range(0, 33).ToDictionary(i => $"k{i}", _ => "v"),
        new() { [""] = "v" },
        new() { ["zone"] = "a", [new string('k', 64)] = "v" }, // one bad label among good ones
        new() { ["k"] = new string('v', 257) },
    };

    [Theory]
    [MemberData(nameof(BadLabels))]
    public void At_most_32_labels_with_keys_of_1_to_63_characters_and_values_of_at_most_256(Dictionary<string, string> labels) =>
        Assert.Equal("at most 32 labels, each key 1–63 characters and each value at most 256", OnlyProblem(labels: labels));

    [Theory]
    [InlineData("/relative/")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("file:///tmp/x")]
    public void The_address_must_be_an_absolute_http_url(string address)
    {
        var problem = Assert.Single(RegistrationRules.Check(Valid() with { Address = new Uri(address, UriKind.RelativeOrAbsolute) }));
        Assert.Equal($"address '{address}' must be the node's absolute http(s) URL", problem);
        Assert.Equal("address '' must be the node's absolute http(s) URL", Assert.Single(RegistrationRules.Check(Valid() with { Address = null! })));
        Assert.Empty(RegistrationRules.Check(Valid() with { Address = new Uri("https://node.example:7301/") }));
        var ftp = "ftp://127.0.0.1/" + new string('a', 300);
        Assert.Equal($"address '{ftp[..200]}…' (316 characters) must be the node's absolute http(s) URL",
            Assert.Single(RegistrationRules.Check(Valid() with { Address = new Uri(ftp) })));
    }

    [Fact]
    public void An_address_may_be_2048_characters_and_its_problem_quotes_200()
    {
        const string start = "http://127.0.0.1/";
        Assert.Empty(RegistrationRules.Check(Valid() with { Address = new Uri(start + new string('a', 2048 - start.Length)) }));
        var problem = Assert.Single(RegistrationRules.Check(Valid() with { Address = new Uri(start + new string('a', 2049 - start.Length)) }));
        Assert.Equal($"address '{start}{new string('a', 200 - start.Length)}…' (2049 characters) is longer than 2048 characters", problem);
    }

    [Fact]
    public void A_tls_fingerprint_is_lower_case_sha256_hex_of_an_https_address()
    {
        var pin = "sha256:" + new string('a', 64);
        var https = Valid() with { Address = new Uri("https://127.0.0.1:7301/"), TlsFingerprint = pin };
        Assert.Empty(RegistrationRules.Check(https));
        Assert.Empty(RegistrationRules.Check(Valid() with { TlsFingerprint = null }));
        var message = $"tlsFingerprint '{pin}' must be sha256:HEX (64 lower-case hex digits) of an https address's certificate key";
        Assert.Equal(message, Assert.Single(RegistrationRules.Check(https with { Address = Valid().Address })));
        Assert.Contains(message, RegistrationRules.Check(https with { Address = null! }));
        var upper = "sha256:" + new string('A', 64);
        Assert.Equal(message.Replace(pin, upper, StringComparison.Ordinal), Assert.Single(RegistrationRules.Check(https with { TlsFingerprint = upper })));
    }

    [Fact]
    public void A_missing_registration_and_every_problem_at_once_are_reported()
    {
        Assert.Equal("a registration needs nodeId, address, capacity and heartbeatInterval", Assert.Single(RegistrationRules.Check(null)));
        var all = RegistrationRules.Check(new NodeRegistration("bad id", null!, null!, null!, TimeSpan.Zero, TlsFingerprint: "sha256:"));
        Assert.Collection(all,
            p => Assert.StartsWith("node id 'bad id'", p, StringComparison.Ordinal),
            p => Assert.StartsWith("capacity", p, StringComparison.Ordinal),
            p => Assert.StartsWith("heartbeat interval", p, StringComparison.Ordinal),
            p => Assert.StartsWith("address ''", p, StringComparison.Ordinal),
            p => Assert.StartsWith("tlsFingerprint 'sha256:'", p, StringComparison.Ordinal));
        Assert.Equal(4, RegistrationRules.CheckNode("", null, Enumerable.Range(0, 33).ToDictionary(i => $"k{i}", _ => "v"), TimeSpan.Zero).Count);
    }
}

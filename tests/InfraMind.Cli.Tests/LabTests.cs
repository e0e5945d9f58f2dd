using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InfraMind.Testing;
using Xunit.Abstractions;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The lab of hosts (#16): `scripts/lab.sh up 3` (a registry host, two gateway hosts, three node hosts, each its own
/// network namespace on 10.252.0.0/24, no route out), its JSON, both gateways serving, the two gateways agreeing on
/// placement without talking, and the fault test: 2,000 requests spread over both gateways while a node host's link is
/// cut and a gateway is killed, none lost; then `lab.sh down` leaves nothing behind.
/// </summary>
[Collection(EngineTests.Name)]
[Trait("Category", "Lab")]
public sealed class LabTests(ITestOutputHelper output) : IDisposable
{
    private const string Model = "summarizer-v1";
    private const int Requests = 2000;
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Two_gateways_and_three_node_hosts_lose_no_request_when_a_node_host_is_cut_off_and_a_gateway_dies()
    {
        using var engine = await TestEngine.ConnectAsync();
        RequireNamespaces();

        var state = Path.Combine(_cli.Work, "lab");
        var clock = Stopwatch.StartNew();
        try
        {
            var (code, stdout, stderr) = await LabAsync(state, TimeSpan.FromMinutes(5), "up", "3");
            Assert.True(code == 0, $"lab.sh up 3 exited {code}:\n{stdout}\n{stderr}");
            output.WriteLine($"lab up in {clock.Elapsed.TotalSeconds:0.0} s");
            var lab = JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!;

            // The JSON of the issue: the registry, two gateways and three nodes, each in a namespace of its own on the lab's range.
            // Every server off loopback speaks TLS by default: the registry's URL carries its key's pin, the gateways their fingerprints.
            Assert.Matches("^https://10\\.252\\.0\\.[0-9]+:7400/#sha256:[0-9a-f]{64}$", (string)lab["registry"]!);
            var gateways = lab["gateways"]!.AsArray().Select(g => (Url: new Uri((string)g!["url"]!), Netns: (string)g["netns"]!)).ToList();
            var pins = lab["gateways"]!.AsArray().Select(g => (string)g!["tlsFingerprint"]!).ToHashSet(StringComparer.Ordinal);
            var nodes = lab["nodes"]!.AsArray().Select(n => (Id: (string)n!["id"]!, Netns: (string)n["netns"]!, Url: new Uri((string)n["url"]!))).ToList();
            Assert.Equal(2, gateways.Count);
            Assert.Equal(3, nodes.Count);
            var namespaces = Run("ip", "netns", "list");
            string[] hosts = [.. gateways.Select(g => g.Netns), .. nodes.Select(n => n.Netns)];
            Assert.Equal(hosts.Length, hosts.Distinct().Count());
            foreach (var ns in hosts)
            {
                Assert.Contains(ns, namespaces, StringComparison.Ordinal);
                Assert.DoesNotContain("default", Run("ip", "-n", ns, "route"), StringComparison.Ordinal);
            }

            Assert.All(gateways, g => Assert.StartsWith("https://10.252.0.", g.Url.ToString(), StringComparison.Ordinal));
            Assert.All(nodes, n => Assert.StartsWith("https://10.252.0.", n.Url.ToString(), StringComparison.Ordinal));
            // Each gateway has a home, so a certificate, of its own, as on two machines: two keys, each pinned on its own.
            Assert.Equal(2, pins.Count);
            Assert.All(pins, p => Assert.True(InfraMind.Serving.Tls.MeshTls.IsFingerprint(p), p));

            // The client takes a gateway's certificate only when its key is one of the two the lab printed (no CA).
            // Checks go through a patient client: a first TLS handshake with a gateway just started on these loaded cores can
            // take seconds. The fault run's client gives a connection 1 s, then sends the request to the other gateway.
            using var http = GatewayClient(pins, connectTimeout: TimeSpan.FromSeconds(10), timeout: TimeSpan.FromSeconds(20));
            using var impatient = GatewayClient(pins, connectTimeout: TimeSpan.FromSeconds(1), timeout: TimeSpan.FromSeconds(10));

            // Both gateways serve, and place the model alike without talking: the same 2 nodes, where exactly 2 containers run.
            foreach (var (url, _) in gateways)
            {
                using var answer = await http.PostAsJsonAsync(new Uri(url, $"inference/v1/{Model}"), new { text = "Through either gateway." });
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                Assert.Equal("Through either gateway.", JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["summary"]!.GetValue<string>());
            }

            var placed = await Task.WhenAll(gateways.Select(g => PlacedAsync(http, g.Url)));
            Assert.Equal(2, placed[0].Count);
            Assert.Equal(placed[0], placed[1]);
            Assert.Equal(2, nodes.Sum(n => Containers(n.Id).Length));
            Assert.All(placed[0], id => Assert.Single(Containers(id)));

            // The fault test.
            var cut = placed[0][0];
            var outcome = await FaultTestAsync(impatient, http, state, gateways.Select(g => g.Url).ToList(), cut);
            Assert.True(outcome.Lost.Count == 0, $"{outcome.Lost.Count} of {Requests} requests lost: {string.Join("; ", outcome.Lost.Take(5))}");
            Assert.Equal(Requests, outcome.Answered);
            // The faults struck while requests were flowing.
            Assert.True(outcome.KilledAt < Requests, $"the gateway was killed after the last request (at {outcome.KilledAt})");

            // The cut node got no new job within 1 s of its detection, on either gateway (gateway 1's state read before it died).
            var survivor = gateways[1].Url;
            var after = await NodeStateAsync(http, survivor, cut);
            foreach (var (name, seen) in new[] { ("gateway 1", outcome.FirstGatewayView), ("gateway 2", after) })
            {
                var offline = seen["offlineSince"]?.GetValue<DateTimeOffset>();
                Assert.True(offline is not null, $"{name} never found {cut} offline: {seen}");
                var lastJob = seen["lastJob"]?.GetValue<DateTimeOffset>();
                Assert.True(lastJob is null || lastJob <= offline + TimeSpan.FromSeconds(1), $"{name} sent {cut} a job at {lastJob}, after its detection at {offline} + 1 s");
                output.WriteLine($"{name}: {cut} cut at {outcome.CutAt:HH:mm:ss.fff}, detected at {offline:HH:mm:ss.fff} " +
                                 $"({(offline!.Value - outcome.CutAt).TotalMilliseconds:0} ms), last job at {lastJob:HH:mm:ss.fff}");
            }

            output.WriteLine($"{Requests} requests in {outcome.Elapsed.TotalSeconds:0.0} s: {outcome.Answered} answered 200, {outcome.Retried} retried on the other " +
                             $"gateway, {outcome.Rerouted} re-routed to another node inside a gateway; p50 {outcome.P50:0.0} ms, p99 {outcome.P99:0.0} ms, max {outcome.Max:0} ms");

            // The surviving gateway answers, and nothing is unplaced: the model has its 2 replicas again, off the cut node.
            var deadline = Stopwatch.StartNew();
            List<string> now;
            while ((now = await PlacedAsync(http, survivor, readyOnly: true)).Count < 2 || now.Contains(cut))
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"{Model} is not ready on 2 nodes other than {cut}: {string.Join(", ", now)}");
                await Task.Delay(250);
            }

            using (var last = await http.PostAsJsonAsync(new Uri(survivor, $"inference/v1/{Model}"), new { text = "Still served." }))
                Assert.Equal(HttpStatusCode.OK, last.StatusCode);
        }
        finally
        {
            var pids = File.Exists(Path.Combine(state, "made"))
                ? File.ReadAllLines(Path.Combine(state, "made")).Where(l => l.StartsWith("pid ", StringComparison.Ordinal)).Select(l => int.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList()
                : [];
            var (code, stdout, stderr) = await LabAsync(state, TimeSpan.FromMinutes(2), "down");
            Assert.True(code == 0, $"lab.sh down exited {code}: {stdout}{stderr}");
            // Nothing left: no namespace, no link, no process, no container of its nodes; and down again is a no-op.
            Assert.DoesNotContain("imlab-", Run("ip", "netns", "list"), StringComparison.Ordinal);
            Assert.NotEqual(0, RunIp("link", "show", "imlab0").Code);
            Assert.All(pids, pid => Assert.False(File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("serve", StringComparison.Ordinal), $"process {pid} still runs"));
            Assert.All(Enumerable.Range(1, 3), i => Assert.Empty(Containers($"lab-node-{i}")));
            Assert.Equal(0, (await LabAsync(state, TimeSpan.FromSeconds(30), "down")).Code);
            output.WriteLine($"whole test {clock.Elapsed.TotalSeconds:0.0} s");
        }
    }

    [SkippableFact]
    public async Task A_node_host_that_alters_its_answers_is_suspended_by_both_gateways_spot_checks_and_clients_get_the_majority()
    {
        using var engine = await TestEngine.ConnectAsync();
        RequireNamespaces();

        // Three node hosts, the (deterministic) summarizer on all three, every answer spot-checked; lab-node-2 lies on
        // purpose (INFRAMIND_FAULT_ALTER_ANSWERS=1): its answers keep their shape, so only comparing nodes can tell.
        const string liar = "lab-node-2";
        var state = Path.Combine(_cli.Work, "lab-liar");
        try
        {
            var (code, stdout, stderr) = await LabAsync(state, TimeSpan.FromMinutes(5),
                new Dictionary<string, string> { ["LAB_REPLICAS"] = "3", ["LAB_SPOT_CHECK"] = "1", ["LAB_LIAR"] = liar }, "up", "3");
            Assert.True(code == 0, $"lab.sh up 3 exited {code}:\n{stdout}\n{stderr}");
            var lab = JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!;
            var gateways = lab["gateways"]!.AsArray().Select(g => new Uri((string)g!["url"]!)).ToList();
            var pins = lab["gateways"]!.AsArray().Select(g => (string)g!["tlsFingerprint"]!).ToHashSet(StringComparer.Ordinal);
            // Nothing is cut here: a connection (TLS handshake included) may take its time on a loaded machine.
            using var http = GatewayClient(pins, connectTimeout: TimeSpan.FromSeconds(10), timeout: TimeSpan.FromSeconds(20));
            var placed = await Task.WhenAll(gateways.Select(g => PlacedAsync(http, g, readyOnly: true)));
            Assert.All(placed, p => Assert.Contains(liar, p));

            // Every client gets the majority's (correct) answer, never the liar's.
            const int requests = 30;
            for (var i = 0; i < requests; i++)
            {
                var text = $"Request {i} of the lab is compared across nodes."; // one sentence: the summary is the text itself
                using var answer = await http.PostAsJsonAsync(new Uri(gateways[i % 2], $"inference/v1/{Model}"), new { text });
                var body = await answer.Content.ReadAsStringAsync();
                Assert.True(answer.StatusCode == HttpStatusCode.OK, $"request {i}: {(int)answer.StatusCode} {body}");
                Assert.Equal(text, JsonNode.Parse(body)!["summary"]!.GetValue<string>());
                Assert.NotEqual(liar, answer.Headers.GetValues(InfraMind.Serving.MeshHeaders.Node).Single());
            }

            // Each gateway, on its own, suspended the liar for answer-disagrees with the evidence; the honest nodes stand.
            foreach (var gateway in gateways)
            {
                var standing = await StandingAsync(http, gateway);
                Assert.True((bool)standing[liar]["suspended"]!, $"{gateway}: {standing[liar]}");
                Assert.Equal("answer-disagrees", (string?)standing[liar]["suspendedFor"]);
                Assert.All(standing.Where(kv => kv.Key != liar), kv => Assert.False((bool)kv.Value["suspended"]!, $"{gateway}: {kv.Key} {kv.Value}"));
                var evidence = JsonNode.Parse(await http.GetStringAsync(new Uri(gateway, $"mesh/v1/nodes/{liar}/receipts")))!["disagreements"]!.AsArray();
                // Caught within its first few spot-checked answers: once suspended it gets no more jobs, so few disagreements pile up.
                Assert.InRange(evidence.Count, 1, 3);
                output.WriteLine($"{gateway}: {liar} suspended for answer-disagrees after {evidence.Count} disagreement(s)");
            }

            // Gateway 1 crashes (SIGKILL) and starts again on its home: the liar's standing is what it kept, not a clean
            // slate. Its suspension may have run out by now (30 s, then a pre-flight readmits it), but its count and its
            // reputation do not come back whole; a gateway that forgot them would show 0 suspensions and 1.
            // The gateway writes a suspension to its home within a second (a crash loses at most that): wait for it there.
            var file = Path.Combine(state, "home", "mesh", "gateways", "8080.nodes.json");
            var written = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (JsonNode.Parse(System.IO.File.ReadAllText(file))!["nodes"]!.AsArray().Single(n => (string)n!["registration"]!["nodeId"]! == liar)!["standing"] is null)
            {
                Assert.True(DateTime.UtcNow < written, $"gateway 1 did not write {liar}'s suspension to {file} within 10 s");
                await Task.Delay(100);
            }

            // The evidence behind the suspension, the compared nodes' signed receipts, as gateway 1 holds it before the crash.
            var evidenceBefore = JsonNode.Parse(await http.GetStringAsync(new Uri(gateways[0], $"mesh/v1/nodes/{liar}/receipts")))!["disagreements"]!.AsArray();
            var (restarted, said, err) = await LabAsync(state, TimeSpan.FromMinutes(2), "restart", "gateway-1");
            Assert.True(restarted == 0, $"lab.sh restart gateway-1 exited {restarted}:\n{said}\n{err}");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!(await PlacedAsync(http, gateways[0])).Contains(liar))
            {
                Assert.True(DateTime.UtcNow < deadline, $"{liar} not placed on the restarted gateway within 60 s");
                await Task.Delay(250);
            }

            var kept = (await StandingAsync(http, gateways[0]))[liar];
            Assert.True((int)kept["suspensions"]! >= 1, $"after the restart: {kept}");
            var reputation = (double)(await NodeStateAsync(http, gateways[0], liar))["reputation"]!;
            Assert.True(reputation < 1, $"after the restart {liar}'s reputation is {reputation}");
            output.WriteLine($"after gateway 1's restart: {liar} {kept}, reputation {reputation}");

            // And so is the evidence: the lost spot checks written with the suspension, each with the same receipts.
            var evidenceAfter = JsonNode.Parse(await http.GetStringAsync(new Uri(gateways[0], $"mesh/v1/nodes/{liar}/receipts")))!["disagreements"]!.AsArray();
            Assert.NotEmpty(evidenceAfter);
            Assert.All(evidenceAfter, d => Assert.True(evidenceBefore.Any(b => JsonNode.DeepEquals(b, d)), $"after the restart {d}\nbefore it {evidenceBefore}"));
            // Three answers compared, the liar's among them (the lab's nodes have no keys: their receipts are null).
            Assert.All(evidenceAfter, d => Assert.Equal(3, d!["receipts"]!.AsObject().Count(r => r.Key == liar || r.Key.StartsWith("lab-node-", StringComparison.Ordinal))));
            Assert.All(evidenceAfter, d => Assert.True(d!["receipts"]!.AsObject().ContainsKey(liar), $"{d}"));
            output.WriteLine($"after gateway 1's restart: {evidenceAfter.Count} of {evidenceBefore.Count} lost spot check(s) with their receipts");
        }
        finally
        {
            var (code, stdout, stderr) = await LabAsync(state, TimeSpan.FromMinutes(2), "down");
            Assert.True(code == 0, $"lab.sh down exited {code}: {stdout}{stderr}");
            Assert.DoesNotContain("imlab-", Run("ip", "netns", "list"), StringComparison.Ordinal);
        }
    }

    /// <summary>Each placed node's standing for the model (state, suspension), as one gateway sees it.</summary>
    private static async Task<Dictionary<string, JsonNode>> StandingAsync(HttpClient http, Uri gateway)
    {
        var mesh = JsonNode.Parse(await http.GetStringAsync(new Uri(gateway, "inference/v1")))!;
        var version = mesh["models"]!.AsArray().Single(m => (string?)m!["name"] == Model)!["versions"]![0]!;
        return version["nodes"]!.AsArray().ToDictionary(n => (string)n!["node"]!, n => n!);
    }

    /// <summary>A client of the lab's gateways: it takes a certificate only when its key is one the lab printed (no CA).</summary>
    private static HttpClient GatewayClient(HashSet<string> pins, TimeSpan connectTimeout, TimeSpan timeout) => new(new SocketsHttpHandler
    {
        UseProxy = false, ConnectTimeout = connectTimeout,
        SslOptions = new System.Net.Security.SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && pins.Contains(Fingerprint(certificate)),
        },
    }) { Timeout = timeout };

    private static string Fingerprint(System.Security.Cryptography.X509Certificates.X509Certificate certificate)
    {
        using var loaded = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return InfraMind.Serving.Tls.MeshTls.Fingerprint(loaded);
    }

    private sealed record Outcome(int Answered, List<string> Lost, int Retried, int Rerouted, DateTimeOffset CutAt, int KilledAt, JsonNode FirstGatewayView,
        TimeSpan Elapsed, double P50, double P99, double Max);

    /// <summary>
    /// 2,000 requests from 8 clients, spread over both gateways (at most ~200 a second, so the faults strike mid-run): a
    /// request whose gateway is unreachable is sent again to the other; any other answer than a correct 200 is lost. After
    /// 300 answers node <paramref name="cut"/>'s link is cut; once both gateways found it offline and 1.2 s more passed,
    /// gateway 1's view of it is kept and gateway 1 is killed.
    /// </summary>
    private async Task<Outcome> FaultTestAsync(HttpClient http, HttpClient patient, string state, List<Uri> gateways, string cut)
    {
        var next = -1;
        var answered = 0;
        var retried = 0;
        var rerouted = 0;
        var lost = new System.Collections.Concurrent.ConcurrentBag<string>();
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var pace = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();

        async Task Client()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests)
            {
                var due = TimeSpan.FromMilliseconds(i * 5.0);
                if (pace.Elapsed < due) await Task.Delay(due - pace.Elapsed);
                var text = $"Request number {i} goes through.";
                var started = Stopwatch.StartNew();
                string? failure = null;
                for (var attempt = 0; attempt < 6; attempt++)
                {
                    var gateway = gateways[(i + attempt) % gateways.Count];
                    try
                    {
                        using var answer = await http.PostAsJsonAsync(new Uri(gateway, $"inference/v1/{Model}"), new { text });
                        var body = await answer.Content.ReadAsStringAsync();
                        if (answer.StatusCode == HttpStatusCode.OK && JsonNode.Parse(body)?["summary"]?.GetValue<string>() == text)
                        {
                            failure = null;
                            if (int.Parse(answer.Headers.GetValues("InfraMind-Attempts").Single(), System.Globalization.CultureInfo.InvariantCulture) > 1)
                                Interlocked.Increment(ref rerouted);
                        }
                        else
                        {
                            failure = $"#{i} via {gateway}: {(int)answer.StatusCode} {body}";
                        }

                        break;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // The gateway is unreachable (killed): the same request goes to the other one.
                        failure = $"#{i}: no gateway answered ({e.Message})";
                        Interlocked.Increment(ref retried);
                    }
                }

                latencies.Add(started.Elapsed.TotalMilliseconds);
                if (failure is null) Interlocked.Increment(ref answered);
                else lost.Add(failure);
            }
        }

        async Task<(DateTimeOffset CutAt, int KilledAt, JsonNode View)> Faults()
        {
            while (Volatile.Read(ref answered) < 300) await Task.Delay(20);
            var cutAt = DateTimeOffset.UtcNow;
            Assert.Equal(0, (await LabAsync(state, TimeSpan.FromSeconds(30), "cut", cut)).Code);
            var wait = Stopwatch.StartNew();
            JsonNode? first = null;
            while (true)
            {
                var views = await Task.WhenAll(gateways.Select(g => NodeStateAsync(patient, g, cut)));
                if (views.All(v => v["offlineSince"] is not null))
                {
                    first = views[0];
                    break;
                }

                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(15), $"the gateways did not find {cut} offline within 15 s");
                await Task.Delay(50);
            }

            var detected = first["offlineSince"]!.GetValue<DateTimeOffset>();
            var settle = detected + TimeSpan.FromSeconds(1.2) - DateTimeOffset.UtcNow;
            if (settle > TimeSpan.Zero) await Task.Delay(settle);
            first = await NodeStateAsync(patient, gateways[0], cut);
            var killedAt = Volatile.Read(ref next);
            Assert.Equal(0, (await LabAsync(state, TimeSpan.FromSeconds(30), "kill", "gateway-1")).Code);
            return (cutAt, killedAt, first);
        }

        var faults = Faults();
        await Task.WhenAll([.. Enumerable.Range(0, 8).Select(_ => Task.Run(Client)), faults]);
        var (cutAt, killedAt, view) = await faults;
        var sorted = latencies.Order().ToArray();
        return new Outcome(answered, [.. lost], retried, rerouted, cutAt, killedAt, view, clock.Elapsed,
            sorted[sorted.Length / 2], sorted[(int)(sorted.Length * 0.99)], sorted[^1]);
    }

    /// <summary>The nodes a gateway places the model on (only those that report it ready with <paramref name="readyOnly"/>), sorted.</summary>
    private static async Task<List<string>> PlacedAsync(HttpClient http, Uri gateway, bool readyOnly = false)
    {
        var mesh = JsonNode.Parse(await http.GetStringAsync(new Uri(gateway, "inference/v1")))!;
        return [.. mesh["models"]!.AsArray().Where(m => (string)m!["name"]! == Model).SelectMany(m => m!["versions"]!.AsArray())
            .SelectMany(v => v!["nodes"]!.AsArray()).Where(n => !readyOnly || (string)n!["state"]! == "ready").Select(n => (string)n!["node"]!).Order(StringComparer.Ordinal)];
    }

    private static async Task<JsonNode> NodeStateAsync(HttpClient http, Uri gateway, string node)
    {
        var mesh = JsonNode.Parse(await http.GetStringAsync(new Uri(gateway, "inference/v1")))!;
        return mesh["nodes"]!.AsArray().Single(n => (string)n!["id"]! == node)!;
    }

    /// <summary>The model containers node <paramref name="node"/> runs (by the labels every one carries).</summary>
    private static string[] Containers(string node) =>
        Run("docker", "ps", "-q", "--filter", $"label=org.inframind.node={node}", "--filter", $"label=org.inframind.model={Model}@0.4.2")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>scripts/lab.sh with the CLI this test project built (no rebuild of ./infra) and its state under <paramref name="state"/>.</summary>
    /// <summary>Making network namespaces needs `ip` and root; without them the test fails under CI=true, else is skipped.</summary>
    internal static void RequireNamespaces()
    {
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip"))
            throw Peers.Missing("iproute2 (`ip`)", "apt-get install iproute2");
        if (Environment.UserName != "root")
            throw Peers.Missing("root (to create network namespaces)", "run the tests as root");
    }

    private static Task<(int Code, string Out, string Err)> LabAsync(string state, TimeSpan timeout, params string[] args) => LabAsync(state, timeout, null, args);

    private static Task<(int Code, string Out, string Err)> LabAsync(string state, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("bash", [Path.Combine(TestEngine.RepoRoot, "scripts", "lab.sh"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEngine.RepoRoot,
        };
        psi.Environment["LAB_DIR"] = state;
        psi.Environment["INFRA"] = $"dotnet {Path.Combine(AppContext.BaseDirectory, "infra.dll")}";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return InfraProcess.RunAsync(psi, timeout);
    }

    private static string Run(string file, params string[] arguments)
    {
        var (code, text) = Exec(file, arguments);
        Assert.True(code == 0, $"{file} {string.Join(' ', arguments)}: {text}");
        return text;
    }

    private static (int Code, string Output) RunIp(params string[] arguments) => Exec("ip", arguments);

    private static (int Code, string Output) Exec(string file, string[] arguments)
    {
        using var p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}

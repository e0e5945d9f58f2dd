using System.Text.RegularExpressions;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The suite itself: no test passes without running. A test whose engine or peer is missing fails (peers required:
/// CI=true, scripts/test.sh) or is reported as skipped (<see cref="Peers.Missing"/>); it never returns early, which
/// the runner counts as passed. About 90 tests did before this check existed.
/// </summary>
public sealed partial class SuiteHonestyTests
{
    [Fact]
    public void No_test_returns_early_when_its_engine_or_peer_is_missing()
    {
        var silent = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestEngine.RepoRoot, "tests"), "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(TestEngine.RepoRoot, file);
            if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal) ||
                relative.Contains("/node_modules/", StringComparison.Ordinal) || Path.GetFileName(file) == "SuiteHonestyTests.cs") continue; // its samples
            var chunks = TestAttribute().Split(File.ReadAllText(file));
            // chunks[0] is what comes before the first test; each later chunk starts with a test method.
            foreach (var chunk in chunks.Skip(1))
            {
                var flat = Whitespace().Replace(chunk, " ");
                var name = MethodName().Match(flat) is { Success: true } m ? m.Groups[1].Value : "?";
                foreach (Match guard in EarlyReturn().Matches(flat))
                {
                    if (PeerCondition().IsMatch(guard.Groups[1].Value)) silent.Add($"{relative}: {name}: if ({guard.Groups[1].Value}) return;");
                }
            }
        }

        Assert.True(silent.Count == 0,
            "Tests that pass without running when a peer is missing; throw Peers.Missing (or use TestEngine.ConnectAsync, the peers' StartAsync) " +
            "in a [SkippableFact] instead:\n" + string.Join("\n", silent));
    }

    [Fact]
    public void The_check_above_sees_the_patterns_it_forbids()
    {
        // The check must not be one that cannot fail: each way the suite used to return early is caught.
        foreach (var sample in new[]
                 {
                     "if (engine is null) return;",
                     "if (fixture.Peer is not { } peer) return;",
                     "if (!chain.Available) return;",
                     "if (!DockerCli.EngineAvailable()) { return; }",
                     "if (!await ChainPeer.CompileContractAsync(dir.Path)) return;",
                     "if (_registry is null) return;",
                 })
        {
            var guard = EarlyReturn().Match(sample);
            Assert.True(guard.Success && PeerCondition().IsMatch(guard.Groups[1].Value), sample);
        }

        var allowed = EarlyReturn().Match("if (n == 0) return;");
        Assert.False(allowed.Success && PeerCondition().IsMatch(allowed.Groups[1].Value));
    }

    [GeneratedRegex(@"\n\s*\[(?:Fact|Theory|SkippableFact|SkippableTheory)\b")]
    private static partial Regex TestAttribute();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\b(?:Task|void)\s+(\w+)\s*\(")]
    private static partial Regex MethodName();

    // `if (COND) return;` or `if (COND) { return; }`, where COND may hold a `{ }` property pattern.
    [GeneratedRegex(@"if \(((?:[^;{}]|\{ \})*)\)\s*(?:\{\s*)?return;")]
    private static partial Regex EarlyReturn();

    [GeneratedRegex(@"is null|is not \{|Available|!await|[Ee]ngine|[Pp]eer|podman|nginx|registry|ipfs|mesh|chain|HasGpu")]
    private static partial Regex PeerCondition();
}

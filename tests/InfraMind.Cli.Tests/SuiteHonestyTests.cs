using System.Text.RegularExpressions;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The suite itself: no test passes without running, and none trips over another on the shared engine. A test whose
/// engine or peer is missing fails (peers required: CI=true, scripts/test.sh) or is reported as skipped
/// (<see cref="Peers.Missing"/>); it never returns early, which the runner counts as passed. About 90 tests did before
/// this check existed.
/// </summary>
public sealed partial class SuiteHonestyTests
{
    [Fact]
    public void No_test_returns_early_when_its_engine_or_peer_is_missing()
    {
        var silent = new List<string>();
        foreach (var (file, relative) in TestSources("SuiteHonestyTests.cs")) // its samples
        {
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

    [Fact]
    public void Tests_remove_images_through_the_helpers_that_wait_out_a_container_another_test_holds()
    {
        // Tests share one engine, and a container of another test's (a node being stopped, infra doctor's check) may
        // hold an image for a moment. A CI run failed in a clean-up that removed an image straight through the engine:
        // its exception also hid the test's own outcome. TestEngine.RemoveImageAsync waits that out; RemoveTestImagesAsync
        // (clean-ups) never throws. A removal a test expects to be refused (Assert.ThrowsAsync) is not a clean-up.
        var direct = new List<string>();
        foreach (var (file, relative) in TestSources("TestEngine.cs", "SuiteHonestyTests.cs"))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (DirectImageRemoval().IsMatch(lines[i]) && !lines[i].Contains("Assert.ThrowsAsync", StringComparison.Ordinal))
                    direct.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
            }
        }

        Assert.True(direct.Count == 0,
            "Images removed straight through the engine; use TestEngine.RemoveImageAsync (it must succeed) or " +
            "TestEngine.RemoveTestImagesAsync (a clean-up):\n" + string.Join("\n", direct));
        Assert.Matches(DirectImageRemoval(), "await engine.RemoveImageAsync(tag, force: true, None);");
        Assert.Matches(DirectImageRemoval(), "await Engine.RemoveImageAsync(Tag, force: true, CancellationToken.None);");
        Assert.DoesNotMatch(DirectImageRemoval(), "await TestEngine.RemoveImageAsync(engine, tag);");
    }

    // A call of ContainerEngine.RemoveImageAsync on anything but TestEngine.
    [GeneratedRegex(@"(?<!TestEngine)\.RemoveImageAsync\(")]
    private static partial Regex DirectImageRemoval();

    /// <summary>The suite's C# sources (no build output, no npm packages) but the files named <paramref name="except"/>, with their paths from the repository's root.</summary>
    private static IEnumerable<(string File, string Relative)> TestSources(params string[] except) =>
        Directory.EnumerateFiles(Path.Combine(TestEngine.RepoRoot, "tests"), "*.cs", SearchOption.AllDirectories)
            .Select(file => (File: file, Relative: Path.GetRelativePath(TestEngine.RepoRoot, file)))
            .Where(f => !f.Relative.Contains("/obj/", StringComparison.Ordinal) && !f.Relative.Contains("/bin/", StringComparison.Ordinal) &&
                        !f.Relative.Contains("/node_modules/", StringComparison.Ordinal) && !except.Contains(Path.GetFileName(f.File)));

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

using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// The claim `infra mesh up` makes on its home as it starts (<see cref="MeshRecord.Claim"/>): one step that fails where a
/// record exists, so that of two meshes started at once only one runs, whatever registry either serves.
/// </summary>
public sealed class MeshRecordClaimTests
{
    [Fact]
    public void A_home_is_claimed_once_until_its_claim_is_released()
    {
        using var dir = new TempDirectory("im-claim");
        var home = new InfraHome(dir.Path);
        var first = MeshRecord.Claim(home);
        Assert.Equal((Environment.ProcessId, MeshRecord.StartTime(Environment.ProcessId)!), MeshRecord.Read(home));

        // A second claim while the first holds: IM6049, naming the holder's PID; the first's record is untouched.
        var refused = Assert.Throws<InfraMindException>(() => MeshRecord.Claim(home));
        Assert.Equal("IM6049", refused.Code.Value);
        Assert.Contains($"PID {Environment.ProcessId}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("infra mesh down", refused.Hint, StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessId, MeshRecord.Read(home)?.Pid);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(MeshRecord.File(home))!));

        // Released: the record goes, and the home can be claimed again.
        first.Dispose();
        Assert.False(File.Exists(MeshRecord.File(home)));
        MeshRecord.Claim(home).Dispose();

        // A record that does not read as one (half a write of another tool) still holds the home: clearing a stale record
        // is mesh up's step before its claim, never the claim's.
        File.WriteAllText(MeshRecord.File(home), "garbage");
        Assert.Equal("IM6049", Assert.Throws<InfraMindException>(() => MeshRecord.Claim(home)).Code.Value);
        Assert.Equal("garbage", File.ReadAllText(MeshRecord.File(home)));
    }

    /// <summary>
    /// Two `mesh up` that both found a dead mesh's record: the first clears it and claims the home; the second's clearing,
    /// which comes after, must leave the first's record (and the containers of the home) alone, and its claim then fails.
    /// The live mesh is a stand-in of this test that looks like `infra … mesh up`; no engine is reached.
    /// </summary>
    [Fact]
    public async Task Clearing_a_record_found_stale_leaves_a_record_claimed_since()
    {
        using var dir = new TempDirectory("im-claim");
        var home = new InfraHome(dir.Path);
        await using var running = await StandInMesh.StartAsync(dir.Path);
        // Nothing cleared (null, so mesh up says nothing of a stale record), and the live record is left.
        Assert.Null(await MeshRecord.ClearStaleAsync(home, null, CancellationToken.None));
        Assert.StartsWith($"{running.Id} ", File.ReadAllText(MeshRecord.File(home)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Of_many_claims_at_once_exactly_one_wins()
    {
        using var dir = new TempDirectory("im-claim");
        var home = new InfraHome(dir.Path);
        using var start = new Barrier(8);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            try
            {
                return MeshRecord.Claim(home);
            }
            catch (InfraMindException e) when (e.Code.Value == "IM6049")
            {
                return null;
            }
        })));
        Assert.Single(results, r => r is not null);
        foreach (var r in results) r?.Dispose();
        Assert.False(File.Exists(MeshRecord.File(home)));
    }
}

using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra cid` prints what `ipfs add --only-hash` would; checked against js-ipfs's importer (tests/peers/cid).</summary>
public sealed class CidCommandTests
{
    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(262145)]
    public async Task Prints_the_CIDs_an_independent_importer_gives(long size)
    {
        using var cli = new CliRunner();
        var file = CidPeer.CreateFile(cli.Work, size);
        var peer = await CidPeer.ComputeAsync(file, "image.tar");

        Assert.Equal(peer.V0, await CidOf(cli, file));
        Assert.Equal(peer.V0, await CidOf(cli, file, "--cid-version", "0"));
        Assert.Equal(peer.V1, await CidOf(cli, file, "--cid-version", "1"));
        Assert.Equal(peer.V0Wrap, await CidOf(cli, file, "--wrap", "image.tar"));
        Assert.Equal(peer.V1Wrap, await CidOf(cli, file, "--cid-version", "1", "--wrap", "image.tar"));
    }

    [Fact]
    public async Task Json_gives_the_settings_beside_the_CID()
    {
        using var cli = new CliRunner();
        var file = cli.Work + "/hello.txt";
        await File.WriteAllTextAsync(file, "hello world\n");
        var json = await cli.RunJsonAsync(0, "cid", file, "--json");
        Assert.Equal("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", json.GetProperty("cid").GetString());
        Assert.Equal(12, json.GetProperty("size").GetInt64());
        Assert.Equal(0, json.GetProperty("cidVersion").GetInt32());
        Assert.False(json.GetProperty("rawLeaves").GetBoolean());
        Assert.Equal("ipfs add", json.GetProperty("command").GetString());

        var wrapped = await cli.RunJsonAsync(0, "cid", file, "--json", "--cid-version", "1", "--wrap", "image.tar");
        Assert.Equal("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4", wrapped.GetProperty("fileCid").GetString());
        Assert.Equal("bafybeigrlahak3ciltgpjnuawdmrmlv5243lh2ub6wd4exhpulifqkw3oy", wrapped.GetProperty("cid").GetString());
        Assert.Equal("image.tar", wrapped.GetProperty("wrap").GetString());
    }

    [Fact]
    public async Task Reads_standard_input_like_a_pipe_into_ipfs_add()
    {
        using var cli = new CliRunner();
        var psi = InfraProcess.StartInfo(cli.Home, "cid", "-", "--cid-version", "1", "--wrap", "image.tar");
        psi.RedirectStandardInput = true;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync("hello world\n");
        p.StandardInput.Close();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{await stderr}");
        Assert.Equal("bafybeigrlahak3ciltgpjnuawdmrmlv5243lh2ub6wd4exhpulifqkw3oy", (await stdout).Trim());
    }

    [Theory]
    [InlineData("missing.bin")]
    [InlineData("dir")]
    [InlineData("file", "--cid-version", "2")]
    [InlineData("file", "--wrap", "a/b")]
    [InlineData("file", "--wrap", "")]
    public async Task Usage_errors_exit_2(string target, params string[] rest)
    {
        using var cli = new CliRunner();
        Directory.CreateDirectory(Path.Combine(cli.Work, "dir"));
        await File.WriteAllTextAsync(Path.Combine(cli.Work, "file"), "x");
        var (code, output, error) = await cli.RunAsync(["cid", Path.Combine(cli.Work, target), .. rest]);
        Assert.True(code == 2, $"exit {code}\n{output}\n{error}");
        Assert.Contains("error IM", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    private static async Task<string> CidOf(CliRunner cli, string file, params string[] options)
    {
        var (code, output, error) = await cli.RunAsync(["cid", file, .. options]);
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        return output.Trim();
    }
}

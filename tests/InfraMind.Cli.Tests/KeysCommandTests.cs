using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra keys generate|import|list` as scripts use them, run as the real `infra` process: types, addresses and refusals.</summary>
public sealed class KeysCommandTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Keys_generate_p256_by_default_and_secp256k1_with_an_address()
    {
        var p256 = await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "generate", "--name", "plain");
        Assert.Equal("p256", p256.GetProperty("type").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, p256.GetProperty("address").ValueKind);

        var k1 = await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "generate", "--name", "chain", "--type", "secp256k1");
        Assert.Equal("secp256k1", k1.GetProperty("type").GetString());
        Assert.Matches("^0x[0-9a-fA-F]{40}$", k1.GetProperty("address").GetString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(k1.GetProperty("privateKey").GetString()!));

        await InfraProcess.FailsAsync(_cli.Home, 2, "IM5008", "keys", "generate", "--name", "rsa", "--type", "rsa");
        await InfraProcess.FailsAsync(_cli.Home, 1, "IM5003", "keys", "generate", "--name", "chain", "--type", "secp256k1");
    }

    [Fact]
    public async Task A_damaged_key_file_is_named_with_how_to_recover_and_without_dotnet_text()
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "k")).Code);
        var junk = Path.Combine(_cli.Work, "junk.pem");
        await File.WriteAllTextAsync(junk, "garbage\n");
        var digest = "sha256:" + new string('a', 64);

        AssertNamed(await _cli.RunAsync("receipt", "verify", "abc", "--public-key", junk, "--json"), "IM5019", junk, "infra keys list --json");
        AssertNamed(await _cli.RunAsync("verify", "m", "--offline", junk, "--registry-key", junk, "--json"), "IM5019", junk, "infra keys list --json");
        AssertNamed(await _cli.RunAsync("verify", "m", "--image", $"oci://127.0.0.1:9/x@{digest}", "--publisher-key", junk, "--json"), "IM5019", junk, "infra keys list --json");

        var pub = Path.Combine(_cli.Home, "keys", "k.pub");
        await File.WriteAllTextAsync(pub, "garbage\n");
        AssertNamed(await _cli.RunAsync("keys", "list", "--json"), "IM5006", pub, "backup");
        var key = Path.Combine(_cli.Home, "keys", "k.key");
        await File.WriteAllTextAsync(key, "");
        AssertNamed(await _cli.RunAsync("chain", "deploy", "--rpc", "http://127.0.0.1:9", "--payer", "k", "--json"), "IM5006", key, "backup");

        static void AssertNamed((int Code, string Out, string Err) result, string code, string file, string hint)
        {
            Assert.True(result.Code == 1, $"exit {result.Code}\n{result.Out}\n{result.Err}");
            var error = System.Text.Json.JsonDocument.Parse(result.Out).RootElement.GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.StartsWith(file + ":", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains(hint, error.GetProperty("hint").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("Parameter", result.Out + result.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Keys_import_a_dev_chain_key_with_or_without_0x_and_list_shows_its_address()
    {
        var withPrefix = Path.Combine(_cli.Work, "k0.txt");
        await File.WriteAllTextAsync(withPrefix, ChainPeer.GanacheKeys[0] + "\n");
        var withoutPrefix = Path.Combine(_cli.Work, "k1.txt");
        await File.WriteAllTextAsync(withoutPrefix, ChainPeer.GanacheKeys[1][2..]);

        var first = await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "import", "--name", "acct0", "--type", "secp256k1", "--private-key-file", withPrefix);
        Assert.Equal(ChainPeer.GanacheAccounts[0], first.GetProperty("address").GetString());
        var second = await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "import", "--name", "acct1", "--private-key-file", withoutPrefix);
        Assert.Equal(ChainPeer.GanacheAccounts[1], second.GetProperty("address").GetString());
        Assert.Equal(0, (await InfraProcess.RunAsync(_cli.Home, "keys", "generate", "--name", "plain")).Code);

        var list = await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "list");
        Assert.Equal(["acct0", "acct1", "plain"], list.EnumerateArray().Select(k => k.GetProperty("name").GetString()!).ToArray());
        Assert.Equal([ChainPeer.GanacheAccounts[0], ChainPeer.GanacheAccounts[1], "(none)"], list.EnumerateArray().Select(k => k.GetProperty("address").GetString() ?? "(none)").ToArray());
        Assert.Equal(["secp256k1", "secp256k1", "p256"], list.EnumerateArray().Select(k => k.GetProperty("type").GetString()!).ToArray());
        var text = await InfraProcess.RunAsync(_cli.Home, "keys", "list");
        Assert.Contains(ChainPeer.GanacheAccounts[0], text.Out, StringComparison.Ordinal);

        // The same key twice under one name, a file that holds no key, a missing file, a P-256 import: each its own answer.
        await InfraProcess.FailsAsync(_cli.Home, 1, "IM5003", "keys", "import", "--name", "acct0", "--private-key-file", withPrefix);
        var garbage = Path.Combine(_cli.Work, "garbage.txt");
        await File.WriteAllTextAsync(garbage, "0xnot-a-key");
        var error = await InfraProcess.FailsAsync(_cli.Home, 1, "IM5007", "keys", "import", "--name", "bad", "--private-key-file", garbage);
        Assert.Contains("64 hex digits", error, StringComparison.Ordinal);
        await InfraProcess.FailsAsync(_cli.Home, 2, "IM0003", "keys", "import", "--name", "none", "--private-key-file", Path.Combine(_cli.Work, "missing.txt"));
        await InfraProcess.FailsAsync(_cli.Home, 2, "IM5008", "keys", "import", "--name", "p", "--type", "p256", "--private-key-file", withPrefix);
        await InfraProcess.FailsAsync(_cli.Home, 2, "IM0002", "keys", "import", "--name", "p");
    }
}

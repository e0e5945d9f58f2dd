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
        var listed = Assert.Single((await _cli.RunJsonAsync(0, "keys", "list", "--json")).EnumerateArray());
        Assert.Equal("IM5006", listed.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith(pub + ":", listed.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("backup", listed.GetProperty("error").GetProperty("hint").GetString(), StringComparison.Ordinal);
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

    /// <summary>
    /// A key file that is a link to a device: the empty and 64 KiB checks judged the link's own length (9 bytes for
    /// /dev/zero), and the file was read whole, out of memory (IM0001, exit 70: found by an audit). It is listed as
    /// damaged, the other keys as always.
    /// </summary>
    [Fact]
    public async Task A_key_file_linked_to_a_device_is_listed_as_damaged()
    {
        Assert.Equal(0, (await InfraProcess.RunAsync(_cli.Home, "keys", "generate", "--name", "good")).Code);
        Assert.Equal(0, (await InfraProcess.RunAsync(_cli.Home, "keys", "generate", "--name", "linked")).Code);
        var pub = Path.Combine(_cli.Home, "keys", "linked.pub");
        File.Delete(pub);
        File.CreateSymbolicLink(pub, "/dev/zero");

        var list = (await InfraProcess.JsonAsync(_cli.Home, 0, "keys", "list")).EnumerateArray().ToArray();

        Assert.Equal(["good", "linked"], list.Select(k => k.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, list[0].GetProperty("error").ValueKind);
        var error = list[1].GetProperty("error");
        Assert.Equal("IM5006", error.GetProperty("code").GetString());
        Assert.Equal($"{pub} is empty (or not a regular file)", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("pub", "broken.pub: not a PEM public key")]
    [InlineData("key", "broken.key: not a PKCS#8 PEM private key")]
    [InlineData("empty", "broken.pub is empty")]
    [InlineData("swapped", "are not one key pair")]
    [InlineData("orphan", "broken.pub is missing")]
    public async Task Keys_list_shows_the_good_keys_and_names_a_damaged_one_with_why(string damage, string why)
    {
        // One damaged file failed the whole list (or, a private key alone, was not listed at all): the good keys went unseen.
        var good = await _cli.RunJsonAsync(0, "keys", "generate", "--name", "good", "--json");
        var chain = await _cli.RunJsonAsync(0, "keys", "generate", "--name", "zeta", "--type", "secp256k1", "--json");
        var keys = Path.Combine(_cli.Home, "keys");
        if (damage != "orphan") Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "broken")).Code);
        var garbage = "garbage\n\0\u00ff-----BEGIN PUBLIC KEY-----\n%%%\n"u8.ToArray();
        switch (damage)
        {
            case "pub": await File.WriteAllBytesAsync(Path.Combine(keys, "broken.pub"), garbage); break;
            case "key" or "orphan": await File.WriteAllBytesAsync(Path.Combine(keys, "broken.key"), garbage); break;
            case "empty": await File.WriteAllBytesAsync(Path.Combine(keys, "broken.pub"), []); break;
            case "swapped": File.Copy(Path.Combine(keys, "good.pub"), Path.Combine(keys, "broken.pub"), overwrite: true); break;
        }

        var list = (await _cli.RunJsonAsync(0, "keys", "list", "--json")).EnumerateArray().ToArray();
        Assert.Equal(["broken", "good", "zeta"], list.Select(k => k.GetProperty("name").GetString()!).ToArray());
        foreach (var (listed, generated) in new[] { (list[1], good), (list[2], chain) })
        {
            Assert.Equal(generated.GetProperty("fingerprint").GetString(), listed.GetProperty("fingerprint").GetString());
            Assert.Equal(generated.GetProperty("type").GetString(), listed.GetProperty("type").GetString());
            Assert.Equal(generated.GetProperty("address").ToString(), listed.GetProperty("address").ToString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, listed.GetProperty("error").ValueKind);
        }

        var broken = list[0];
        var error = broken.GetProperty("error");
        Assert.Equal("IM5006", error.GetProperty("code").GetString());
        Assert.Contains(why, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(keys, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("backup", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, broken.GetProperty("fingerprint").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, broken.GetProperty("type").ValueKind);
        Assert.Equal(Path.Combine(keys, "broken.key"), broken.GetProperty("privateKey").GetString());
        Assert.Equal(damage == "orphan" ? null : Path.Combine(keys, "broken.pub"), broken.GetProperty("publicKey").GetString());

        var (code, output, err) = await _cli.RunAsync("keys", "list");
        Assert.True(code == 0, $"exit {code}\n{output}\n{err}");
        // Words as the terminal shows them (a long line wraps at the console's width).
        var text = string.Join(' ', output.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"good p256 {good.GetProperty("fingerprint").GetString()}", text, StringComparison.Ordinal);
        Assert.Contains($"zeta secp256k1 {chain.GetProperty("fingerprint").GetString()} {chain.GetProperty("address").GetString()}", text, StringComparison.Ordinal);
        Assert.Contains($"broken damaged IM5006: {keys}", text, StringComparison.Ordinal);
        Assert.Contains(why, text, StringComparison.Ordinal);
        Assert.Contains("hint: restore the key's files from a backup", text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output + err, StringComparison.Ordinal);
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

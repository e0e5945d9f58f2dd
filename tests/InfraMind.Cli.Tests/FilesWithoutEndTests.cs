using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A file named on the command line that never ends (/dev/zero, a device or a pipe that reports no length) or is far
/// larger than what it should hold is refused at a bound with the option's own code, never read whole: read whole, it
/// ran the real `infra` out of memory (IM0001, exit 70). Run as a separate process, as a user's shell would.
/// </summary>
public sealed class FilesWithoutEndTests : IDisposable
{
    private static readonly string Digest = "sha256:" + new string('0', 64);
    private readonly TempDirectory _home = new("im-home");
    private readonly TempDirectory _work = new("im-work");

    public void Dispose()
    {
        _home.Dispose();
        _work.Dispose();
    }

    [Theory]
    // A public key PEM (Signing's PublicKey.FromPemFile): --public-key, --registry-key, --publisher-key.
    [InlineData("IM5019", 1, "holds more than 65536 bytes", new[] { "receipt", "verify", "not-a-receipt", "--public-key", "/dev/zero" })]
    [InlineData("IM5019", 1, "holds more than 65536 bytes", new[] { "verify", "m", "--offline", "{work}/bundle.json", "--registry-key", "/dev/zero" })]
    [InlineData("IM5019", 1, "holds more than 65536 bytes", new[] { "verify", "m", "--image", "oci://127.0.0.1:9/x@{digest}", "--publisher-key", "/dev/zero" })]
    // The gateway's admit list of node keys, and a node's mesh token file.
    [InlineData("IM0002", 2, "is larger than 1048576 bytes", new[] { "gateway", "serve", "--port", "0", "--admit-node-keys", "/dev/zero" })]
    [InlineData("IM6016", 2, "holds more than 4096 characters", new[] { "node", "serve", "--gateway", "http://127.0.0.1:9/", "--token-file", "/dev/zero" })]
    public async Task A_file_without_end_is_refused_at_a_bound_with_its_code(string code, int exit, string because, string[] args)
    {
        await File.WriteAllTextAsync(_work.Combine("bundle.json"), "{}");
        var expanded = args.Select(a => a.Replace("{work}", _work.Path, StringComparison.Ordinal).Replace("{digest}", Digest, StringComparison.Ordinal)).Append("--json").ToArray();

        var (actual, output, error) = await InfraProcess.RunAsync(InfraProcess.StartInfo(_home.Path, expanded), TimeSpan.FromMinutes(2));

        Assert.True(actual == exit, $"exit {actual}, expected {exit} ({code})\nstdout: {output}\nstderr: {error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal(code, e.GetProperty("code").GetString());
        Assert.Contains("/dev/zero", e.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains(because, e.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.StartsWith($"error {code}: ", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// The input and output a valid receipt is checked against are read to a bound too: before, `receipt verify
    /// --input /dev/zero` read the device whole once the receipt had verified.
    /// </summary>
    [Theory]
    [InlineData("--input")]
    [InlineData("--output")]
    public async Task A_receipts_input_or_output_without_end_is_refused_at_a_bound(string option)
    {
        Assert.Equal(0, (await InfraProcess.RunAsync(_home.Path, "keys", "generate", "--name", "k")).Code);
        string receipt;
        using (var key = new InfraMind.Signing.KeyStore(Path.Combine(_home.Path, "keys")).Load("k"))
            receipt = InfraMind.Serving.JobReceipts.Sign(key, "0123456789abcdef0123456789abcdef", "echo", "1.0.0", Digest, "{}"u8, "{}"u8, "node-1", DateTimeOffset.UtcNow);

        var (code, output, error) = await InfraProcess.RunAsync(InfraProcess.StartInfo(_home.Path, ["receipt", "verify", receipt, "--key", "k", option, "/dev/zero", "--json"]), TimeSpan.FromMinutes(2));

        Assert.True(code == 2, $"exit {code}\nstdout: {output}\nstderr: {error}");
        var e = JsonDocument.Parse(output).RootElement.GetProperty("error");
        Assert.Equal("IM0002", e.GetProperty("code").GetString());
        Assert.Equal($"{option} /dev/zero holds more than 268435456 bytes, more than a request or an answer through a mesh", e.GetProperty("message").GetString());
    }

    /// <summary>A PEM key file of sane size still reads as before, with the bounded read (the pinned and named keys alike).</summary>
    [Fact]
    public async Task A_public_key_file_reads_as_before()
    {
        Assert.Equal(0, (await InfraProcess.RunAsync(_home.Path, "keys", "generate", "--name", "k")).Code);
        var (code, output, error) = await InfraProcess.RunAsync(_home.Path, "receipt", "verify", "not-a-receipt", "--public-key", Path.Combine(_home.Path, "keys", "k.pub"), "--json");
        // The key is read and taken; the receipt, not the key, is what fails.
        Assert.True(code == 1, $"exit {code}\n{output}\n{error}");
        Assert.Equal("IM6045", JsonDocument.Parse(output).RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}

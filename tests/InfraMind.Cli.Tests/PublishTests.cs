using System.Text.Json;
using InfraMind.Registry;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra keys`, `publish`, `verify`, `log` end to end on the embedded registry and the local store.</summary>
[Collection(EngineTests.Name)]
public sealed class PublishTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<string> PushTinyAsync()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var tag = await TinyImage.EnsureAsync(engine);
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code); // publish signs with the default key, never made for you
        var pushed = await _cli.RunJsonAsync(0, "push", "--image", tag, "--to", "local", "--json");
        return pushed.GetProperty("reference").GetString()!;
    }

    private string Model(string name, string version = "1.0.0") => _cli.SummarizerModel(name, version);

    [Fact]
    public async Task Keys_are_generated_0600_listed_and_never_overwritten()
    {
        var created = await _cli.RunJsonAsync(0, "keys", "generate", "--name", "alice", "--json");
        var path = created.GetProperty("privateKey").GetString()!;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.StartsWith(_cli.Home, path, StringComparison.Ordinal);
        var list = await _cli.RunJsonAsync(0, "keys", "list", "--json");
        Assert.Equal(created.GetProperty("fingerprint").GetString(), list[0].GetProperty("fingerprint").GetString());
        var (code, _, err) = await _cli.RunAsync("keys", "generate", "--name", "alice");
        Assert.Equal(1, code);
        Assert.Contains("IM5003", err, StringComparison.Ordinal);
        Assert.Equal(2, (await _cli.RunAsync("keys", "generate", "--name", "Bad Name")).Code);
        Assert.Equal(2, (await _cli.RunAsync("keys", "generate", "--name", "enc", "--passphrase-from-env", "NOT_SET_ANYWHERE")).Code);
    }

    [SkippableFact]
    public async Task Publish_verify_and_log_round_trip_and_republish_is_idempotent()
    {
        var reference = await PushTinyAsync();
        var model = Model("pub-roundtrip");
        var published = await _cli.RunJsonAsync(0, "publish", "--model", model, "--image", reference, "--json");
        Assert.False(published.GetProperty("alreadyPublished").GetBoolean());
        Assert.Equal("/inference/v1/pub-roundtrip", published.GetProperty("endpoint").GetString());
        Assert.StartsWith("ep_", published.GetProperty("endpointId").GetString(), StringComparison.Ordinal);
        Assert.Equal(reference, "local://" + published.GetProperty("imageDigest").GetString());

        var again = await _cli.RunJsonAsync(0, "publish", "--model", model, "--image", reference, "--json");
        Assert.True(again.GetProperty("alreadyPublished").GetBoolean());
        Assert.Equal(published.GetProperty("index").GetInt64(), again.GetProperty("index").GetInt64());

        var verified = await _cli.RunJsonAsync(0, "verify", "pub-roundtrip@1.0.0", "--json");
        Assert.True(verified.GetProperty("passed").GetBoolean());
        Assert.Equal(["signature", "statement", "checkpoint", "inclusion", "manifest"],
            verified.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray());

        var log = await _cli.RunJsonAsync(0, "log", "--json");
        Assert.Equal(1, log.GetProperty("size").GetInt64());
        Assert.Equal("pub-roundtrip", log.GetProperty("entries")[0].GetProperty("name").GetString());
    }

    [SkippableFact]
    public async Task Another_key_cannot_publish_an_owned_name_and_versions_are_immutable()
    {
        var reference = await PushTinyAsync();
        Assert.Equal(0, (await _cli.RunAsync("publish", "--model", Model("owned"), "--image", reference)).Code);
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "mallory")).Code);

        var (code, _, err) = await _cli.RunAsync("publish", "--model", Model("owned", "1.1.0"), "--image", reference, "--key", "mallory");
        Assert.Equal(1, code);
        Assert.Contains("IM5101", err, StringComparison.Ordinal);

        var changed = Model("owned", "1.0.0");
        File.AppendAllText(changed, "# a different manifest, same version\n");
        (code, _, err) = await _cli.RunAsync("publish", "--model", changed, "--image", reference);
        Assert.Equal(1, code);
        Assert.Contains("IM5102", err, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Offline_verification_catches_a_tampered_bundle()
    {
        var reference = await PushTinyAsync();
        Assert.Equal(0, (await _cli.RunAsync("publish", "--model", Model("offline"), "--image", reference)).Code);
        var bundle = Path.Combine(_cli.Work, "bundle.json");
        Assert.Equal(0, (await _cli.RunAsync("verify", "offline", "--save", bundle)).Code);
        var ok = await _cli.RunJsonAsync(0, "verify", "offline", "--offline", bundle, "--json");
        Assert.True(ok.GetProperty("passed").GetBoolean());

        // One changed hash of the inclusion proof (or the checkpoint root) must fail exactly that check.
        var doc = JsonDocument.Parse(File.ReadAllText(bundle)).RootElement.GetRawText();
        var checkpoint = JsonDocument.Parse(doc).RootElement.GetProperty("checkpoint").GetString()!;
        var lines = checkpoint.Split('\n');
        var root = Convert.FromBase64String(lines[2]);
        root[0] ^= 1;
        var tampered = doc.Replace(JsonEncodedText.Encode(lines[2]).ToString(), Convert.ToBase64String(root), StringComparison.Ordinal);
        Assert.NotEqual(doc, tampered);
        File.WriteAllText(bundle, tampered);
        var bad = await _cli.RunJsonAsync(1, "verify", "offline", "--offline", bundle, "--json");
        Assert.False(bad.GetProperty("passed").GetBoolean());
        var checkpointCheck = Assert.Single(bad.GetProperty("checks").EnumerateArray(), c => c.GetProperty("name").GetString() == "checkpoint");
        Assert.False(checkpointCheck.GetProperty("passed").GetBoolean());
        // The failed check says how to fix it, as its code's default hint.
        Assert.Equal(RegistryErrorCodes.CheckpointSignature.DefaultHint, checkpointCheck.GetProperty("hint").GetString());
        Assert.All(bad.GetProperty("checks").EnumerateArray().Where(c => c.GetProperty("passed").GetBoolean()),
            c => Assert.Equal(JsonValueKind.Null, c.GetProperty("hint").ValueKind));
        var text = await _cli.RunAsync("verify", "offline", "--offline", bundle);
        Assert.Contains("hint: fetch it again", text.Out, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task An_image_built_from_another_model_yaml_is_refused_before_anything_is_signed()
    {
        using var engine = await TestEngine.ConnectAsync();
        var package = BrokenModel.Create(Path.Combine(_cli.Work, "bound"), "bound-model");
        Assert.Equal(0, (await _cli.RunAsync("build", package)).Code);
        var yaml = Path.Combine(package, "model.yaml");
        var version = File.ReadLines(yaml).First(l => l.StartsWith("version:", StringComparison.Ordinal))["version:".Length..].Trim();
        var reference = (await _cli.RunJsonAsync(0, "push", "--image", $"bound-model:{version}", "--to", "local", "--json")).GetProperty("reference").GetString()!;
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);

        // model.yaml edited after the build: the image's label still names the manifest it was built from (#13 §10).
        var built = InfraMind.Manifest.ManifestReader.Validate(yaml).Manifest!.ManifestDigest;
        File.AppendAllText(yaml, "# edited after the build\n");
        var (code, _, err) = await _cli.RunAsync("publish", "--model", yaml, "--image", reference);
        Assert.Equal(1, code);
        Assert.Contains("IM5147", err, StringComparison.Ordinal);
        Assert.Contains(built, err, StringComparison.Ordinal);
        Assert.Equal(0, (await _cli.RunJsonAsync(0, "log", "--json")).GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task Publishing_an_unknown_reference_or_an_invalid_model_fails_cleanly()
    {
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        var (code, _, err) = await _cli.RunAsync("publish", "--model", Model("nothing"), "--image", "local://sha256:" + new string('a', 64));
        Assert.Equal(1, code);
        Assert.Matches("IM4[0-9]{3}", err);
        var invalid = Path.Combine(_cli.Work, "bad.yaml");
        File.WriteAllText(invalid, "name: X\n");
        Assert.Equal(1, (await _cli.RunAsync("publish", "--model", invalid, "--image", "local")).Code);
        Assert.Equal(2, (await _cli.RunAsync("publish", "--model", Path.Combine(_cli.Work, "none.yaml"), "--image", "local")).Code);
        Assert.Equal(2, (await _cli.RunAsync("publish", "--image", "local")).Code);
        var (vcode, _, verr) = await _cli.RunAsync("verify", "never-published");
        Assert.Equal(1, vcode);
        Assert.Contains("IM5105", verr, StringComparison.Ordinal);
    }
}

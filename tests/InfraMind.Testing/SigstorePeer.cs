using System.Diagnostics;
using System.Text.Json;

namespace InfraMind.Testing;

/// <summary>
/// The independent Sigstore verifier (npm @sigstore/verify, tests/peers/sigstore/verify-oci.js): reads the bundle
/// referrers of an image from a registry over HTTP itself and verifies them with a public key, sharing no code with
/// InfraMind.
/// </summary>
public static class SigstorePeer
{
    public static string Script => Path.Combine(TestEngine.RepoRoot, "tests", "peers", "sigstore", "verify-oci.js");

    /// <summary>Runs the verifier; its exit code (0 verified, 1 rejected) and its one JSON line. A missing peer fails or skips the test.</summary>
    public static async Task<(int Code, JsonElement Result)> VerifyAsync(Uri registry, string repository, string digest, string publicKeyPem, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(Path.Combine(Path.GetDirectoryName(Script)!, "node_modules", "@sigstore", "verify")))
        {
            throw Peers.Missing("the independent Sigstore verifier is not installed", "run tests/peers/sigstore/install.sh (needs node and npm)");
        }

        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Script, "--registry", registry.ToString(), "--repository", repository, "--digest", digest, "--key", publicKeyPem })
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        var stdout = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        var line = stdout.Trim();
        if (process.ExitCode is not (0 or 1) || line.Length == 0)
        {
            throw new InvalidOperationException($"node verify-oci.js failed ({process.ExitCode}): {await stderr}{stdout}");
        }

        using var doc = JsonDocument.Parse(line);
        return (process.ExitCode, doc.RootElement.Clone());
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace InfraMind.Storage;

/// <summary>
/// One run of a docker credential helper, <c>docker-credential-NAME get</c>: the registry on stdin, a JSON object
/// <c>{"ServerURL","Username","Secret"}</c> on stdout, or a non-zero exit with "credentials not found" when it holds
/// none. The program is looked for on the given PATH only (NAME must be a plain name, never a path); it runs at most
/// <c>timeout</c> (then it and its children are killed) and what it prints is read up to
/// <see cref="DockerCredentialStore.MaxHelperOutputBytes"/>.
/// </summary>
internal sealed partial class CredentialHelper(string name, string? searchPath, TimeSpan timeout)
{
    private string Program => "docker-credential-" + name;

    public async Task<RegistryCredentials?> GetAsync(string registry, CancellationToken cancellationToken)
    {
        if (!PlainName().IsMatch(name))
        {
            throw DockerCredentialStore.Failed($"the docker configuration names the credential helper \"{name}\"; a helper name is letters, digits, '.', '_' or '-' (the program is docker-credential-NAME on PATH).");
        }

        string path = Find() ?? throw DockerCredentialStore.Failed(
            $"the docker configuration names the credential helper \"{name}\", but no executable {Program} is on PATH. Install it, or remove it from credsStore / credHelpers.");
        var start = new ProcessStartInfo(path, "get")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw DockerCredentialStore.Failed($"{path} could not be started ({e.Message}).", e);
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            var stdout = ReadOutputAsync(process.StandardOutput.BaseStream, limit.Token);
            var stderr = ReadOutputAsync(process.StandardError.BaseStream, limit.Token);
            try
            {
                await process.StandardInput.WriteAsync(registry.AsMemory(), limit.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The helper exited without reading its input; its exit status and output say why.
            }

            byte[] output = await stdout.ConfigureAwait(false);
            byte[] errors = await stderr.ConfigureAwait(false);
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            return Answer(process.ExitCode, output, errors, registry, path);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill(process);
            throw DockerCredentialStore.Failed($"{path} did not answer within {timeout.TotalSeconds:0.#} s for {registry}; it was stopped. Check the helper (a locked keychain waits for a password prompt).");
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    private static RegistryCredentials? Answer(int exitCode, byte[] output, byte[] errors, string registry, string path)
    {
        string text = Encoding.UTF8.GetString(output).Trim();
        if (exitCode != 0)
        {
            // The helper protocol's not-found answer (docker-credential-helpers' ErrCredentialsNotFound).
            if (text.Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            string said = FirstLine(text.Length > 0 ? text : Encoding.UTF8.GetString(errors).Trim());
            throw DockerCredentialStore.Failed($"{path} get failed for {registry} (exit {exitCode}){(said.Length > 0 ? ": " + said : "")}.");
        }

        try
        {
            using var doc = JsonDocument.Parse(output, new JsonDocumentOptions { MaxDepth = 4 });
            var root = doc.RootElement;
            string? user = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("Username", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            string? secret = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("Secret", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (string.IsNullOrEmpty(user) || secret is null)
            {
                throw DockerCredentialStore.Failed($"{path} get answered for {registry} without a Username and Secret; the helper protocol's answer is {{\"ServerURL\",\"Username\",\"Secret\"}}.");
            }

            return user == "<token>"
                ? throw DockerCredentialStore.Failed($"{path} holds an identity token (an OAuth refresh token) for {registry}; InfraMind sends only a user name and password or access token. Log in with a password or token instead.")
                : new RegistryCredentials(user, secret, [registry]) { Source = path };
        }
        catch (JsonException e)
        {
            throw DockerCredentialStore.Failed($"{path} get answered for {registry} with something that is not JSON.", e);
        }
    }

    private static string FirstLine(string text)
    {
        string line = text.Split('\n', 2)[0].Trim();
        line = new string(line.Where(c => !char.IsControl(c)).ToArray());
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    private static async Task<byte[]> ReadOutputAsync(Stream stream, CancellationToken cancellationToken) =>
        await BoundedBody.ReadAsync(stream, null, DockerCredentialStore.MaxHelperOutputBytes, cancellationToken).ConfigureAwait(false)
        ?? throw DockerCredentialStore.Failed($"a credential helper printed more than {DockerCredentialStore.MaxHelperOutputBytes} bytes; its answer is a small JSON object, so it was stopped.");

    private string? Find()
    {
        foreach (string dir in (searchPath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, Program);
            if (File.Exists(candidate) && (OperatingSystem.IsWindows() || (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0))
            {
                return candidate;
            }
        }

        return null;
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex PlainName();
}

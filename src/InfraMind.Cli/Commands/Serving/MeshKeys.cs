using System.CommandLine;
using InfraMind.Signing;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// The keys of the serving commands: a node's or gateway's own key (`--key NAME`, from $INFRAMIND_HOME/keys), the keys
/// `infra mesh up` makes for its own gateway and nodes ($INFRAMIND_HOME/mesh/keys), and the admit lists of fingerprints
/// (`--admit-node-key`, `--admit-node-keys FILE`, `--admit-gateway-key`).
/// </summary>
internal static class MeshKeys
{
    /// <summary>Most fingerprints an admit list holds (options and file together).</summary>
    public const int MaxAdmitted = 10_000;

    /// <summary>Largest admit-list file read.</summary>
    public const long MaxAdmitFileBytes = 1024 * 1024;

    public static Option<string?> KeyOption(string description) => new("--key") { Description = description, HelpName = "NAME" };

    public static Option<string?> PassphraseOption() => KeysCommand.PassphraseOption("Environment variable holding the --key's passphrase", "--key-passphrase-from-env");

    public static Option<string[]> AdmitOption(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "FINGERPRINT", AllowMultipleArgumentsPerToken = false };
        option.Validators.Add(r =>
        {
            foreach (var f in r.GetValueOrDefault<string[]>() ?? [])
                if (!IsFingerprint(f)) r.AddError($"{name} '{f}' is not a key fingerprint: write sha256: and 64 hex digits, as `infra keys list` prints them");
        });
        return option;
    }

    /// <summary>A key of the user's key store, or null when <paramref name="name"/> is null.</summary>
    public static SigningKey? Load(CliContext context, string? name, string? passphraseVariable) =>
        name is null ? null : KeysCommand.Load(context, name, passphraseVariable);

    /// <summary>A key `infra mesh up` keeps for one of its own servers, made on first use (owner-only, unencrypted).</summary>
    public static SigningKey Embedded(CliContext context, string name) => new KeyStore(InfraHome.Ensure(context.Home.MeshKeys)).LoadOrGenerate(name);

    /// <summary>
    /// The admit list of <paramref name="listed"/> fingerprints and those of <paramref name="file"/> (one per line; blank
    /// lines and # comments skipped); null when neither names any, which means no list at all.
    /// </summary>
    public static IReadOnlySet<string>? Admitted(IEnumerable<string> listed, string? file, string fileOption)
    {
        var all = new HashSet<string>(listed.Select(f => f.Trim().ToLowerInvariant()), StringComparer.Ordinal);
        if (file is not null)
        {
            CliErrorCodes.RequireFile(file, fileOption + " file", "name a file with one key fingerprint (sha256:HEX) per line");
            // Read with the bound, not by the file's length: a device or a pipe reports none, and /dev/zero, one line
            // without end, ran the line reader out of memory.
            var text = BoundedBody.ReadText(file, MaxAdmitFileBytes)
                ?? throw new InfraMindException(CliErrorCodes.UsageError, $"{fileOption}: {file} is larger than {MaxAdmitFileBytes} bytes", $"list at most {MaxAdmitted} fingerprints, one per line");
            var number = 0;
            foreach (var raw in text.Split('\n'))
            {
                number++;
                var line = raw.Split('#', 2)[0].Trim();
                if (line.Length == 0) continue;
                if (!IsFingerprint(line))
                    throw new InfraMindException(CliErrorCodes.UsageError, $"{fileOption}: {file} line {number}: '{line}' is not a key fingerprint",
                        "write sha256: and 64 hex digits per line, as `infra keys list` prints them");
                all.Add(line.ToLowerInvariant());
            }
        }

        if (all.Count > MaxAdmitted)
            throw new InfraMindException(CliErrorCodes.UsageError, $"{all.Count} admitted keys, more than {MaxAdmitted}", "admit at most 10000 keys");
        return listed.Any() || file is not null ? all : null;
    }

    /// <summary>A key fingerprint as `infra keys list` prints it: sha256: and 64 hex digits (white space around it, and either case, allowed).</summary>
    internal static bool IsFingerprint(string f)
    {
        f = f.Trim();
        return f.Length == 71 && f.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) && f[7..].All(Uri.IsHexDigit);
    }
}

using System.CommandLine;
using InfraMind.Signing;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra keys generate|list`: the deployer's P-256 keys under the InfraMind home, and the one place they are loaded.</summary>
internal static class KeysCommand
{
    public const string DefaultKey = "default";

    public static Command Create(CliContext context)
    {
        var keys = new Command("keys", "Manage deployer signing keys (ECDSA P-256, PKCS#8 PEM, mode 0600) in $INFRAMIND_HOME/keys.");
        var name = new Option<string>("--name") { Description = "Key name", DefaultValueFactory = _ => DefaultKey };
        var passphraseEnv = PassphraseOption("Encrypt the private key with the passphrase in this environment variable");
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var generate = new Command("generate", "Generate a key pair.\nExit codes: 0 created, 1 a key of that name exists, 2 usage error.") { name, passphraseEnv, json };
        generate.SetAction(parse =>
        {
            var passphrase = Passphrase(context, parse.GetValue(passphraseEnv));
            var info = Store(context).Generate(parse.GetValue(name)!, passphrase);
            if (parse.GetValue(json)) CliJson.Write(context.Output, Json(info));
            else context.Console.MarkupLine($"[green]✓[/] key [bold]{Markup.Escape(info.Name)}[/] {Markup.Escape(info.Fingerprint)}{(info.Encrypted ? " (encrypted)" : "")}\n  {Markup.Escape(info.PrivateKeyPath)}");
            return ExitCodes.Ok;
        });
        var listJson = new Option<bool>("--json") { Description = "Print JSON" };
        var list = new Command("list", "List keys with their fingerprints (sha256 of the SubjectPublicKeyInfo).\nExit codes: 0 ok.") { listJson };
        list.SetAction(parse =>
        {
            var all = Store(context).List();
            if (parse.GetValue(listJson)) CliJson.Write(context.Output, all.Select(Json).ToArray());
            else if (all.Count == 0) context.Console.MarkupLine("no keys yet: `infra keys generate --name NAME`");
            else foreach (var k in all) context.Console.MarkupLine($"{Markup.Escape(k.Name),-20} {Markup.Escape(k.Fingerprint)}{(k.Encrypted ? "  (encrypted)" : "")}");
            return ExitCodes.Ok;
        });
        keys.Subcommands.Add(generate);
        keys.Subcommands.Add(list);
        return keys;
    }

    /// <summary>`--passphrase-from-env VARIABLE`: a passphrase never travels on the command line, only its variable's name.</summary>
    public static Option<string?> PassphraseOption(string description) => new("--passphrase-from-env") { Description = description, HelpName = "VARIABLE" };

    /// <summary>
    /// A deployer's signing key by name. A key that does not exist is never made here: the failure names it and the
    /// command that creates it (a publish must be signed by a key its owner chose, and encrypted if they wish).
    /// </summary>
    public static SigningKey Load(CliContext context, string name, string? passphraseVariable) =>
        Store(context).Load(name, Passphrase(context, passphraseVariable));

    private static KeyStore Store(CliContext context) => new(InfraHome.Ensure(context.Home.Keys));

    private static string? Passphrase(CliContext context, string? variable)
    {
        if (variable is null) return null;
        var value = context.Get(variable);
        return string.IsNullOrEmpty(value)
            ? throw new SigningException(SigningErrorCodes.PassphraseRequired, $"the environment variable {variable} is empty or not set",
                hint: $"export {variable}=… before running infra")
            : value;
    }

    private static object Json(KeyInfo k) => new { name = k.Name, fingerprint = k.Fingerprint, encrypted = k.Encrypted, privateKey = k.PrivateKeyPath, publicKey = k.PublicKeyPath };
}

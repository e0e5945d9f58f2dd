using System.CommandLine;
using System.Text.Json.Nodes;
using InfraMind.Signing;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra keys generate|import|list`: the deployer's keys under the InfraMind home, and the one place they are loaded.</summary>
internal static class KeysCommand
{
    public const string DefaultKey = "default";

    public static Command Create(CliContext context)
    {
        var keys = new Command("keys",
            "Manage signing keys (PKCS#8 PEM, mode 0600) in $INFRAMIND_HOME/keys: ECDSA P-256 (the default), or secp256k1 for an on-chain (eth://) registry, " +
            "where the key that signs the statement also signs the chain record and can pay gas.");
        keys.Subcommands.Add(Generate(context));
        keys.Subcommands.Add(Import(context));
        keys.Subcommands.Add(List(context));
        return keys;
    }

    private static Command Generate(CliContext context)
    {
        var name = NameOption();
        var type = new Option<string>("--type")
        {
            Description = $"Key type: {KeyTypes.P256Name} (the default; the embedded log registry) or {KeyTypes.Secp256k1Name} (needed to publish to an eth:// registry)",
            DefaultValueFactory = _ => KeyTypes.P256Name,
            HelpName = "p256|secp256k1",
        };
        var passphraseEnv = PassphraseOption("Encrypt the private key with the passphrase in this environment variable");
        var json = new Option<bool>("--json") { Description = "Print {name, type, fingerprint, address, encrypted, privateKey, publicKey} as JSON" };
        var generate = new Command("generate", "Generate a key pair.\nExit codes: 0 created, 1 a key of that name exists, 2 usage error (an unknown --type included).")
        {
            name, type, passphraseEnv, json,
        };
        generate.SetAction(parse =>
        {
            var keyType = KeyTypes.Parse(parse.GetValue(type)!);
            var passphrase = Passphrase(context, parse.GetValue(passphraseEnv));
            Report(context, Store(context).Generate(parse.GetValue(name)!, passphrase, keyType), parse.GetValue(json), "key");
            return ExitCodes.Ok;
        });
        return generate;
    }

    private static Command Import(CliContext context)
    {
        var name = NameOption();
        var type = new Option<string>("--type")
        {
            Description = $"Key type of the private key; only {KeyTypes.Secp256k1Name} keys are imported (as dev chains and wallets print them)",
            DefaultValueFactory = _ => KeyTypes.Secp256k1Name,
            HelpName = "secp256k1",
        };
        var file = new Option<string>("--private-key-file")
        {
            Description = "File holding the private key as 64 hex digits, with or without 0x (e.g. a dev chain's funded account)",
            Required = true,
            HelpName = "FILE",
        };
        var passphraseEnv = PassphraseOption("Encrypt the stored private key with the passphrase in this environment variable");
        var json = new Option<bool>("--json") { Description = "Print {name, type, fingerprint, address, encrypted, privateKey, publicKey} as JSON" };
        var import = new Command("import",
            "Import a secp256k1 private key (to sign eth:// registry records, or to pay their gas with a funded account). The key file is read, " +
            "never changed; the key is stored like a generated one.\nExit codes: 0 imported, 1 the file holds no valid key or a key of that name exists, 2 usage error.")
        {
            name, type, file, passphraseEnv, json,
        };
        import.SetAction(parse =>
        {
            var keyType = KeyTypes.Parse(parse.GetValue(type)!);
            if (keyType != KeyType.Secp256k1)
            {
                throw new SigningException(SigningErrorCodes.UnsupportedKeyType, $"infra keys import takes {KeyTypes.Secp256k1Name} keys only, not {keyType.ToName()}",
                    hint: $"make a P-256 key with `infra keys generate --name NAME`");
            }

            var path = parse.GetValue(file)!;
            CliErrorCodes.RequireFile(path, "private key file", "give the file that holds the hex private key with --private-key-file");
            var passphrase = Passphrase(context, parse.GetValue(passphraseEnv));
            Report(context, Store(context).ImportSecp256k1File(parse.GetValue(name)!, path, passphrase), parse.GetValue(json), "imported key");
            return ExitCodes.Ok;
        });
        return import;
    }

    private static Command List(CliContext context)
    {
        var json = new Option<bool>("--json")
        {
            Description = "Print [{name, type, fingerprint, address, encrypted, privateKey, publicKey, error}] as JSON (address: the Ethereum address of a secp256k1 key, else null; " +
                          "error: null, or {code, message, hint} for a key whose files cannot be used, its other fields then null but the paths of the files there are)",
        };
        var list = new Command("list",
            "List keys with their type, fingerprint (sha256 of the SubjectPublicKeyInfo) and, for secp256k1 keys, Ethereum address. A key whose files are damaged " +
            "is listed with what is wrong (IM5006), the others as always.\nExit codes: 0 ok (also when a key is listed as damaged), 2 usage error.") { json };
        list.SetAction(parse =>
        {
            var all = Store(context).Entries();
            if (parse.GetValue(json)) CliJson.Write(context.Output, all.Select(Json).ToArray());
            else if (all.Count == 0) context.Console.MarkupLine("no keys yet: `infra keys generate --name NAME`");
            else
            {
                foreach (var entry in all)
                {
                    if (entry.Key is { } k)
                        context.Console.MarkupLine($"{ConsoleText.Escape(k.Name),-20} {k.Type.ToName(),-9} {ConsoleText.Escape(k.Fingerprint)}{(k.Address is null ? "" : "  " + ConsoleText.Escape(k.Address))}{(k.Encrypted ? "  (encrypted)" : "")}");
                    else
                        context.Console.MarkupLine($"{ConsoleText.Escape(entry.Name),-20} [red]damaged[/]   {entry.Problem!.Code}: {ConsoleText.Escape(entry.Problem.Message)}");
                }

                foreach (var hint in all.Where(e => e.Problem is not null).Select(e => e.Problem!.Hint).OfType<string>().Distinct(StringComparer.Ordinal))
                    context.Console.MarkupLine($"  [dim]hint:[/] {ConsoleText.Escape(hint)}");
            }

            return ExitCodes.Ok;
        });
        return list;
    }

    /// <summary>`--passphrase-from-env VARIABLE`: a passphrase never travels on the command line, only its variable's name.</summary>
    public static Option<string?> PassphraseOption(string description, string name = "--passphrase-from-env") => new(name) { Description = description, HelpName = "VARIABLE" };

    /// <summary>
    /// A deployer's signing key by name. A key that does not exist is never made here: the failure names it and the
    /// command that creates it (a publish must be signed by a key its owner chose, and encrypted if they wish).
    /// </summary>
    public static SigningKey Load(CliContext context, string name, string? passphraseVariable) =>
        Store(context).Load(name, Passphrase(context, passphraseVariable));

    private static Option<string> NameOption() => new("--name") { Description = "Key name", DefaultValueFactory = _ => DefaultKey };

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

    private static void Report(CliContext context, KeyInfo info, bool asJson, string what)
    {
        if (asJson)
        {
            CliJson.Write(context.Output, Json(info));
            return;
        }

        context.Console.MarkupLine($"[green]✓[/] {what} [bold]{ConsoleText.Escape(info.Name)}[/] ({info.Type.ToName()}) {ConsoleText.Escape(info.Fingerprint)}{(info.Encrypted ? " (encrypted)" : "")}");
        if (info.Address is not null) context.Console.MarkupLine($"  address {ConsoleText.Escape(info.Address)}");
        context.Console.MarkupLine($"  {ConsoleText.Escape(info.PrivateKeyPath)}");
    }

    private static JsonObject Json(KeyInfo k) => new()
    {
        ["name"] = k.Name,
        ["type"] = k.Type.ToName(),
        ["fingerprint"] = k.Fingerprint,
        ["address"] = k.Address,
        ["encrypted"] = k.Encrypted,
        ["privateKey"] = k.PrivateKeyPath,
        ["publicKey"] = k.PublicKeyPath,
    };

    /// <summary>A listed key as <see cref="Json(KeyInfo)"/> with <c>error</c> null, or a damaged one: its name, the paths of its files there and its error.</summary>
    private static JsonObject Json(KeyEntry e)
    {
        if (e.Key is { } k)
        {
            var key = Json(k);
            key["error"] = null;
            return key;
        }

        return new()
        {
            ["name"] = e.Name,
            ["type"] = null,
            ["fingerprint"] = null,
            ["address"] = null,
            ["encrypted"] = null,
            ["privateKey"] = e.PrivateKeyPath,
            ["publicKey"] = e.PublicKeyPath,
            ["error"] = new JsonObject { ["code"] = e.Problem!.Code.Value, ["message"] = e.Problem.Message, ["hint"] = e.Problem.Hint },
        };
    }
}

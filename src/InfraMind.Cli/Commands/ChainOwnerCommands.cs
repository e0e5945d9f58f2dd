using System.CommandLine;
using InfraMind.Registry.Chain;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra chain yank|transfer`: what a name's owner does besides publishing. Each is signed by the owner's key (EIP-712)
/// and may be paid for by anyone (--payer).
/// </summary>
internal static class ChainOwnerCommands
{
    public static Command Yank(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "NAME@VERSION to yank" };
        var registry = ChainAccess.RequiredRegistryOption();
        var key = OwnerKeyOption();
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the key's passphrase");
        var payer = ChainAccess.PayerOption("Default: the owner key pays.");
        var payerPassphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the payer key's passphrase", "--payer-passphrase-from-env");
        var reason = new Option<string>("--reason") { Description = "Why (at most 256 bytes; recorded on chain)", DefaultValueFactory = _ => "" };
        var json = new Option<bool>("--json") { Description = "Print {name, version, registry, txHash, block, gasUsed} as JSON" };
        var yank = new Command("yank",
            "Yank a published version: the contract flags it and emits VersionYanked; the record stays (verifiers still see what was published), " +
            "`infra verify` fails its `yanked` check and the mesh stops serving it.\n" +
            "Exit codes: 0 yanked, 1 refused (not the owner's key, no such version, yanked already), 2 usage error, 4 the chain node does not answer.")
        {
            model, registry, key, passphraseEnv, payer, payerPassphraseEnv, reason, json,
        };
        yank.SetAction(async (parse, cancellationToken) =>
        {
            var (name, version) = VerifyCommand.Split(parse.GetValue(model)!);
            if (version is null) throw new InfraMindException(CliErrorCodes.UsageError, $"'{name}': name the version to yank", "write NAME@VERSION");
            using var owner = ChainAccess.RecordKey(context, parse.GetValue(key)!, parse.GetValue(passphraseEnv));
            using var paying = ChainAccess.Payer(context, parse.GetValue(payer), parse.GetValue(payerPassphraseEnv), owner);
            using var chain = await ChainModelRegistry.ConnectAsync(parse.GetValue(registry)!, null, cancellationToken);
            var tx = await chain.YankAsync(name, version, parse.GetValue(reason)!, owner, paying, cancellationToken);
            Report(context, parse.GetValue(json), tx, chain, $"yanked [bold]{ConsoleText.Escape(name)} {ConsoleText.Escape(version)}[/]", new { name, version });
            return ExitCodes.Ok;
        });
        return yank;
    }

    public static Command Transfer(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The model name to hand over" };
        var to = new Option<string>("--to") { Description = "The new owner: the Ethereum address of their secp256k1 key (`infra keys list` shows it)", Required = true, HelpName = "0xADDRESS" };
        to.Validators.Add(r =>
        {
            if (!ChainRegistryAddress.IsAddress(r.GetValueOrDefault<string>() ?? ""))
                r.AddError($"--to '{r.GetValueOrDefault<string>()}' is not an address: 0x followed by 40 hex digits");
        });
        var registry = ChainAccess.RequiredRegistryOption();
        var key = OwnerKeyOption();
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the key's passphrase");
        var payer = ChainAccess.PayerOption("Default: the owner key pays.");
        var payerPassphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the payer key's passphrase", "--payer-passphrase-from-env");
        var json = new Option<bool>("--json") { Description = "Print {name, newOwner, registry, txHash, block, gasUsed} as JSON" };
        var transfer = new Command("transfer",
            "Hand a name to another key: from then on only that key publishes, yanks or transfers it. Signed by the current owner's key, with the name's nonce " +
            "(a replayed transfer is refused).\nExit codes: 0 transferred, 1 refused (not the owner's key), 2 usage error, 4 the chain node does not answer.")
        {
            name, to, registry, key, passphraseEnv, payer, payerPassphraseEnv, json,
        };
        transfer.SetAction(async (parse, cancellationToken) =>
        {
            var model = parse.GetValue(name)!;
            var newOwner = parse.GetValue(to)!;
            using var owner = ChainAccess.RecordKey(context, parse.GetValue(key)!, parse.GetValue(passphraseEnv));
            using var paying = ChainAccess.Payer(context, parse.GetValue(payer), parse.GetValue(payerPassphraseEnv), owner);
            using var chain = await ChainModelRegistry.ConnectAsync(parse.GetValue(registry)!, null, cancellationToken);
            var tx = await chain.TransferAsync(model, newOwner, owner, paying, cancellationToken);
            Report(context, parse.GetValue(json), tx, chain, $"transferred [bold]{ConsoleText.Escape(model)}[/] to {ConsoleText.Escape(newOwner)}", new { name = model, newOwner });
            return ExitCodes.Ok;
        });
        return transfer;
    }

    private static Option<string> OwnerKeyOption() => new("--key")
    {
        Description = $"The owner's secp256k1 key: the key that published the name",
        DefaultValueFactory = _ => KeysCommand.DefaultKey,
    };

    private static void Report(CliContext context, bool asJson, ChainTransaction tx, ChainModelRegistry chain, string done, object subject)
    {
        if (asJson)
        {
            var fields = System.Text.Json.JsonSerializer.SerializeToNode(subject, CliJson.Options)!.AsObject();
            fields["registry"] = chain.Address.ToString();
            fields["txHash"] = tx.Hash;
            fields["block"] = tx.BlockNumber;
            fields["gasUsed"] = tx.GasUsed;
            CliJson.Write(context.Output, fields);
            return;
        }

        context.Console.MarkupLine($"[green]✓[/] {done} in {ConsoleText.Escape(chain.Address.ToString())}");
        context.Console.MarkupLine($"  transaction {ConsoleText.Escape(tx.Hash)} in block {tx.BlockNumber}, {tx.GasUsed:N0} gas");
    }
}

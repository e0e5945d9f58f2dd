using System.CommandLine;
using InfraMind.Registry.Chain;
using InfraMind.Registry.Checkpoints;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra chain deploy|anchor|yank|transfer`: what only an on-chain registry does. Publishing, verifying, the log and
/// serving take `--registry eth://…` on their usual verbs.
/// </summary>
internal static class ChainCommand
{
    public static Command Create(CliContext context)
    {
        var chain = new Command("chain",
            "The on-chain model registry (contracts/ModelRegistry.sol on an EVM chain): deploy it, anchor the log's checkpoints on it, yank versions and transfer names. " +
            "Publish, verify, log and serve with --registry eth://HOST:PORT/0xCONTRACT on their usual commands.");
        chain.Subcommands.Add(Deploy(context));
        chain.Subcommands.Add(Anchor(context));
        chain.Subcommands.Add(ChainOwnerCommands.Yank(context));
        chain.Subcommands.Add(ChainOwnerCommands.Transfer(context));
        return chain;
    }

    private static Command Deploy(CliContext context)
    {
        var rpc = new Option<string>("--rpc") { Description = "The chain node's JSON-RPC endpoint, e.g. http://127.0.0.1:8545", Required = true, HelpName = "URL" };
        rpc.Validators.Add(r =>
        {
            if (!Uri.TryCreate(r.GetValueOrDefault<string>(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                r.AddError($"--rpc '{r.GetValueOrDefault<string>()}' is not an http(s) URL: write e.g. --rpc http://127.0.0.1:8545");
        });
        var payer = ChainAccess.PayerOption("Required: deploying costs about 1.2M gas.", required: true);
        var chainId = new Option<long?>("--chain-id") { Description = "Refuse to deploy unless the node serves this chain id", HelpName = "N" };
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the payer key's passphrase");
        var json = new Option<bool>("--json") { Description = "Print {registry, chainId, contract, txHash, block, gasUsed, payer} as JSON" };
        var deploy = new Command("deploy",
            "Deploy a new model registry contract and print its URL, the value of --registry for every other command. " +
            "The payer pays the gas; it owns nothing in the registry (names belong to the keys that publish them).\n" +
            "Exit codes: 0 deployed, 1 refused by the chain (wrong chain id, the payer cannot pay), 2 usage error (a missing key included), 4 the node does not answer (IM5701).")
        {
            rpc, payer, chainId, passphraseEnv, json,
        };
        deploy.SetAction(async (parse, cancellationToken) =>
        {
            using var paying = ChainAccess.Payer(context, parse.GetValue(payer), parse.GetValue(passphraseEnv), null);
            var deployment = await ChainModelRegistry.DeployAsync(new Uri(parse.GetValue(rpc)!), paying, parse.GetValue(chainId), null, cancellationToken);
            var url = deployment.Registry.ToString();
            var tx = deployment.Transaction;
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    registry = url, chainId = deployment.Registry.ChainId, contract = deployment.Registry.Contract,
                    txHash = tx.Hash, block = tx.BlockNumber, gasUsed = tx.GasUsed, payer = paying.Address,
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] registry deployed: [bold]{ConsoleText.Escape(url)}[/]");
                context.Console.MarkupLine($"  transaction {ConsoleText.Escape(tx.Hash)} in block {tx.BlockNumber}, {tx.GasUsed:N0} gas paid by {ConsoleText.Escape(paying.Address)}");
                context.Console.MarkupLine($"  publish: infra publish --model model.yaml --image REF --registry {ConsoleText.Escape(url)} --key NAME   (a secp256k1 key)");
            }

            return ExitCodes.Ok;
        });
        return deploy;
    }

    private static Command Anchor(CliContext context)
    {
        var chainUrl = ChainAccess.RequiredRegistryOption("--chain");
        var registry = RegistryAccess.UrlOption();
        var registryKey = RegistryAccess.KeyOption();
        var payer = ChainAccess.PayerOption("Required: it is the anchorer that verifiers name with `infra verify --anchorer`.", required: true);
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the payer key's passphrase");
        var json = new Option<bool>("--json") { Description = "Print {chain, origin, size, root, anchorer, txHash, block, gasUsed, alreadyAnchored} as JSON" };
        var anchor = new Command("anchor",
            "Anchor the transparency log's current signed checkpoint on a chain: the contract records its size and root under the payer's address " +
            "(the anchorer), with the signed note. `infra verify NAME@VERSION --anchor eth://… --anchorer 0x…` then proves an entry against a root " +
            "the log cannot take back or fork without it showing on chain.\n" +
            "Exit codes: 0 anchored (or anchored before, identically), 1 the checkpoint does not verify or another root is anchored at that size by this anchorer, " +
            "2 usage error, 4 the log registry or the chain node does not answer.")
        {
            chainUrl, registry, registryKey, payer, passphraseEnv, json,
        };
        anchor.SetAction(async (parse, cancellationToken) =>
        {
            using var paying = ChainAccess.Payer(context, parse.GetValue(payer), parse.GetValue(passphraseEnv), null);
            SignedCheckpoint checkpoint;
            string location;
            await using (var log = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken))
            {
                var (key, trusted) = await RegistryAccess.TrustAsync(context, log, parse.GetValue(registryKey), cancellationToken);
                checkpoint = await LogAnchors.CheckpointAsync(trusted, key, cancellationToken);
                location = log.Location;
            }

            using var chain = await ChainModelRegistry.ConnectAsync(parse.GetValue(chainUrl)!, null, cancellationToken);
            var cp = checkpoint.Checkpoint;
            var existing = await chain.GetAnchorAsync(paying.Address, cp.Origin, cp.Size, cancellationToken);
            var anchored = existing is not null && existing.Root.Span.SequenceEqual(cp.RootHash.Span)
                ? existing
                : await chain.AnchorCheckpointAsync(checkpoint, paying, cancellationToken);
            var already = ReferenceEquals(anchored, existing);
            var tx = anchored.Transaction;
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    chain = chain.Address.ToString(), log = location, origin = cp.Origin, size = cp.Size, root = Convert.ToBase64String(cp.RootHash.Span),
                    anchorer = paying.Address, txHash = tx?.Hash, block = tx?.BlockNumber, gasUsed = already ? (long?)null : tx?.GasUsed, alreadyAnchored = already,
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] {(already ? "already anchored" : "anchored")} [bold]{ConsoleText.Escape(cp.Origin)}[/] at size {cp.Size} in {ConsoleText.Escape(chain.Address.ToString())}");
                context.Console.MarkupLine($"  root {ConsoleText.Escape(Convert.ToBase64String(cp.RootHash.Span))}, anchorer {ConsoleText.Escape(paying.Address)}");
                if (tx is not null) context.Console.MarkupLine($"  transaction {ConsoleText.Escape(tx.Hash)} in block {tx.BlockNumber}{(already ? "" : $", {tx.GasUsed:N0} gas")}");
                context.Console.MarkupLine($"  verify: infra verify NAME@VERSION --anchor {ConsoleText.Escape(chain.Address.ToString())} --anchorer {ConsoleText.Escape(paying.Address)}");
            }

            return ExitCodes.Ok;
        });
        return anchor;
    }
}

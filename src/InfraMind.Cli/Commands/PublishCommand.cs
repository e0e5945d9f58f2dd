using System.CommandLine;
using InfraMind.Manifest;
using InfraMind.Oci;
using InfraMind.Registry;
using InfraMind.Registry.Chain;
using InfraMind.Signing;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra publish --model model.yaml --image REF`: validate, fetch and verify the image behind every reference, sign a
/// publish statement with the deployer's key, append it to the registry's log (or record it on an eth:// registry),
/// print the endpoint.
/// </summary>
internal static class PublishCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Option<string>("--model", "-m") { Description = "model.yaml (or its package directory)", Required = true };
        var image = new Option<string[]>("--image", "-i")
        {
            Description = "Content reference of the image (repeat for several copies): ipfs://CID, oci://HOST/REPO@sha256:…, https://…#sha256=…, local://sha256:…",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var key = new Option<string>("--key")
        {
            Description = $"Signing key name; make one with `infra keys generate --name NAME`",
            DefaultValueFactory = _ => KeysCommand.DefaultKey,
        };
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the key's passphrase");
        var registry = RegistryAccess.UrlOption();
        var payer = ChainAccess.PayerOption("Default: the signing key (--key) pays.");
        var payerPassphraseEnv = KeysCommand.PassphraseOption("eth:// registries: environment variable holding the payer key's passphrase", "--payer-passphrase-from-env");
        var statementStore = ChainAccess.StatementStoreOption();
        var noAttach = new Option<bool>("--no-attach")
        {
            Description = "Do not attach the signature to the oci:// images (by default it is stored next to each as a Sigstore bundle, an OCI 1.1 referrer)",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print {index, name, version, imageDigest, manifestDigest, endpointId, endpoint, alreadyPublished, registry, attached} as JSON; " +
                          "on an eth:// registry also {txHash, block, gasUsed, statementUri} (index is null there)",
        };
        var command = new Command("publish",
            "Publish a model: validate model.yaml, fetch and verify the image behind every --image reference, sign an in-toto statement " +
            "(DSSE, P-256) binding name, version, manifest digest, image digest, references and endpoint id, and append it to the registry's " +
            "transparency log. The endpoint /inference/v1/NAME then serves it on the mesh. The signing key must exist: " +
            "`infra keys generate --name NAME` makes one.\n" +
            "With --registry eth://HOST:PORT/0xCONTRACT the statement goes to the statement store and its sha256 and URI, with name, version and digests, " +
            "on chain in a record the same key signs (EIP-712, so it must be a secp256k1 key); --payer pays the gas.\n" +
            "An image built by `infra build` records the manifest it was built from; publishing it under another model.yaml is refused (IM5147).\n" +
            "Every oci:// image also gets the signature next to it, where OCI tools look: the DSSE envelope as a Sigstore bundle v0.3 " +
            "(keyed, publicKey.hint) in an OCI 1.1 referrer of the image manifest (the sha256-<digest> tag index where the registry has no referrers API); " +
            "`infra verify NAME --image oci://…@sha256:… --publisher-key FILE`, cosign or @sigstore/verify check it with the publisher's public key. " +
            "Publishing again (idempotent) attaches it again; --no-attach leaves the images alone.\n" +
            "Exit codes: 0 published (or already published identically), 1 invalid model, unverifiable content or refused by the registry " +
            "(name owned by another key, version already published with other content, a reference it does not take), 2 usage error (a missing key, or a P-256 key for a chain, included), " +
            "4 registry, chain node or storage unavailable, 130 interrupted.")
        {
            model, image, key, passphraseEnv, registry, payer, payerPassphraseEnv, statementStore, noAttach, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var validation = ManifestReader.Validate(parse.GetValue(model)!);
            var manifest = validation.EnsureValid();
            var asJson = parse.GetValue(json);
            var references = parse.GetValue(image)!.Select(ContentReference.Parse).ToList();
            var keyName = parse.GetValue(key)!;
            var registryUrl = parse.GetValue(registry);
            var onChain = ChainAccess.IsChain(registryUrl);
            if (!onChain && (parse.GetValue(payer) ?? parse.GetValue(statementStore)) is not null)
                throw new InfraMindException(CliErrorCodes.UsageError, "--payer and --statement-store apply to eth:// registries only", "pass --registry eth://HOST:PORT/0xCONTRACT, or leave them out");
            // The keys first: a missing key, passphrase or a key of the wrong type is reported before anything is fetched.
            using var signingKey = onChain ? ChainAccess.RecordKey(context, keyName, parse.GetValue(passphraseEnv)) : KeysCommand.Load(context, keyName, parse.GetValue(passphraseEnv));
            using var paying = onChain ? ChainAccess.Payer(context, parse.GetValue(payer), parse.GetValue(payerPassphraseEnv), signingKey) : null;
            var resolver = ContentAccess.CreateResolver(context, references);
            string? imageDigest = null;
            var published = new List<PublishedReference>();
            var ociImages = new List<(OciReference, Descriptor)>();
            foreach (var reference in references)
            {
                var archive = await ContentAccess.WithProgressAsync(context, asJson, progress => resolver.ResolveAsync(reference, progress, cancellationToken));
                var digest = archive.ManifestDigest.Value;
                if (imageDigest is not null && digest != imageDigest)
                    throw new InfraMindException(RegistryErrorCodes.ContentMismatch, $"{reference} holds image {digest}, but the first reference holds {imageDigest}");
                Admission.CheckBinding(archive.ManifestDigest.ToString(), await Admission.LabelsAsync(archive, cancellationToken), manifest.ManifestDigest);
                imageDigest = digest;
                published.Add(Record(reference));
                if (reference is OciReference oci) ociImages.Add((oci, archive.Image.Manifest));
                if (!asJson) context.Console.MarkupLine($"[green]✓[/] {ConsoleText.Escape(reference.ToString())} verified: image {ConsoleText.Escape(digest)}");
            }

            var manifestBytes = await File.ReadAllBytesAsync(validation.ManifestPath, cancellationToken);
            var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), imageDigest!, manifestBytes, published,
                signingKey.PublicKey, TimeProvider.System, manifest.ToJson());
            var envelope = Dsse.SignPublish(statement, signingKey);

            var outcome = paying is null
                ? await AppendToLogAsync(context, registryUrl, envelope, cancellationToken)
                : await RecordOnChainAsync(context, registryUrl!, parse.GetValue(statementStore), envelope, signingKey, paying, cancellationToken);
            // The signature of record: the logged envelope when the version was published before (its time, not this run's).
            var attached = parse.GetValue(noAttach) || ociImages.Count == 0
                ? []
                : await ImageSignatures.AttachAsync(resolver, ociImages, outcome.Envelope ?? envelope, signingKey.PublicKey, cancellationToken);
            var endpointPath = $"/inference/v1/{manifest.Name}";
            var gateway = GatewayAnnouncement.Read(context.Home);
            var endpoint = gateway is null ? endpointPath : new Uri(gateway, endpointPath.TrimStart('/')).ToString();
            if (asJson)
            {
                var fields = System.Text.Json.JsonSerializer.SerializeToNode(new
                {
                    index = outcome.Index,
                    name = manifest.Name,
                    version = manifest.Version.ToString(),
                    imageDigest,
                    manifestDigest = manifest.ManifestDigest,
                    endpointId = statement.EndpointId,
                    endpoint,
                    references = published.Select(p => p.Uri),
                    publisher = signingKey.PublicKey.Fingerprint,
                    alreadyPublished = outcome.AlreadyPublished,
                    registry = outcome.Location,
                    attached = attached.Select(a => new
                    {
                        image = a.Image.ToString(),
                        referrer = a.Result.Referrer.Value,
                        tag = a.Result.FallbackTag,
                    }),
                }, CliJson.Options)!.AsObject();
                if (outcome.Chain is { } chain)
                {
                    fields["txHash"] = chain.Transaction?.Hash ?? chain.Record.TransactionHash;
                    fields["block"] = chain.Transaction?.BlockNumber ?? chain.Record.BlockNumber;
                    fields["gasUsed"] = chain.Transaction?.GasUsed;
                    fields["statementUri"] = chain.Record.Record.StatementUri;
                    fields["publisherAddress"] = chain.Record.Publisher;
                }

                CliJson.Write(context.Output, fields);
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] {(outcome.AlreadyPublished ? "already published" : "published")} [bold]{ConsoleText.Escape(manifest.Name)} {ConsoleText.Escape(manifest.Version.ToString())}[/] as {ConsoleText.Escape(outcome.Where)} in {ConsoleText.Escape(outcome.Location)}");
                context.Console.MarkupLine($"  signed by {ConsoleText.Escape(signingKey.PublicKey.Fingerprint)} ({ConsoleText.Escape(keyName)})");
                context.Console.MarkupLine($"  endpoint id {ConsoleText.Escape(statement.EndpointId)}");
                context.Console.MarkupLine($"  endpoint    POST {ConsoleText.Escape(endpoint)}");
                foreach (var (attachedTo, result) in attached)
                    context.Console.MarkupLine($"  signature   attached to {ConsoleText.Escape(attachedTo.Registry)}/{ConsoleText.Escape(attachedTo.Repository)} as referrer {ConsoleText.Escape(result.Referrer.Value)}" +
                                               (result.FallbackTag is { } tag ? $" (tag {ConsoleText.Escape(tag)})" : ""));
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Where a publish went: a log entry, or a chain record (with its transaction, none when it was recorded before).</summary>
    private sealed record PublishOutcome(bool AlreadyPublished, long? Index, string Location, string Where, ChainPublishReceipt? Chain, DsseEnvelope? Envelope = null);

    private static async Task<PublishOutcome> AppendToLogAsync(CliContext context, string? registryUrl, DsseEnvelope envelope, CancellationToken cancellationToken)
    {
        // The embedded registry (no --registry, none running) is this machine's own: local references and loopback sources are fine.
        await using var handle = await RegistryAccess.OpenAsync(context, registryUrl, Admission.ForRegistry(context, ContentAccess.EmbeddedPolicy(context)), cancellationToken);
        var response = await handle.Service.PublishAsync(envelope, cancellationToken);
        return new PublishOutcome(response.AlreadyPublished, response.Bundle.Index, handle.Location, $"log entry {response.Bundle.Index}", null, response.Bundle.Envelope);
    }

    /// <summary>
    /// The chain has no admission step: what a log registry admits (a valid manifest in the statement, content that
    /// resolves to the image) was checked above before signing, and every verifier checks it again.
    /// </summary>
    private static async Task<PublishOutcome> RecordOnChainAsync(
        CliContext context, string registryUrl, string? statementStore, DsseEnvelope envelope, SigningKey key, ChainPayer payer, CancellationToken cancellationToken)
    {
        using var chain = await ChainAccess.ConnectAsync(context, registryUrl, statementStore, cancellationToken);
        var receipt = await chain.PublishAsync(envelope, key, payer, cancellationToken);
        var record = receipt.Record;
        var tx = receipt.Transaction is { } t ? $", {t.GasUsed:N0} gas" : "";
        return new PublishOutcome(receipt.AlreadyPublished, null, chain.Address.ToString(), $"block {record.BlockNumber} (transaction {record.TransactionHash}{tx})", receipt);
    }

    /// <summary>How a reference is recorded in the statement; IPFS references carry the import settings that give their CID.</summary>
    private static PublishedReference Record(ContentReference reference) => reference switch
    {
        IpfsReference { ImportSettings: { } s } ipfs =>
            new PublishedReference(ipfs.ToString(), PublishedReference.IpfsKind, s.CidVersion, s.EffectiveRawLeaves, s.Chunker, s.WrapName is not null),
        OciReference => new PublishedReference(reference.ToString(), "oci"),
        HttpReference => new PublishedReference(reference.ToString(), "https"),
        LocalReference => new PublishedReference(reference.ToString(), "local"),
        _ => new PublishedReference(reference.ToString(), "file"),
    };
}

using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Registry;
using InfraMind.Registry.Chain;
using InfraMind.Registry.Http;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra verify NAME[@VERSION]`: signature, statement digests, checkpoint signature and inclusion, each named; on an
/// eth:// registry the chain record, the fetched statement and its signer; with --anchor, the entry against a log root
/// anchored on chain.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "NAME or NAME@VERSION (default: the latest release)" };
        var registry = RegistryAccess.UrlOption();
        var offline = new Option<string?>("--offline") { Description = "Verify an entry bundle file (from --save) with no registry at all", HelpName = "FILE" };
        var registryKey = RegistryAccess.KeyOption();
        var save = new Option<string?>("--save") { Description = "Also write the entry bundle to this file, for `--offline` later" };
        var statementStore = ChainAccess.StatementStoreOption();
        var anchor = new Option<string?>("--anchor")
        {
            Description = "Also prove the log entry against a checkpoint root anchored on this chain registry (eth://…) by --anchorer (`infra chain anchor` records one)",
            HelpName = "URL",
        };
        var anchorer = new Option<string?>("--anchorer") { Description = "With --anchor: the address that anchored the log's checkpoints (the payer of `infra chain anchor`)", HelpName = "0xADDRESS" };
        var image = new Option<string?>("--image")
        {
            Description = "Verify the signature attached to this image instead of the log entry: the Sigstore bundle `infra publish` stored as an OCI 1.1 referrer, checked with --publisher-key",
            HelpName = "oci://HOST/REPO@sha256:…",
        };
        var publisherKey = new Option<string?>("--publisher-key")
        {
            Description = "With --image: the publisher's public key PEM (the file `infra keys list --json` names as publicKey)",
            HelpName = "FILE",
        };
        var json = new Option<bool>("--json") { Description = "Print {model, version, index, passed, checks[]} as JSON (each check: name, passed, code, reason, and the hint of a failed one) (on an eth:// registry: block and txHash instead of index; with --image: image, referrer)" };
        var command = new Command("verify",
            "Verify a published model: the publisher's DSSE signature, the statement's digests, the registry's signed checkpoint and the " +
            "Merkle inclusion proof of the entry — online or offline. With --anchor eth://… --anchorer 0x…, also that the entry is in the log " +
            "as anchored on chain (the anchored root, and a consistency proof from it to the entry's checkpoint). On an eth:// registry " +
            "(--registry eth://HOST:PORT/0xCONTRACT): the chain record, the statement fetched from its store by digest, its signature, that the " +
            "same key signed the chain record, every recorded field, and that the version is not yanked.\n" +
            "With --image oci://HOST/REPO@sha256:… --publisher-key FILE: no registry at all; the Sigstore bundle attached to that image (OCI 1.1 " +
            "referrers API, else the sha256-<digest> tag index), its DSSE signature with the publisher's key, and that its statement names this " +
            "model (and version) and this image's manifest digest.\n" +
            "Exit codes: 0 every check passed, 1 a check failed (a yanked version included), the model is not published or the log is damaged, 2 usage error, " +
            "4 registry or chain node unavailable.")
        {
            model, registry, offline, registryKey, save, statementStore, anchor, anchorer, image, publisherKey, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (name, version) = Split(parse.GetValue(model)!);
            var asJson = parse.GetValue(json);
            // Said before the registry is asked: found when the bundle is written, it lost the verification's result.
            if (parse.GetValue(save) is { } saveFile && Directory.Exists(saveFile))
                throw new InfraMindException(CliErrorCodes.FileAccess, $"--save {saveFile} is a directory", "name the bundle's file: --save DIR/bundle.json");
            if ((parse.GetValue(image) is null) != (parse.GetValue(publisherKey) is null))
                throw new InfraMindException(CliErrorCodes.UsageError, "--image and --publisher-key go together", "write --image oci://HOST/REPO@sha256:… --publisher-key FILE (the publisher's public key PEM)");
            if (parse.GetValue(image) is { } imageText)
            {
                if ((parse.GetValue(offline) ?? parse.GetValue(save) ?? parse.GetValue(registryKey) ?? parse.GetValue(anchor) ?? parse.GetValue(registry)) is not null)
                    throw new InfraMindException(CliErrorCodes.UsageError, "--image verifies what is attached to the image, with no registry: --registry, --offline, --save, --registry-key and --anchor do not apply", "leave them out");
                var reference = ContentReference.Parse(imageText) as OciReference
                    ?? throw new InfraMindException(StorageErrorCodes.UnsupportedReference, $"--image {imageText} is not an oci:// reference; signatures are attached to images in OCI registries", "write --image oci://HOST/REPO@sha256:…");
                return await VerifyImageAsync(context, reference, RegistryAccess.PublisherKeyFile(parse.GetValue(publisherKey)!), name, version, asJson, cancellationToken);
            }

            if (ChainAccess.IsChain(parse.GetValue(registry)))
            {
                if ((parse.GetValue(offline) ?? parse.GetValue(save) ?? parse.GetValue(registryKey) ?? parse.GetValue(anchor)) is not null)
                    throw new InfraMindException(CliErrorCodes.UsageError, "--offline, --save, --registry-key and --anchor are for log registries, not eth:// ones", "leave them out, or verify against the log registry");
                return await VerifyOnChainAsync(context, parse.GetValue(registry)!, name, version, parse.GetValue(statementStore), asJson, cancellationToken);
            }

            if (parse.GetValue(offline) is not null && parse.GetValue(registry) is not null)
                throw new InfraMindException(CliErrorCodes.UsageError, "--offline verifies a saved entry bundle with no registry: --registry does not apply",
                    "leave --registry out (name the key of the registry that wrote the bundle with --registry-key), or leave --offline out to ask the registry");
            var anchorUrl = parse.GetValue(anchor);
            var anchoredBy = parse.GetValue(anchorer);
            if (parse.GetValue(statementStore) is not null)
                throw new InfraMindException(CliErrorCodes.UsageError, "--statement-store applies to eth:// registries only", "pass --registry eth://HOST:PORT/0xCONTRACT, or leave it out");
            if ((anchorUrl is null) != (anchoredBy is null) || (anchorUrl is not null && !ChainAccess.IsChain(anchorUrl)))
                throw new InfraMindException(CliErrorCodes.UsageError, "--anchor eth://… and --anchorer 0x… go together", "write --anchor eth://HOST:PORT/0xCONTRACT --anchorer 0xADDRESS (the payer of `infra chain anchor`)");
            if (anchoredBy is not null && !ChainRegistryAddress.IsAddress(anchoredBy))
                throw new InfraMindException(CliErrorCodes.UsageError, $"--anchorer '{anchoredBy}' is not an address: 0x followed by 40 hex digits", "give the address `infra chain anchor` printed as the anchorer");
            VerificationCheck? anchored = null;
            EntryBundle bundle;
            PublicKey key;
            string source;
            var keyFile = parse.GetValue(registryKey);
            if (parse.GetValue(offline) is { } file)
            {
                CliErrorCodes.RequireFile(file, "entry bundle", "write one with `infra verify NAME --save FILE` where a registry answers");
                key = keyFile is not null ? RegistryAccess.KeyFile(keyFile) : RegistryAccess.LocalKey(context);
                bundle = ReadBundle(file, await ReadBoundedAsync(file, cancellationToken));
                source = file;
                if (anchorUrl is not null) anchored = await AnchorCheckAsync(bundle, key, anchorUrl, anchoredBy!, null, cancellationToken);
            }
            else
            {
                await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken);
                (key, var trusted) = await RegistryAccess.TrustAsync(context, handle, keyFile, cancellationToken);
                bundle = await trusted.GetModelVersionAsync(name, version ?? "latest", cancellationToken);
                source = handle.Location;
                if (anchorUrl is not null) anchored = await AnchorCheckAsync(bundle, key, anchorUrl, anchoredBy!, handle.Service, cancellationToken);
            }

            if (parse.GetValue(save) is { } saveTo) await File.WriteAllTextAsync(saveTo, bundle.ToJson(), CancellationToken.None);
            var report = EntryVerifier.Verify(bundle, key, new ExpectedPublish(ModelName: name, Version: version));
            var checks = report.Checks.ToList();
            if (report.Statement is { } st) checks.Add(ManifestCheck(st));
            if (anchored is not null) checks.Add(anchored);
            var fields = new JsonObject
            {
                ["model"] = report.Statement?.ModelName ?? name,
                ["version"] = report.Statement?.Version ?? version,
                ["index"] = bundle.Index,
                ["imageDigest"] = report.Statement?.ImageDigest,
                ["manifestDigest"] = report.Statement?.ManifestDigest,
                ["publisher"] = report.Statement?.Publisher.Fingerprint,
                ["registryKey"] = key.Fingerprint,
            };
            return Report(context, asJson, fields, checks, report.Statement,
                $"{report.Statement?.ModelName ?? name} {report.Statement?.Version ?? version ?? ""} — entry {bundle.Index} from {source}, registry key {key.Fingerprint}");
        });
        return command;
    }

    /// <summary>
    /// An --offline file's text, at most <see cref="RegistryAccess.MaxAnswerBytes"/> (what a registry's answer may hold,
    /// so a bundle saved from one fits): a larger file, or one without end (/dev/zero), is refused, not read whole.
    /// </summary>
    private static async Task<string> ReadBoundedAsync(string file, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(file);
        var bytes = await BoundedBody.ReadAsync(stream, null, RegistryAccess.MaxAnswerBytes, cancellationToken)
            ?? throw new RegistryException(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest,
                $"{file} holds more than {RegistryAccess.MaxAnswerBytes} bytes; an entry bundle is at most that (a registry's answer)",
                null, "--offline reads an entry bundle as `infra verify NAME --save FILE` writes it: give that file unchanged");
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    /// <summary>The bundle in an --offline file; one that is not a bundle is named, with what the file should be.</summary>
    private static EntryBundle ReadBundle(string file, string text)
    {
        try
        {
            return EntryBundle.Parse(text);
        }
        catch (RegistryException e)
        {
            throw new RegistryException(e.Code, e.Category, $"{file}: {e.Message}", e,
                "--offline reads an entry bundle as `infra verify NAME --save FILE` writes it where a registry answers: give that file unchanged");
        }
    }

    /// <summary>--image: the bundle attached to the image, with the same checks printed the same way.</summary>
    private static async Task<int> VerifyImageAsync(CliContext context, OciReference image, PublicKey publisher, string name, string? version, bool asJson, CancellationToken cancellationToken)
    {
        var (fields, checks, statement, header) = await ImageSignatures.VerifyAsync(ContentAccess.CreateResolver(context, [image]), image, publisher, name, version, cancellationToken);
        if (statement is { } st) checks.Add(ManifestCheck(st));
        return Report(context, asJson, fields, checks, statement, header);
    }

    /// <summary>name@version against an eth:// registry: the chain record and the statement it names, with the same checks printed the same way.</summary>
    private static async Task<int> VerifyOnChainAsync(CliContext context, string url, string name, string? version, string? statementStore, bool asJson, CancellationToken cancellationToken)
    {
        using var chain = await ChainAccess.ConnectAsync(context, url, statementStore, cancellationToken);
        version ??= await ChainAccess.LatestVersionAsync(context, chain, name, cancellationToken);
        var result = await chain.VerifyAsync(name, version, new ExpectedPublish(ModelName: name, Version: version), cancellationToken);
        if (result.Record is not { } record)
            throw new ChainException(ChainErrorCodes.UnknownVersion, $"{name}@{version} is not published in registry {chain.Address}", "`infra log --registry eth://…` lists what the registry holds");
        var checks = result.Checks.ToList();
        if (result.Statement is { } st) checks.Add(ManifestCheck(st));
        var fields = new JsonObject
        {
            ["model"] = name,
            ["version"] = version,
            ["registry"] = chain.Address.ToString(),
            ["index"] = null,
            ["block"] = record.BlockNumber,
            ["txHash"] = record.TransactionHash,
            ["imageDigest"] = record.Record.ImageDigest,
            ["manifestDigest"] = record.Record.ManifestDigest,
            ["publisher"] = result.Statement?.Publisher.Fingerprint,
            ["publisherAddress"] = record.Publisher,
            ["statementUri"] = record.Record.StatementUri,
            ["yanked"] = record.Yanked,
        };
        return Report(context, asJson, fields, checks, result.Statement,
            $"{name} {version} — block {record.BlockNumber} (transaction {record.TransactionHash}) in {chain.Address}, publisher {record.Publisher}");
    }

    private static async Task<VerificationCheck> AnchorCheckAsync(EntryBundle bundle, PublicKey key, string anchorUrl, string anchorer, IRegistryService? log, CancellationToken cancellationToken)
    {
        using var chain = await ChainModelRegistry.ConnectAsync(anchorUrl, null, cancellationToken);
        return await LogAnchors.VerifyAsync(bundle, key, chain, anchorer, log, cancellationToken);
    }

    private static VerificationCheck ManifestCheck(PublishStatement statement)
    {
        var ok = statement.Manifest is not null && statement.ManifestSource is not null;
        return new VerificationCheck("manifest", ok, ok ? null : RegistryErrorCodes.ManifestMissing, ok ? $"model.yaml bytes hash to {statement.ManifestDigest}" : "the statement carries no manifest");
    }

    /// <summary>The one printer of a verification, whatever the backend: each check named, then the verdict; with --json the fields, passed and checks[].</summary>
    private static int Report(CliContext context, bool asJson, JsonObject fields, List<VerificationCheck> checks, PublishStatement? statement, string header)
    {
        var passed = checks.All(c => c.Passed);
        if (asJson)
        {
            fields["passed"] = passed;
            fields["checks"] = JsonSerializer.SerializeToNode(checks.Select(c => new { name = c.Name, passed = c.Passed, code = c.Code, reason = c.Reason, hint = c.Passed ? null : c.Code?.DefaultHint }), CliJson.Options);
            CliJson.Write(context.Output, fields);
        }
        else
        {
            context.Console.MarkupLine(ConsoleText.Escape(header));
            var width = checks.Max(c => c.Name.Length);
            foreach (var c in checks)
            {
                context.Console.MarkupLine($"  {(c.Passed ? "[green]✓[/]" : "[red]✗[/]")} {ConsoleText.Escape(c.Name.PadRight(width))} {(c.Code is null ? "" : ConsoleText.Escape(c.Code) + " ")}{ConsoleText.Escape(c.Reason)}");
                if (!c.Passed && c.Code?.DefaultHint is { } hint)
                    context.Console.MarkupLine($"    {new string(' ', width)} hint: {ConsoleText.Escape(hint)}");
            }
            if (statement is { } s)
                context.Console.MarkupLine($"  image {ConsoleText.Escape(s.ImageDigest)}, manifest {ConsoleText.Escape(s.ManifestDigest)}, publisher {ConsoleText.Escape(s.Publisher.Fingerprint)}");
            context.Console.MarkupLine(passed ? "[green]verified[/]" : "[red]NOT verified[/]");
        }

        return passed ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>NAME[@VERSION]; a VERSION that is not SemVer 2.0 is a usage error (IM5103), said before any registry is asked.</summary>
    internal static (string Name, string? Version) Split(string model)
    {
        var at = model.IndexOf('@', StringComparison.Ordinal);
        if (at < 0) return (model, null);
        var version = model[(at + 1)..];
        if (!Semver.SemVersion.TryParse(version, Semver.SemVersionStyles.Strict, out _))
            throw new RegistryException(RegistryErrorCodes.InvalidVersion, RegistryErrorKind.BadRequest, $"'{version}' in {model} is not a SemVer 2.0 version",
                hint: "write NAME@VERSION with a version such as 1.0.0 or 1.2.3-rc.1");
        return (model[..at], version);
    }
}

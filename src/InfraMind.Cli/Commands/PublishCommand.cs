using System.CommandLine;
using InfraMind.Manifest;
using InfraMind.Registry;
using InfraMind.Signing;
using InfraMind.Storage;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>
/// `infra publish --model model.yaml --image REF`: validate, fetch and verify the image behind every reference, sign a
/// publish statement with the deployer's key, append it to the registry, print the endpoint.
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
            Description = $"Signing key name; make one with `infra keys generate --name NAME` (default: {KeysCommand.DefaultKey})",
            DefaultValueFactory = _ => KeysCommand.DefaultKey,
        };
        var passphraseEnv = KeysCommand.PassphraseOption("Environment variable holding the key's passphrase");
        var registry = RegistryAccess.UrlOption();
        var json = new Option<bool>("--json") { Description = "Print {index, name, version, imageDigest, manifestDigest, endpointId, endpoint, alreadyPublished} as JSON" };
        var command = new Command("publish",
            "Publish a model: validate model.yaml, fetch and verify the image behind every --image reference, sign an in-toto statement " +
            "(DSSE, P-256) binding name, version, manifest digest, image digest, references and endpoint id, and append it to the registry's " +
            "transparency log. The endpoint /inference/v1/NAME then serves it on the mesh. The signing key must exist: " +
            "`infra keys generate --name NAME` makes one.\n" +
            "Exit codes: 0 published (or already published identically), 1 invalid model, unverifiable content or refused by the registry " +
            "(name owned by another key, version already published with other content), 2 usage error (a missing key included), " +
            "4 registry or storage unavailable.")
        {
            model, image, key, passphraseEnv, registry, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var validation = ManifestReader.Validate(parse.GetValue(model)!);
            var manifest = validation.EnsureValid();
            var asJson = parse.GetValue(json);
            var references = parse.GetValue(image)!.Select(ContentReference.Parse).ToList();
            var keyName = parse.GetValue(key)!;
            // The key first: a missing key or passphrase is reported before anything is fetched.
            using var signingKey = KeysCommand.Load(context, keyName, parse.GetValue(passphraseEnv));
            var resolver = ContentAccess.CreateResolver(context);
            string? imageDigest = null;
            var published = new List<PublishedReference>();
            foreach (var reference in references)
            {
                var archive = await ContentAccess.WithProgressAsync(context, progress => resolver.ResolveAsync(reference, progress, cancellationToken));
                var digest = archive.ManifestDigest.Value;
                if (imageDigest is not null && digest != imageDigest)
                    throw new InfraMindException(RegistryErrorCodes.ContentMismatch, $"{reference} holds image {digest}, but the first reference holds {imageDigest}");
                imageDigest = digest;
                published.Add(Record(reference));
                if (!asJson) context.Console.MarkupLine($"[green]✓[/] {Markup.Escape(reference.ToString())} verified: image {Markup.Escape(digest)}");
            }

            var manifestBytes = await File.ReadAllBytesAsync(validation.ManifestPath, cancellationToken);
            var statement = PublishStatement.Create(manifest.Name, manifest.Version.ToString(), imageDigest!, manifestBytes, published,
                signingKey.PublicKey, TimeProvider.System, manifest.ToJson());
            var envelope = Dsse.SignPublish(statement, signingKey);

            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), Admission.ForRegistry(context), cancellationToken);
            var response = await handle.Service.PublishAsync(envelope, cancellationToken);
            var endpointPath = $"/inference/v1/{manifest.Name}";
            var gateway = GatewayAnnouncement.Read(context.Home);
            var endpoint = gateway is null ? endpointPath : new Uri(gateway, endpointPath.TrimStart('/')).ToString();
            if (asJson)
            {
                CliJson.Write(context.Output, new
                {
                    index = response.Bundle.Index,
                    name = manifest.Name,
                    version = manifest.Version.ToString(),
                    imageDigest,
                    manifestDigest = manifest.ManifestDigest,
                    endpointId = statement.EndpointId,
                    endpoint,
                    references = published.Select(p => p.Uri),
                    publisher = signingKey.PublicKey.Fingerprint,
                    alreadyPublished = response.AlreadyPublished,
                    registry = handle.Location,
                });
            }
            else
            {
                context.Console.MarkupLine($"[green]✓[/] {(response.AlreadyPublished ? "already published" : "published")} [bold]{Markup.Escape(manifest.Name)} {Markup.Escape(manifest.Version.ToString())}[/] as log entry {response.Bundle.Index} in {Markup.Escape(handle.Location)}");
                context.Console.MarkupLine($"  signed by {Markup.Escape(signingKey.PublicKey.Fingerprint)} ({Markup.Escape(keyName)})");
                context.Console.MarkupLine($"  endpoint id {Markup.Escape(statement.EndpointId)}");
                context.Console.MarkupLine($"  endpoint    POST {Markup.Escape(endpoint)}");
            }

            return ExitCodes.Ok;
        });
        return command;
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

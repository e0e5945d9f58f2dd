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
        var key = new Option<string>("--key") { Description = "Signing key name (`infra keys generate`); 'default' is created on first use", DefaultValueFactory = _ => KeysCommand.DefaultKey };
        var passphraseEnv = new Option<string?>("--passphrase-from-env") { Description = "Environment variable holding the key's passphrase" };
        var registry = new Option<string?>("--registry") { Description = "Registry URL (default: the local registry)" };
        var json = new Option<bool>("--json") { Description = "Print {index, name, version, imageDigest, manifestDigest, endpointId, endpoint, alreadyPublished} as JSON" };
        var command = new Command("publish",
            "Publish a model: validate model.yaml, fetch and verify the image behind every --image reference, sign an in-toto statement " +
            "(DSSE, P-256) binding name, version, manifest digest, image digest, references and endpoint id, and append it to the registry's " +
            "transparency log. The endpoint /inference/v1/NAME then serves it on the mesh.\n" +
            "Exit codes: 0 published (or already published identically), 1 invalid model, unverifiable content or refused by the registry " +
            "(name owned by another key, version already published with other content), 2 usage error, 4 registry or storage unavailable.")
        {
            model, image, key, passphraseEnv, registry, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var validation = ManifestReader.Validate(parse.GetValue(model)!);
            if (validation.PathMissing) throw new CliException("IM1000", $"{parse.GetValue(model)} does not exist", "pass the model.yaml to publish", ExitCodes.Usage);
            if (validation.Manifest is not { } manifest || !validation.IsValid)
            {
                ValidateCommand.WriteHuman(context, validation);
                return ExitCodes.Failed;
            }

            var asJson = parse.GetValue(json);
            var references = parse.GetValue(image)!.Select(r => ContentAccess.ParseReference(r, target: false)).ToList();
            var resolver = ContentAccess.CreateResolver(context);
            string? imageDigest = null;
            var published = new List<PublishedReference>();
            foreach (var reference in references)
            {
                var archive = await ContentAccess.WithProgressAsync(context, progress => ContentAccess.GuardAsync(() => resolver.ResolveAsync(reference, progress, cancellationToken)));
                var digest = archive.ManifestDigest.Value;
                if (imageDigest is not null && digest != imageDigest)
                {
                    throw new CliException(ContentAdmissionCodes.Mismatch, $"{reference} holds image {digest}, but the first reference holds {imageDigest}",
                        "every --image must be a copy of the same image");
                }

                imageDigest = digest;
                published.Add(Record(reference));
                if (!asJson) context.Console.MarkupLine($"[green]✓[/] {Markup.Escape(reference.ToString())} verified: image {Markup.Escape(digest)}");
            }

            var store = KeysCommand.Store(context);
            var keyName = parse.GetValue(key)!;
            if (keyName == KeysCommand.DefaultKey && !store.List().Any(k => k.Name == keyName))
            {
                var created = KeysCommand.Guard(() => store.Generate(keyName));
                if (!asJson) context.Console.MarkupLine($"  created signing key [bold]default[/] {Markup.Escape(created.Fingerprint)} in {Markup.Escape(context.Home.Keys)}");
            }

            using var signingKey = KeysCommand.Guard(() => store.Load(keyName, KeysCommand.Passphrase(context, parse.GetValue(passphraseEnv))));
            var manifestBytes = await File.ReadAllBytesAsync(validation.ManifestPath, cancellationToken);
            var statement = KeysCommand.Guard(() => PublishStatement.Create(manifest.Name, manifest.Version.ToString(), imageDigest!, manifestBytes, published,
                signingKey.PublicKey, TimeProvider.System, manifest.ToJson()));
            var envelope = Dsse.SignPublish(statement, signingKey);

            await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), Admission.ForRegistry(context), cancellationToken);
            var response = await VerifyCommand.GuardAsync(() => handle.Service.PublishAsync(envelope, cancellationToken));
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
        IpfsReference { Cid: { } cid } ipfs => new PublishedReference(ipfs.ToString(), PublishedReference.IpfsKind, cid.Version, cid.Version == 1, "size-262144", ipfs.Path is not null || IsDirectory(cid)),
        OciReference => new PublishedReference(reference.ToString(), "oci"),
        HttpReference => new PublishedReference(reference.ToString(), "https"),
        LocalReference => new PublishedReference(reference.ToString(), "local"),
        _ => new PublishedReference(reference.ToString(), "file"),
    };

    // A wrapped import's root is a directory: the CID names the wrapping directory whose one link is image.tar.
    private static bool IsDirectory(InfraMind.Storage.Ipfs.Cid cid) => cid.Codec == 0x70;

    private static class ContentAdmissionCodes
    {
        public const string Mismatch = InfraMind.Registry.Models.ContentAdmission.ContentMismatch;
    }
}

/// <summary>Where a running local gateway (`infra mesh up`) listens, so `publish` can print the full endpoint URL.</summary>
internal static class GatewayAnnouncement
{
    public static string File(InfraHome home) => Path.Combine(home.Root, "run", "gateway.url");

    public static Uri? Read(InfraHome home)
    {
        var file = File(home);
        return System.IO.File.Exists(file) && Uri.TryCreate(System.IO.File.ReadAllText(file).Trim(), UriKind.Absolute, out var uri) ? uri : null;
    }

    public static void Write(InfraHome home, Uri address)
    {
        var file = File(home);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        System.IO.File.WriteAllText(file, address.ToString());
    }
}

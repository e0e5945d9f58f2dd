using System.CommandLine;
using InfraMind.Registry;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using Spectre.Console;

namespace InfraMind.Cli.Commands;

/// <summary>`infra verify NAME[@VERSION]`: signature, statement digests, checkpoint signature and inclusion, each named.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var model = new Argument<string>("model") { Description = "NAME or NAME@VERSION (default: the latest release)" };
        var registry = new Option<string?>("--registry") { Description = "Registry URL (default: the local registry)" };
        var offline = new Option<string?>("--offline") { Description = "Verify an entry bundle file (from --save) with no registry at all" };
        var registryKey = new Option<string?>("--registry-key") { Description = "The registry's public key (PEM) to trust; default: the local registry's key, or the key the registry serves" };
        var save = new Option<string?>("--save") { Description = "Also write the entry bundle to this file, for `--offline` later" };
        var json = new Option<bool>("--json") { Description = "Print {model, version, index, passed, checks[]} as JSON" };
        var command = new Command("verify",
            "Verify a published model: the publisher's DSSE signature, the statement's digests, the registry's signed checkpoint and the " +
            "Merkle inclusion proof of the entry — online or offline.\nExit codes: 0 every check passed, 1 a check failed, 2 usage error, 4 registry unavailable.")
        {
            model, registry, offline, registryKey, save, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (name, version) = Split(parse.GetValue(model)!);
            EntryBundle bundle;
            PublicKey key;
            string source;
            var keyFile = parse.GetValue(registryKey);
            if (parse.GetValue(offline) is { } file)
            {
                if (!File.Exists(file)) throw new CliException("IM1000", $"{file} does not exist", "pass a bundle written by `infra verify NAME --save FILE`", ExitCodes.Usage);
                bundle = Guard(() => EntryBundle.Parse(File.ReadAllText(file)));
                key = keyFile is not null ? ReadKey(keyFile) : LocalRegistryKey(context);
                source = file;
            }
            else
            {
                await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken);
                bundle = await GuardAsync(() => handle.Service.GetModelVersionAsync(name, version ?? "latest", cancellationToken));
                key = keyFile is not null ? ReadKey(keyFile) : await handle.Service.GetKeyAsync(cancellationToken);
                source = handle.Location;
            }

            if (parse.GetValue(save) is { } saveTo) await File.WriteAllTextAsync(saveTo, bundle.ToJson(), CancellationToken.None);
            var report = EntryVerifier.Verify(bundle, key, new ExpectedPublish(ModelName: name, Version: version));
            var checks = report.Checks.ToList();
            if (report.Statement is { } st)
            {
                var manifestOk = st.Manifest is not null && st.ManifestSource is not null;
                checks.Add(new VerificationCheck("manifest", manifestOk, manifestOk ? null : "IM5140",
                    manifestOk ? $"model.yaml bytes hash to {st.ManifestDigest}" : "the statement carries no manifest"));
            }

            var passed = checks.All(c => c.Passed);
            if (parse.GetValue(json))
            {
                CliJson.Write(context.Output, new
                {
                    model = report.Statement?.ModelName ?? name,
                    version = report.Statement?.Version ?? version,
                    index = bundle.Index,
                    imageDigest = report.Statement?.ImageDigest,
                    manifestDigest = report.Statement?.ManifestDigest,
                    publisher = report.Statement?.Publisher.Fingerprint,
                    registryKey = key.Fingerprint,
                    passed,
                    checks = checks.Select(c => new { name = c.Name, passed = c.Passed, code = c.Code, reason = c.Reason }),
                });
            }
            else
            {
                context.Console.MarkupLine($"{Markup.Escape(report.Statement?.ModelName ?? name)} {Markup.Escape(report.Statement?.Version ?? version ?? "")} — entry {bundle.Index} from {Markup.Escape(source)}, registry key {Markup.Escape(key.Fingerprint)}");
                foreach (var c in checks)
                    context.Console.MarkupLine($"  {(c.Passed ? "[green]✓[/]" : "[red]✗[/]")} {Markup.Escape(c.Name),-10} {(c.Code is null ? "" : Markup.Escape(c.Code) + " ")}{Markup.Escape(c.Reason)}");
                if (report.Statement is { } s)
                    context.Console.MarkupLine($"  image {Markup.Escape(s.ImageDigest)}, manifest {Markup.Escape(s.ManifestDigest)}, publisher {Markup.Escape(s.Publisher.Fingerprint)}");
                context.Console.MarkupLine(passed ? "[green]verified[/]" : "[red]NOT verified[/]");
            }

            return passed ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    internal static (string Name, string? Version) Split(string model)
    {
        var at = model.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (model, null) : (model[..at], model[(at + 1)..]);
    }

    private static PublicKey ReadKey(string file) =>
        File.Exists(file) ? KeysCommand.Guard(() => PublicKey.FromPem(File.ReadAllText(file)))
            : throw new CliException("IM1000", $"{file} does not exist", "pass the registry's public key PEM", ExitCodes.Usage);

    private static PublicKey LocalRegistryKey(CliContext context)
    {
        var file = Path.Combine(context.Home.Registry, "keys", "registry.pub");
        return File.Exists(file) ? ReadKey(file)
            : throw new CliException("IM5105", $"no local registry key at {file}", "pass --registry-key FILE (the registry's public key PEM)", ExitCodes.Usage);
    }

    internal static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (RegistryException e)
        {
            throw ToCli(e);
        }
    }

    internal static async Task<T> GuardAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (RegistryException e)
        {
            throw ToCli(e);
        }
    }

    internal static CliException ToCli(RegistryException e) => new(e.Code, e.Reason, null,
        e.Code is RegistryErrorCodes.RegistryUnreachable ? ExitCodes.Unavailable : ExitCodes.Failed);
}

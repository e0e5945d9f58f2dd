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
        var registry = RegistryAccess.UrlOption();
        var offline = new Option<string?>("--offline") { Description = "Verify an entry bundle file (from --save) with no registry at all", HelpName = "FILE" };
        var registryKey = RegistryAccess.KeyOption();
        var save = new Option<string?>("--save") { Description = "Also write the entry bundle to this file, for `--offline` later" };
        var json = new Option<bool>("--json") { Description = "Print {model, version, index, passed, checks[]} as JSON" };
        var command = new Command("verify",
            "Verify a published model: the publisher's DSSE signature, the statement's digests, the registry's signed checkpoint and the " +
            "Merkle inclusion proof of the entry — online or offline.\n" +
            "Exit codes: 0 every check passed, 1 a check failed, the model is not published or the log is damaged, 2 usage error, 4 registry unavailable.")
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
                if (!File.Exists(file))
                    throw new InfraMindException(CliErrorCodes.FileNotFound, $"no entry bundle at {file}", "write one with `infra verify NAME --save FILE` where a registry answers");
                key = keyFile is not null ? RegistryAccess.KeyFile(keyFile) : RegistryAccess.LocalKey(context);
                bundle = EntryBundle.Parse(await File.ReadAllTextAsync(file, cancellationToken));
                source = file;
            }
            else
            {
                await using var handle = await RegistryAccess.OpenAsync(context, parse.GetValue(registry), null, cancellationToken);
                bundle = await handle.Service.GetModelVersionAsync(name, version ?? "latest", cancellationToken);
                key = await RegistryAccess.TrustedKeyAsync(handle.Service, keyFile, cancellationToken);
                source = handle.Location;
            }

            if (parse.GetValue(save) is { } saveTo) await File.WriteAllTextAsync(saveTo, bundle.ToJson(), CancellationToken.None);
            var report = EntryVerifier.Verify(bundle, key, new ExpectedPublish(ModelName: name, Version: version));
            var checks = report.Checks.ToList();
            if (report.Statement is { } st)
            {
                var manifestOk = st.Manifest is not null && st.ManifestSource is not null;
                checks.Add(new VerificationCheck("manifest", manifestOk, manifestOk ? null : RegistryErrorCodes.ManifestMissing,
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
}

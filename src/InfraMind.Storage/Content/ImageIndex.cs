using System.Runtime.InteropServices;
using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage;

/// <summary>
/// A multi-platform image index (OCI image index or Docker manifest list): picks the manifest for a platform, as
/// docker pull does. Entries without a platform, for another OS or architecture, attestation manifests
/// (<c>unknown/unknown</c>, <c>vnd.docker.reference.type</c>) and nested indexes are passed over; a variant is
/// compared only when the wanted platform names one.
/// </summary>
internal static class ImageIndex
{
    /// <summary>The most entries an index may list (docker's largest have a few dozen).</summary>
    public const int MaxEntries = 1024;

    /// <summary>What to do about an index infra cannot take: name one image manifest instead.</summary>
    public const string PullByDigest = "pull one platform's image manifest by its digest (oci://HOST/REPO@sha256:…)";

    /// <summary>Whether <paramref name="bytes"/> is an index rather than an image manifest.</summary>
    public static bool IsIndex(byte[] bytes, string? headerMediaType)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            string? mediaType = root.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : headerMediaType;
            return root.TryGetProperty("manifests", out _) || (mediaType is not null && MediaTypes.IsIndex(mediaType));
        }
        catch (JsonException)
        {
            return false; // ImageManifest.Parse reports it
        }
    }

    /// <summary>This machine's platform in OCI terms (os/architecture[/variant]), e.g. linux/amd64.</summary>
    public static Platform Host { get; } = new("linux", RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loong64",
        var other => other.ToString().ToLowerInvariant(),
    }, null);

    /// <summary>The descriptor of the manifest for <paramref name="platform"/>; IM4209 naming what the index offers when none matches.</summary>
    public static Descriptor Select(byte[] bytes, Platform platform, string where)
    {
        using var doc = JsonDocument.Parse(bytes);
        if (!doc.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
        {
            throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{where} is an image index without a \"manifests\" list", hint: PullByDigest);
        }

        if (manifests.GetArrayLength() > MaxEntries)
        {
            throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{where} lists {manifests.GetArrayLength()} manifests; an index may list at most {MaxEntries}", hint: PullByDigest);
        }

        var offered = new List<string>();
        int i = 0;
        foreach (var entry in manifests.EnumerateArray())
        {
            string at = $"{where}/manifests/{i++}";
            if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("platform", out var p) || p.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            string? os = Text(p, "os"), arch = Text(p, "architecture"), variant = Text(p, "variant");
            bool attestation = entry.TryGetProperty("annotations", out var a) && a.ValueKind == JsonValueKind.Object && a.TryGetProperty("vnd.docker.reference.type", out _);
            if (os is null || arch is null || attestation || os == "unknown")
            {
                continue;
            }

            offered.Add(variant is null ? $"{os}/{arch}" : $"{os}/{arch}/{variant}");
            if (os == platform.Os && arch == platform.Architecture && (platform.Variant is null || platform.Variant == variant))
            {
                var descriptor = Descriptor.Read(entry, at);
                if (MediaTypes.IsIndex(descriptor.MediaType))
                {
                    throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{at} for {platform} is itself an index; InfraMind follows one level of index",
                        hint: PullByDigest);
                }

                if (descriptor.Size > ArchiveLimits.MaxManifestBytes)
                {
                    throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{at} names a {descriptor.Size}-byte manifest, too large for an image manifest", hint: PullByDigest);
                }

                return descriptor;
            }
        }

        throw new StorageException(StorageErrorCodes.UnsupportedManifest,
            $"{where} is an image index with no image for this machine's platform {platform} (it offers {(offered.Count == 0 ? "no platform" : string.Join(", ", offered.Distinct()))})",
            hint: $"{PullByDigest}, or publish the image for {platform}");
    }

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>An OCI platform: os, architecture and optional variant.</summary>
    internal sealed record Platform(string Os, string Architecture, string? Variant)
    {
        public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
    }
}

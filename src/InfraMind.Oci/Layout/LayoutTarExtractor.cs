using System.Formats.Tar;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Extracts an OCI image layout tar into a directory, verifying every blob against the digest in its name while it
/// is written (a blob that does not match never gets its final name), then opens the layout with
/// <see cref="LayoutVerifier"/>.
/// </summary>
internal static class LayoutTarExtractor
{
    public static async Task<OciLayout> ExtractAsync(Stream layoutTar, string layoutDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layoutTar);
        string blobs = Path.Combine(layoutDirectory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        var verified = new HashSet<Digest>();
        await using (var reader = new TarReader(layoutTar, leaveOpen: true))
        {
            TarEntry? entry;
            var entries = 0;
            while ((entry = await TarInput.NextEntryAsync(reader, "OCI layout tar", ImageInput.OciLayout, cancellationToken).ConfigureAwait(false)) is not null)
            {
                TarInput.CountEntry(ref entries, "OCI layout tar");
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    continue;
                }

                // An empty file has no data stream: it is empty content (a zero-byte blob is still a blob), not nothing.
                var data = entry.DataStream ?? Stream.Null;

                string name = TarInput.NormalizeEntryName(entry.Name);
                if (name is "oci-layout" or "index.json")
                {
                    if (entry.Length > ArchiveLimits.MaxManifestBytes)
                    {
                        throw new OciException(OciErrorCodes.ArchiveLimit, $"{name} in the layout tar is {entry.Length} bytes; an OCI layout file has at most {ArchiveLimits.MaxManifestBytes}.");
                    }

                    var target = File.Create(Path.Combine(layoutDirectory, name));
                    await using (target.ConfigureAwait(false))
                    {
                        await data.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                {
                    string hex = name["blobs/sha256/".Length..];
                    if (!Digest.TryParse(Digest.Sha256Prefix + hex, out var expected))
                    {
                        throw new OciException(OciErrorCodes.InvalidLayout, $"the layout tar holds '{name}', which is not named by a sha256 digest.");
                    }

                    string final = Path.Combine(blobs, hex);
                    string partial = final + ".partial";
                    var (actual, _) = await TarInput.SpoolAsync(data, partial, cancellationToken).ConfigureAwait(false);
                    if (actual != expected)
                    {
                        File.Delete(partial);
                        throw new DigestMismatchException(expected, actual, $"blob '{name}' of the layout tar");
                    }

                    File.Move(partial, final, overwrite: true);
                    verified.Add(expected);
                }
            }
        }

        // Blobs just written were hashed on the way in; anything else the directory already held is hashed now.
        return await LayoutVerifier.OpenAsync(layoutDirectory, verified, cancellationToken).ConfigureAwait(false);
    }
}

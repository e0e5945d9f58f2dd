using InfraMind.Oci.Layout;

namespace InfraMind.Oci;

/// <summary>
/// Converts <c>docker save</c> archives into OCI image layouts, writes layouts as deterministic tars that both OCI
/// tools and <c>docker load</c> (20.10 and newer) accept, and reads such tars back with every blob verified.
/// </summary>
/// <remarks>
/// The front of four units under <c>Layout/</c>, one job each: <see cref="DockerArchiveImporter"/>,
/// <see cref="LayoutTarWriter"/>, <see cref="LayoutTarExtractor"/> and <see cref="LayoutVerifier"/>.
/// </remarks>
public static class OciImageLayout
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>Docker 25+ names images loaded from an OCI layout by this annotation.</summary>
    public const string ContainerdImageNameAnnotation = "io.containerd.image.name";

    /// <summary>
    /// Converts a <c>docker save</c> archive into a deterministic OCI image layout tar written to
    /// <paramref name="layoutTar"/>. Returns the images; their manifest digests are the container hashes.
    /// Needs temporary disk space of about the archive's size.
    /// </summary>
    public static async Task<IReadOnlyList<OciImage>> ConvertDockerArchiveAsync(Stream dockerSave, Stream layoutTar, CancellationToken cancellationToken)
    {
        string work = Path.Combine(Path.GetTempPath(), "inframind-oci-" + Guid.NewGuid().ToString("N"));
        try
        {
            var layout = await DockerArchiveImporter.ImportAsync(dockerSave, work, cancellationToken).ConfigureAwait(false);
            await LayoutTarWriter.WriteAsync(layout, layoutTar, cancellationToken).ConfigureAwait(false);
            return layout.Images;
        }
        finally
        {
            ScratchDirectory.Delete(work);
        }
    }

    /// <summary>
    /// Reads a <c>docker save</c> archive (the legacy format with manifest.json and &lt;id&gt;/layer.tar, or the
    /// OCI-based one of Docker 25+) and writes an OCI image layout into <paramref name="layoutDirectory"/>.
    /// </summary>
    /// <remarks>
    /// The image manifest is rebuilt from manifest.json, the config and the layers rather than copied, so the same
    /// image gives the same manifest digest whichever Docker version saved it.
    /// </remarks>
    public static Task<OciLayout> ImportDockerArchiveAsync(Stream dockerSave, string layoutDirectory, CancellationToken cancellationToken) =>
        DockerArchiveImporter.ImportAsync(dockerSave, layoutDirectory, cancellationToken);

    /// <summary>
    /// Writes the layout as a deterministic tar: entries sorted by path, mtime 0, uid/gid 0, no user names,
    /// modes 0755/0644, ustar headers (PAX only for a blob of 8 GiB or more, which ustar cannot describe).
    /// Besides the OCI files it holds the legacy <c>manifest.json</c> and <c>repositories</c> that pre-25 engines
    /// need, so one tar serves <c>docker load</c> on Docker 20.10 and OCI tools alike.
    /// </summary>
    public static Task WriteTarAsync(OciLayout layout, Stream output, CancellationToken cancellationToken) =>
        LayoutTarWriter.WriteAsync(layout, output, cancellationToken);

    /// <summary>
    /// Extracts an OCI image layout tar into <paramref name="layoutDirectory"/>, verifying every blob against the
    /// digest in its name while it is written, then the index → manifest → config/layers chain (presence, sizes,
    /// media types). Throws <see cref="DigestMismatchException"/> or <see cref="OciException"/> (IM40xx).
    /// </summary>
    public static Task<OciLayout> ExtractAsync(Stream layoutTar, string layoutDirectory, CancellationToken cancellationToken) =>
        LayoutTarExtractor.ExtractAsync(layoutTar, layoutDirectory, cancellationToken);

    /// <summary>Opens an OCI image layout directory, verifying every blob it references and the manifest chain.</summary>
    public static Task<OciLayout> OpenAsync(string layoutDirectory, CancellationToken cancellationToken) =>
        LayoutVerifier.OpenAsync(layoutDirectory, [], cancellationToken);
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Containers;
using InfraMind.Containers.Build;
using InfraMind.Manifest;

namespace InfraMind.Conformance;

/// <summary>
/// Labels that say which manifest and which build context an image was built from, and how InfraMind starts it: for
/// people and tools inspecting images. InfraMind itself never trusts them (anyone may label an image so); it reuses
/// and starts images through its own record (<see cref="ImageIndex"/>).
/// </summary>
public static class ImageIdentity
{
    public const string ManifestDigestLabel = "org.inframind.manifest-digest";
    public const string ContextDigestLabel = "org.inframind.context-digest";
    public const string ModelLabel = "org.inframind.model";

    /// <summary>The <see cref="RunSettings"/> of the manifest the image was built from (never <c>org.inframind.run</c>: that is a run's id).</summary>
    public const string RunSettingsLabel = "org.inframind.run-settings";

    /// <summary>The labels of an image built from <paramref name="manifest"/>'s package, whose context hashed to <paramref name="contextDigest"/>.</summary>
    public static Dictionary<string, string> Labels(ModelManifest manifest, string contextDigest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var settings = RunSettings.Of(manifest);
        return new Dictionary<string, string>
        {
            [ManifestDigestLabel] = manifest.ManifestDigest,
            [ContextDigestLabel] = contextDigest,
            [ModelLabel] = settings.Model,
            [RunSettingsLabel] = settings.ToLabel(),
        };
    }

    /// <summary>
    /// sha256 over what the build sends as its context (<see cref="BuildContext.ListEntries"/>: .dockerignore applied,
    /// links never followed), in its order: each entry's path; a directory as such, a link's target, a file's executable
    /// bit, length and bytes. Nothing outside the package is read, and a FIFO or a device (length 0) is never opened,
    /// so hashing ends whatever the package holds.
    /// </summary>
    public static string ContextDigest(string directory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var root = Path.GetFullPath(directory);
        var buffer = new byte[81920];
        foreach (var relative in BuildContext.ListEntries(root))
        {
            var full = Path.Combine(root, relative);
            var info = new FileInfo(full);
            if (info.LinkTarget is { } target)
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0l\0{target}\0"));
            }
            else if (Directory.Exists(full))
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0d\0"));
            }
            else
            {
                var exec = !OperatingSystem.IsWindows() && (info.UnixFileMode & UnixFileMode.UserExecute) != 0;
                hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0{(exec ? 'x' : '-')}\0{info.Length}\0"));
                // A FIFO or a device reports a length of 0, as an empty file does: not opened (a FIFO blocks until a writer comes).
                if (info.Length == 0) continue;
                using var stream = File.OpenRead(full);
                // The bytes the length said, no more: a file that grows while it is hashed does not make this run on.
                var left = info.Length;
                int read;
                while (left > 0 && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left))) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    left -= read;
                }
            }
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>What of a manifest decides how its container is started: the model, its port and its limits.</summary>
internal sealed record RunSettings(string Model, int Port, long CpuMillicores, long MemoryBytes, int GpuCount)
{
    public static RunSettings Of(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new RunSettings($"{manifest.Name}@{manifest.Version}", manifest.Port, manifest.Resources.CpuMillicores,
            manifest.Resources.MemoryBytes, manifest.Resources.GpuCount);
    }

    public string ToLabel() => string.Create(CultureInfo.InvariantCulture, $"port={Port};cpu={CpuMillicores};memory={MemoryBytes};gpu={GpuCount}");

    /// <summary>The container spec under the isolation policy, with these limits.</summary>
    public ContainerSpec ToSpec(string image, IReadOnlyDictionary<string, string>? labels = null) => new()
    {
        Image = image,
        ContainerPort = Port,
        CpuMillicores = CpuMillicores,
        MemoryBytes = MemoryBytes,
        GpuCount = GpuCount,
        Labels = new Dictionary<string, string>(labels ?? new Dictionary<string, string>())
        {
            [ImageIdentity.ModelLabel] = Model,
        },
    };
}

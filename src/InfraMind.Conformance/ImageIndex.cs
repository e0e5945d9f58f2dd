using System.Text.Json;
using InfraMind.Manifest;

namespace InfraMind.Conformance;

/// <summary>
/// InfraMind's own record of the images it built (a file per build-context digest, in <c>$INFRAMIND_HOME</c>): which
/// image id came from that context, from which manifest, and how InfraMind starts it. A package run reuses an image
/// only through this record, by the id recorded here, and starts it with the settings recorded here. The engine's
/// labels are never trusted for it: anyone who can build or load an image can put any label on it, and an image whose
/// labels claim a package's context (and name a run without limits) must not be started in its place.
/// </summary>
public sealed class ImageIndex(string directory)
{
    /// <summary>A record is a few hundred bytes; anything larger is not one of ours.</summary>
    private const int MaxRecordBytes = 16 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    public string Directory { get; } = directory;

    /// <summary>What was recorded for <paramref name="contextDigest"/>, or null (none, unreadable or not a record).</summary>
    internal ImageRecord? Find(string contextDigest)
    {
        var path = PathOf(contextDigest);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > MaxRecordBytes) return null;
            var record = JsonSerializer.Deserialize<ImageRecord>(File.ReadAllBytes(path), Json);
            return record is { ImageId: var id, ManifestDigest: var manifest, Settings: not null } &&
                   IsDigest(id) && IsDigest(manifest) && record.ContextDigest == contextDigest
                ? record
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Records the image InfraMind has just built from <paramref name="manifest"/>'s package (context <paramref name="contextDigest"/>).</summary>
    public void RememberBuild(ModelManifest manifest, string contextDigest, string imageId)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        Remember(new ImageRecord(contextDigest, imageId, manifest.ManifestDigest, RunSettings.Of(manifest)));
    }

    /// <summary>Records an image InfraMind has just built; failing to write only costs the next run a build.</summary>
    internal void Remember(ImageRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            AtomicFile.Write(PathOf(record.ContextDigest), JsonSerializer.SerializeToUtf8Bytes(record, Json), AtomicFile.ReadableByAll);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next run builds again.
        }
    }

    private static bool IsDigest(string? value) =>
        value is { Length: 71 } && value.StartsWith("sha256:", StringComparison.Ordinal) && value.AsSpan(7).IndexOfAnyExcept(LowerHex) < 0;

    private string PathOf(string contextDigest) =>
        IsDigest(contextDigest)
            ? Path.Combine(Directory, contextDigest["sha256:".Length..] + ".json")
            : throw new ArgumentException($"'{contextDigest}' is not a sha256 digest", nameof(contextDigest));
}

/// <summary>One image InfraMind built: from which context and manifest, and how it is started.</summary>
internal sealed record ImageRecord(string ContextDigest, string ImageId, string ManifestDigest, RunSettings Settings);

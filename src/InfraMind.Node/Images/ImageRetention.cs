using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InfraMind.Containers;
using InfraMind.Manifest;
using InfraMind.Serving;
using Microsoft.Extensions.Logging;

namespace InfraMind.Node.Images;

/// <summary>
/// Which images a node keeps (<see cref="NodeOptions.UnusedImageBytes"/>): on a mesh where strangers publish, every
/// version placed on a node brings an image into its engine, and without this its disk would grow with every publish.
/// <para>
/// Every image the inner source makes present that has no name but nodes' (what a node loads from a publish is
/// nameless) is named <c>inframind-node:OWNER.IMAGEHEX</c> (OWNER: 16 hex digits of the SHA-256 of the node id;
/// IMAGEHEX: the image id's 64), the node's record of what it brought, which outlives a restart. An image with any
/// other name (an operator's <c>infra build</c>, a base image) is the operator's: the node neither names nor removes it.
/// </para>
/// <para>
/// While a version the node runs uses an image it stays. Once none does, the image is unused: unused images are kept
/// (a version placed here again starts without a fetch) while their sizes together stay within the budget; beyond it,
/// the longest unused goes first (and beyond <see cref="DefaultMaxUnusedImages"/> of them, whatever their bytes). Going is removing the node's name: the engine deletes the image only when no other
/// name (another node's on the same engine, or one given since) and no container holds it. A removal the engine refuses
/// (a container holds the image) keeps the image in the books, counted as unused, and is tried again with a back-off,
/// whether or not another version stops (<see cref="RetryDue"/>). A restarted node finds its
/// names at its first heartbeat reply and counts each such image as unused (oldest first) until a version uses it again.
/// Sizes are the engine's (layers shared with other images counted in each), so the budget errs towards removing.
/// Once the engine deleted an image, the inner source is told to forget the version it was last run from
/// (<see cref="IModelImageSource.ForgetAsync"/>: the store's copy of fetched content goes too). With a record
/// directory, that version is also written there (<c>OWNER.IMAGEHEX.json</c>, beside the name), so an image a
/// restarted node finds by its name still names it; without one, such an image's store copy stays.
/// </para>
/// </summary>
public sealed class ImageRetention : IModelImageSource, IDisposable
{
    /// <summary>The repository of the node's names for the images it uses.</summary>
    public const string Repository = "inframind-node";

    /// <summary>Most unused images kept whatever their bytes, so that many tiny images cannot make the record (and the engine's list) long.</summary>
    public const int DefaultMaxUnusedImages = 256;

    /// <summary>The wait before the first retry of a removal the engine refused; each refusal in a row doubles it, up to <see cref="MaxRetryDelay"/>.</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>The longest wait between retries of a removal the engine keeps refusing (a container it does not own holds the image).</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);

    /// <summary>Most bytes of one record read back: a version's assignment, whose manifest the registry bounds far below this.</summary>
    public const int MaxRecordBytes = 1 << 20;

    private readonly IModelImageSource _inner;
    private readonly ContainerEngine _engine;
    private readonly long _budget;
    private readonly int _maxUnused;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly string _owner;
    private readonly string? _records;
    private readonly SemaphoreSlim _gate = new(1, 1);

    // Under _gate: every image the node holds by its name, by image id.
    private readonly Dictionary<string, HeldImage> _images = new(StringComparer.Ordinal);
    private bool _scanned;

    /// <summary>An image the node holds by its name.</summary>
    private sealed class HeldImage(long size)
    {
        /// <summary>The versions (model keys) that use it now.</summary>
        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);

        /// <summary>The engine's size of it.</summary>
        public long Size { get; set; } = size;

        /// <summary>The latest version run from it: what the inner source is told to forget with it (for an image a restart's scan found, its record's, if any).</summary>
        public ModelAssignment? RunFrom { get; set; }

        /// <summary>Since when no version uses it; null while one does.</summary>
        public DateTimeOffset? UnusedSince { get; set; }

        /// <summary>Removals the engine refused in a row (a container holds it); 0 when none was.</summary>
        public int Refusals { get; set; }

        /// <summary>Not before this is its removal tried again, after the engine refused it; null when it was not refused.</summary>
        public DateTimeOffset? RetryAt { get; set; }
    }

    private IEnumerable<KeyValuePair<string, HeldImage>> UnusedImages => _images.Where(i => i.Value.UnusedSince is not null);

    public ImageRetention(IModelImageSource inner, ContainerEngine engine, string nodeId, long unusedBytes, TimeProvider? time = null, ILogger? log = null,
        int maxUnusedImages = DefaultMaxUnusedImages, string? recordDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentOutOfRangeException.ThrowIfNegative(unusedBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxUnusedImages);
        _inner = inner;
        _engine = engine;
        _budget = unusedBytes;
        _maxUnused = maxUnusedImages;
        _time = time ?? TimeProvider.System;
        _log = log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _owner = OwnerOf(nodeId);
        _records = recordDirectory;
    }

    /// <summary>The node's part of its names: the first 16 hex digits of the SHA-256 of its id.</summary>
    public static string OwnerOf(string nodeId) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(nodeId)))[..16];

    /// <summary>This node's name for an image id (<c>sha256:HEX</c>): <c>inframind-node:OWNER.HEX</c>.</summary>
    public string NameOf(string imageId) => $"{Repository}:{TagOf(_owner, imageId)}";

    /// <summary>The name node <paramref name="nodeId"/> gives an image id it uses.</summary>
    public static string NameOf(string nodeId, string imageId) => $"{Repository}:{TagOf(OwnerOf(nodeId), imageId)}";

    private static string TagOf(string owner, string imageId) => $"{owner}.{(imageId.StartsWith("sha256:", StringComparison.Ordinal) ? imageId["sha256:".Length..] : imageId)}";

    private string TagOf(string imageId) => TagOf(_owner, imageId);

    private readonly Lock _published = new();
    private (int Images, long Bytes) _unusedNow;
    private long _nextRetryTicks = long.MaxValue;
    private long _removed;
    private long _removedBytes;

    /// <summary>Unused images kept now and their bytes, as of the last change (read without waiting: a scrape never waits on the engine).</summary>
    public (int Images, long Bytes) Unused
    {
        get
        {
            lock (_published) return _unusedNow;
        }
    }

    /// <summary>Images this node let go since it started, and their bytes (the engine's sizes).</summary>
    public (long Images, long Bytes) Removed => (Interlocked.Read(ref _removed), Interlocked.Read(ref _removedBytes));

    /// <summary>
    /// True when a removal the engine refused is due to be tried again (read without waiting): the node then releases
    /// even when nothing stopped, so an image a container held for a while still goes once it no longer does.
    /// </summary>
    public bool RetryDue => _time.GetUtcNow().UtcTicks >= Interlocked.Read(ref _nextRetryTicks);

    /// <summary>Publishes what is unused now, and when the next refused removal is due. Caller holds the gate.</summary>
    private void Publish()
    {
        var now = (UnusedImages.Count(), UnusedImages.Sum(i => i.Value.Size));
        lock (_published) _unusedNow = now;
        var next = UnusedImages.Select(i => i.Value.RetryAt).Where(r => r is not null).Select(r => r!.Value.UtcTicks).DefaultIfEmpty(long.MaxValue).Min();
        Interlocked.Exchange(ref _nextRetryTicks, next);
    }

    public async Task<string> EnsureImageAsync(ModelAssignment model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        for (var attempt = 0; ; attempt++)
        {
            var image = await _inner.EnsureImageAsync(model, cancellationToken).ConfigureAwait(false);
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // Named under the gate: an image the inner source found present is not removed between its check and here.
                var present = await _engine.InspectImageAsync(image, cancellationToken).ConfigureAwait(false);
                if (present is not null)
                {
                    // An image with a name of its operator's (an `infra build`, a base image) was here before: never the node's to remove.
                    if (present.Tags.Any(t => !t.StartsWith(Repository + ":", StringComparison.Ordinal))) return image;
                    // The record goes before the name: a node stopped between the two leaves a record without a name (the
                    // next start's tidying deletes it), never a named image whose version it cannot tell.
                    var before = _images.GetValueOrDefault(present.Id)?.RunFrom;
                    var recorded = before?.Key != model.Key && WriteRecord(present.Id, model);
                    if (await _engine.TagImageAsync(present.Id, Repository, TagOf(present.Id), cancellationToken).ConfigureAwait(false))
                    {
                        if (!_images.TryGetValue(present.Id, out var held)) _images[present.Id] = held = new HeldImage(present.Size);
                        held.Users.Add(model.Key);
                        held.Size = present.Size;
                        held.RunFrom = model;
                        held.UnusedSince = null;
                        (held.Refusals, held.RetryAt) = (0, null);
                        Publish();
                        return image;
                    }

                    // Gone before it was named: its record goes back to what it was.
                    if (recorded && before is not null) _ = WriteRecord(present.Id, before);
                    else if (recorded) DeleteRecord(present.Id);
                }
            }
            finally
            {
                _gate.Release();
            }

            // Removed (by this node's budget, or by hand) after the source found it present: fetch it again, once.
            if (attempt > 0)
                throw new ModelImageException($"the image of {model.Key} ({image}) left the engine as soon as it was made present; something removes images on this engine");
        }
    }

    public async ValueTask ReleaseAsync(IReadOnlyCollection<ModelAssignment> stopped, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stopped);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_scanned && stopped.Count == 0 && !RetryDue) return;
            if (!_scanned) await ScanAsync(cancellationToken).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            foreach (var key in stopped.Select(s => s.Key))
            {
                foreach (var held in _images.Values)
                {
                    if (held.Users.Remove(key) && held.Users.Count == 0) held.UnusedSince = now;
                }
            }

            await TrimAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerEngineException e)
        {
            // The engine went away mid-way: whatever was not removed stays in the books, tried again when the next version stops.
            _log.LogWarning("could not remove unused images: {Code} {Message}", e.Code, e.Message);
        }
        finally
        {
            Publish();
            _gate.Release();
        }
    }

    /// <summary>The images this node named before (an earlier run): those no version uses now are unused, oldest first.</summary>
    private async Task ScanAsync(CancellationToken cancellationToken)
    {
        foreach (var image in await _engine.FindImagesByNameAsync($"{Repository}:{_owner}.*", cancellationToken).ConfigureAwait(false))
        {
            if (_images.ContainsKey(image.Id)) continue;
            _images[image.Id] = new HeldImage(image.Size)
            {
                UnusedSince = new DateTimeOffset(DateTime.SpecifyKind(image.Created, DateTimeKind.Utc)),
                RunFrom = ReadRecord(image.Id),
            };
        }

        DeleteStaleRecords();
        _scanned = true;
    }

    /// <summary>
    /// Removes the node's names of the longest-unused images until the rest fit the budget (bytes and count). An image
    /// leaves the books only once its name is gone: one whose removal the engine refused (a container still holds it)
    /// stays, counted as unused, and is tried again after a back-off (<see cref="FirstRetryDelay"/> doubling up to
    /// <see cref="MaxRetryDelay"/>); until then it is passed over as if it went, so one held image does not make the
    /// node remove others in its place. Caller holds the gate.
    /// </summary>
    private async Task TrimAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        // A retry due now is either made below or no longer needed (the rest fit the budget): no longer pending either way.
        foreach (var held in _images.Values.Where(h => h.RetryAt <= now)) held.RetryAt = null;
        var unused = UnusedImages.OrderBy(i => i.Value.UnusedSince).ThenBy(i => i.Key, StringComparer.Ordinal).ToList();
        var total = unused.Sum(i => i.Value.Size);
        var count = unused.Count;
        foreach (var (id, held) in unused)
        {
            if (total <= _budget && count <= _maxUnused) break;
            var (size, model) = (held.Size, held.RunFrom);
            total -= size;
            count--;
            if (held.RetryAt > now) continue;
            bool removed;
            try
            {
                removed = await _engine.RemoveImageAsync(NameOf(id), force: false, cancellationToken).ConfigureAwait(false);
            }
            catch (ContainerEngineException e) when (e is not EngineUnavailableException)
            {
                // A container holds it (one this node does not own, or one still being removed): the name stays, and so does its entry.
                held.Refusals++;
                var delay = TimeSpan.FromTicks(Math.Min(FirstRetryDelay.Ticks << Math.Min(held.Refusals - 1, 16), MaxRetryDelay.Ticks));
                held.RetryAt = now + delay;
                _log.LogWarning("kept image {Image}, unused by this node, for now (refused {Refusals} time(s) in a row; tried again in {Seconds:0} s): {Message}",
                    id, held.Refusals, delay.TotalSeconds, e.Message);
                continue;
            }

            if (removed)
            {
                Interlocked.Increment(ref _removed);
                Interlocked.Add(ref _removedBytes, size);
                _log.LogInformation("let go of image {Image} ({Size}): no version this node runs uses it, and unused images are kept within {Budget}", id, Quantity.FormatBytes(size), Quantity.FormatBytes(_budget));
            }

            // The node's name is gone (removed now, or by hand before): so are its entry and its record.
            _images.Remove(id);
            DeleteRecord(id);

            // Gone from the engine (no other node's name held it): the copy it was loaded from may go too.
            if (model is not null && !await _engine.ImageExistsAsync(id, cancellationToken).ConfigureAwait(false))
                await ForgetAsync(model, cancellationToken).ConfigureAwait(false);
        }
    }

    private string RecordPath(string imageId) => Path.Combine(_records!, TagOf(imageId) + ".json");

    /// <summary>
    /// Records the version an image was last run from (written whole: a temporary file, then a rename); false when there
    /// is no record directory or the write failed. A record that cannot be written is only logged: it costs a restarted
    /// node the store copy of that image, nothing else.
    /// </summary>
    private bool WriteRecord(string imageId, ModelAssignment model)
    {
        if (_records is null) return false;
        try
        {
            Directory.CreateDirectory(_records);
            AtomicFile.Write(RecordPath(imageId), JsonSerializer.SerializeToUtf8Bytes(model, JsonSerializerOptions.Web), AtomicFile.ReadableByAll);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary file left behind goes with the next restart's tidying (DeleteStaleRecords).
            _log.LogWarning("could not record which version image {Image} was run from: {Message}", imageId, e.Message);
            return false;
        }
    }

    /// <summary>The version an earlier run recorded for an image; null when there is none, or it is not one (over <see cref="MaxRecordBytes"/>, damaged).</summary>
    private ModelAssignment? ReadRecord(string imageId)
    {
        if (_records is null) return null;
        try
        {
            var file = new FileInfo(RecordPath(imageId));
            if (!file.Exists || file.Length > MaxRecordBytes) return null;
            var model = JsonSerializer.Deserialize<ModelAssignment>(File.ReadAllBytes(file.FullName), JsonSerializerOptions.Web);
            return model is { Name: not null, Version: not null, ImageDigest: not null, ContentReferences: not null } ? model : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            _log.LogWarning("ignored the record of image {Image}: {Message}", imageId, e.Message);
            return null;
        }
    }

    private void DeleteRecord(string imageId)
    {
        if (_records is null) return;
        try
        {
            File.Delete(RecordPath(imageId));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("could not remove the record of image {Image}: {Message}", imageId, e.Message);
        }
    }

    /// <summary>This node's records of images it no longer names (removed by hand, or a crash between a name's removal and its record's), and temporary files of writes that died. Caller holds the gate.</summary>
    private void DeleteStaleRecords()
    {
        if (_records is null || !Directory.Exists(_records)) return;
        try
        {
            var kept = _images.Keys.Select(RecordPath).ToHashSet(StringComparer.Ordinal);
            foreach (var path in Directory.EnumerateFiles(_records, _owner + ".*"))
            {
                if (!kept.Contains(path)) File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("could not tidy the image records in {Directory}: {Message}", _records, e.Message);
        }
    }

    /// <summary>Tells the inner source to drop its copy; a copy it cannot drop now (a store locked too long) is only logged.</summary>
    private async Task ForgetAsync(ModelAssignment model, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.ForgetAsync(model, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InfraMindException or IOException or UnauthorizedAccessException)
        {
            _log.LogWarning("kept the fetched copy of {Model}'s image: {Message}", model.Key, e.Message);
        }
    }

    public void Dispose() => _gate.Dispose();
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Serving;

/// <summary>
/// Parses and validates each published manifest once per process: its schemas are built once and the typed manifest is
/// shared by the gateway's catalog, its every refresh, and the node agents of the same process. Keyed by the digest of
/// the manifest's JSON text (<see cref="PublishedManifest.ContentDigest"/>); bounded, the least recently used content
/// leaves first.
/// </summary>
public sealed class ManifestCache
{
    /// <summary>How many manifests <see cref="Shared"/> keeps: far more versions than one mesh serves at once.</summary>
    internal const int DefaultCapacity = 256;

    private readonly object _gate = new();
    private readonly int _capacity;
    private readonly Dictionary<string, LinkedListNode<(string Key, Lazy<PublishedManifest> Value)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, Lazy<PublishedManifest> Value)> _recency = new();
    private long _parses;
    private static readonly System.Text.Json.JsonDocumentOptions StrictDocument = new() { AllowDuplicateProperties = false };

    internal ManifestCache(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>The process's cache: what the gateway and the nodes of one process share.</summary>
    public static ManifestCache Shared { get; } = new();

    /// <summary>How many times a manifest was parsed and validated (each content once, while it stays cached).</summary>
    internal long Parses => Interlocked.Read(ref _parses);

    /// <summary>
    /// The published manifest <paramref name="json"/> (as <see cref="ModelManifest.ToJson"/> writes it), parsed and
    /// validated the first time this content is seen.
    /// </summary>
    /// <exception cref="FormatException">with every finding when it is not a valid manifest.</exception>
    public PublishedManifest Get(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var text = json.ToJsonString();
        var key = Digest(text);
        return GetOrAdd(key, () =>
        {
            Interlocked.Increment(ref _parses);
            try
            {
                var own = Own(text);
                return new PublishedManifest(own, key, ModelManifest.FromJson(own));
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or System.Text.Json.JsonException)
            {
                // A field of the wrong JSON kind (a number where a string belongs), or a member named twice (a gateway's
                // reply is parsed as it comes), is an invalid manifest like any other.
                throw new FormatException($"invalid manifest: {e.Message}", e);
            }
        });
    }

    /// <summary>A manifest validated here (e.g. read from model.yaml): published as it is, without parsing it again.</summary>
    public PublishedManifest Get(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var json = manifest.ToJson();
        var text = json.ToJsonString();
        var key = Digest(text);
        return GetOrAdd(key, () => new PublishedManifest(Own(text), key, manifest));
    }

    private PublishedManifest GetOrAdd(string key, Func<PublishedManifest> create)
    {
        Lazy<PublishedManifest> entry;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                entry = node.Value.Value;
            }
            else
            {
                entry = new Lazy<PublishedManifest>(create, LazyThreadSafetyMode.ExecutionAndPublication);
                _entries[key] = _recency.AddFirst((key, entry));
                if (_entries.Count > _capacity)
                {
                    var oldest = _recency.Last!;
                    _recency.RemoveLast();
                    _entries.Remove(oldest.Value.Key);
                }
            }
        }

        try
        {
            // Outside the lock: a parse takes milliseconds, and other manifests need not wait for it.
            return entry.Value;
        }
        catch (Exception)
        {
            // An invalid manifest is not kept: the entry would only hold the exception.
            lock (_gate)
            {
                if (_entries.TryGetValue(key, out var node) && ReferenceEquals(node.Value.Value, entry))
                {
                    _recency.Remove(node);
                    _entries.Remove(key);
                }
            }

            throw;
        }
    }

    /// <summary>
    /// A JSON tree of the cache's own, parsed from <paramref name="text"/> (never a caller's, which it may change) and
    /// read once in full: a parsed JsonObject builds its members on first access, which is not safe from several threads,
    /// and every heartbeat reply serialises it.
    /// </summary>
    private static JsonObject Own(string text)
    {
        // A member named twice is refused as the text is read: a JsonObject takes it, and throws only once it is read.
        var json = JsonNode.Parse(text, null, StrictDocument)!.AsObject();
        Walk(json);
        return json;

        static void Walk(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (_, child) in o) Walk(child);
                    break;
                case JsonArray a:
                    foreach (var child in a) Walk(child);
                    break;
            }
        }
    }

    private static string Digest(string text) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

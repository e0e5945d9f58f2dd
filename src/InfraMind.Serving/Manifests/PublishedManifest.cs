using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Serving;

/// <summary>
/// A published manifest in both its forms: <see cref="Json"/>, the resolved manifest as its publisher signed it (what
/// travels to nodes, and what a node checks against the signature), and <see cref="Manifest"/>, the same validated and
/// typed, its schemas built. Made only by <see cref="ManifestCache"/>, so one content is parsed once per process.
/// </summary>
public sealed class PublishedManifest
{
    internal PublishedManifest(JsonObject json, string contentDigest, ModelManifest manifest)
    {
        Json = json;
        ContentDigest = contentDigest;
        Manifest = manifest;
    }

    /// <summary>The resolved manifest as published (<see cref="ModelManifest.ToJson"/>). Shared: never change it.</summary>
    public JsonObject Json { get; }

    /// <summary>
    /// sha256 of <see cref="Json"/>'s text: the cache key. Not the manifest digest alone, which covers model.yaml's
    /// bytes but not the schema files its <c>$ref</c>s inline, and which the JSON itself claims.
    /// </summary>
    public string ContentDigest { get; }

    /// <summary>The validated manifest, schemas built.</summary>
    public ModelManifest Manifest { get; }
}

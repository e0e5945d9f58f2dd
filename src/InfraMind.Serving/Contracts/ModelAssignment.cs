using System.Text.Json.Nodes;

namespace InfraMind.Serving;

/// <summary>A published model version the gateway asks a node to run: everything a node needs to fetch and verify it.</summary>
/// <param name="Manifest">
/// The resolved manifest as its publisher signed it (<see cref="PublishedManifest.Json"/>): JSON on the wire, since a
/// node checks it against the signature; a node reads it through <see cref="ManifestCache"/>, once per content.
/// </param>
public sealed record ModelAssignment(
    string Name,
    string Version,
    JsonObject Manifest,
    string ImageDigest,
    IReadOnlyList<string> ContentReferences,
    long? RegistryIndex)
{
    public string Key => ModelKey.Of(Name, Version);
}

/// <summary>How a model version is named across the mesh: <c>name@version</c>.</summary>
public static class ModelKey
{
    public static string Of(string name, string version) => $"{name}@{version}";
}

using System.Text.Json.Nodes;
using Semver;

namespace InfraMind.Manifest;

public enum ModelProtocol
{
    Rest,
    Grpc,
}

/// <summary>Compute requested at run time, in exact units.</summary>
public sealed record ResourceRequest(long CpuMillicores, long MemoryBytes, int GpuCount)
{
    public static ResourceRequest Default { get; } = new(1000, 512L * 1024 * 1024, 0);

    /// <summary>
    /// The least <c>resources.memory</c> model.yaml may declare: 6 MiB, the least a container engine starts a container
    /// with (Docker: "Minimum memory limit allowed is 6MB"; the engine's rule is Containers' <c>ContainerSpec</c>, which
    /// this layer does not reference). Below it a manifest would validate and then never run.
    /// </summary>
    public const long MinimumMemoryBytes = 6L * 1024 * 1024;
}

/// <summary>Hook scripts, as paths relative to the package (and to the image's working directory).</summary>
public sealed record HookSet(string? Init, string? Warmup, string? Healthcheck)
{
    public static HookSet None { get; } = new(null, null, null);

    public static IReadOnlyList<string> Names { get; } = ["init", "warmup", "healthcheck"];
}

/// <summary>A validated <c>model.yaml</c>.</summary>
/// <param name="Deterministic">
/// The publisher declares that the same input always gets the same answer (<c>deterministic: true</c>): a gateway may
/// send a share of requests to a second node and compare (docs/mesh.md). Written to JSON only when true, so the
/// resolved manifests published before the field existed read and serialise as before.
/// </param>
public sealed record ModelManifest(
    string Name,
    SemVersion Version,
    string Entrypoint,
    string Runtime,
    ModelProtocol Protocol,
    int Port,
    ResourceRequest Resources,
    ModelSchema InputSchema,
    ModelSchema OutputSchema,
    HookSet Hooks,
    TimeSpan ReadinessTimeout,
    string ManifestDigest,
    bool Deterministic = false)
{
    public static TimeSpan DefaultReadinessTimeout { get; } = TimeSpan.FromSeconds(3);

    /// <summary>The engine tag of the model image; SemVer build metadata (+x) is not allowed in tags, so + becomes _.</summary>
    public string ImageTag => $"{Name}:{Version.ToString().Replace('+', '_')}";

    /// <summary>
    /// Reads back <see cref="ToJson"/> (a published, resolved manifest): validated with every content rule, keeping the
    /// digest of the original model.yaml bytes it states.
    /// </summary>
    /// <exception cref="FormatException">with every finding when the JSON is not a valid manifest.</exception>
    public static ModelManifest FromJson(JsonObject json)
    {
        var copy = (JsonObject)json.DeepClone();
        var digest = copy["manifestDigest"]?.GetValue<string>() ?? throw new FormatException("the manifest has no manifestDigest");
        copy.Remove("manifestDigest");
        var result = ManifestReader.ValidateContent(System.Text.Encoding.UTF8.GetBytes(copy.ToJsonString()), "manifest.json");
        if (result.Manifest is not { } m || !result.IsValid)
            throw new FormatException("invalid manifest: " + string.Join("; ", result.Errors));
        return m with { ManifestDigest = digest };
    }

    /// <summary>The manifest as JSON, with schemas inlined: what nodes and the gateway need to serve the model.</summary>
    public JsonObject ToJson()
    {
        var json = Json();
        if (Deterministic) json.Insert(json.IndexOf("manifestDigest"), "deterministic", true);
        return json;
    }

    private JsonObject Json() => new()
    {
        ["name"] = Name,
        ["version"] = Version.ToString(),
        ["entrypoint"] = Entrypoint,
        ["runtime"] = Runtime,
        ["protocol"] = Protocol == ModelProtocol.Rest ? "rest" : "grpc",
        ["port"] = Port,
        ["resources"] = new JsonObject
        {
            ["cpu"] = $"{Resources.CpuMillicores}m",
            ["memory"] = Quantity.FormatBytes(Resources.MemoryBytes),
            ["gpu"] = Resources.GpuCount,
        },
        ["input_schema"] = InputSchema.Document,
        ["output_schema"] = OutputSchema.Document,
        ["timeout"] = $"{ReadinessTimeout.TotalMilliseconds}ms",
        ["hooks"] = new JsonObject(new[] { ("init", Hooks.Init), ("warmup", Hooks.Warmup), ("healthcheck", Hooks.Healthcheck) }
            .Where(h => h.Item2 is not null).Select(h => new KeyValuePair<string, JsonNode?>(h.Item1, h.Item2))),
        ["manifestDigest"] = ManifestDigest,
    };
}

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
}

/// <summary>Hook scripts, as paths relative to the package (and to the image's working directory).</summary>
public sealed record HookSet(string? Init, string? Warmup, string? Healthcheck)
{
    public static HookSet None { get; } = new(null, null, null);

    public static IReadOnlyList<string> Names { get; } = ["init", "warmup", "healthcheck"];
}

/// <summary>A validated <c>model.yaml</c>.</summary>
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
    string ManifestDigest)
{
    public static TimeSpan DefaultReadinessTimeout { get; } = TimeSpan.FromSeconds(3);

    /// <summary>The engine tag of the model image; SemVer build metadata (+x) is not allowed in tags, so + becomes _.</summary>
    public string ImageTag => $"{Name}:{Version.ToString().Replace('+', '_')}";

    /// <summary>The manifest as JSON, with schemas inlined: what nodes and the gateway need to serve the model.</summary>
    public JsonObject ToJson() => new()
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
        ["input_schema"] = InputSchema.Document.DeepClone(),
        ["output_schema"] = OutputSchema.Document.DeepClone(),
        ["manifestDigest"] = ManifestDigest,
    };
}

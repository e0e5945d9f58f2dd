using System.Globalization;
using System.Text.RegularExpressions;
using Semver;

namespace InfraMind.Manifest;

/// <summary>
/// The rules of model.yaml's fields: which exist, which are required, and what each may hold (name, version, paths,
/// runtime, protocol, port, resources, hooks, timeout). The two schemas are read by <see cref="SchemaReader"/>.
/// </summary>
/// <param name="packageDir">The package directory; null for a manifest that travels without its files.</param>
/// <param name="schemaFiles">Without a package: the schema files' content by field, as the publisher resolved them.</param>
internal sealed partial class ManifestFields(ManifestFindings findings, string? packageDir, IReadOnlyDictionary<string, System.Text.Json.Nodes.JsonObject>? schemaFiles = null)
{
    private static readonly string[] ResourceKeys = ["cpu", "memory", "gpu"];

    private readonly SchemaReader _schemas = new(findings, packageDir, schemaFiles);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z][a-z0-9_+-]*?[0-9]+(\.[0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RuntimePattern();

    /// <summary>The name as read by <see cref="Read"/>, when it is a valid one (whatever else is wrong); else null.</summary>
    public string? Name { get; private set; }

    /// <summary>The version as read by <see cref="Read"/>, when it is valid SemVer (whatever else is wrong); else null.</summary>
    public SemVersion? Version { get; private set; }

    /// <summary>Reads every field, in the order of the manifest's definition; null when any of them is wrong.</summary>
    public ModelManifest? Read(YMapping map, string digest)
    {
        foreach (var (key, _) in map.Entries)
        {
            if (ManifestReader.TopLevelKeys.Contains(key.Value)) continue;
            var suggestion = ManifestReader.Suggest(key.Value, ManifestReader.TopLevelKeys);
            findings.Error(ManifestCodes.UnknownField, key.Value, key, $"unknown field '{key.Value}'",
                suggestion is not null ? $"did you mean '{suggestion}'?" : $"known fields: {string.Join(", ", ManifestReader.TopLevelKeys)}");
        }

        foreach (var key in ManifestReader.RequiredKeys.Where(k => map[k] is null))
        {
            findings.Error(ManifestCodes.MissingField, key, null, $"required field '{key}' is missing", $"add `{key}: …` ({Explain(key)})",
                map.Line, map.Column);
        }

        var name = Name = ReadName(map["name"]);
        var version = Version = ReadVersion(map["version"]);
        var entrypoint = ReadPath("entrypoint", map["entrypoint"]);
        var runtime = ReadRuntime(map["runtime"]);
        var protocol = ReadProtocol(map["protocol"]);
        var port = ReadPort(map["port"]);
        var resources = ReadResources(map["resources"]);
        var input = _schemas.Read("input_schema", map["input_schema"]);
        var output = _schemas.Read("output_schema", map["output_schema"]);
        var hooks = ReadHooks(map["hooks"]);
        var timeout = ReadTimeout(map["timeout"]);
        var deterministic = ReadDeterministic(map["deterministic"]);

        if (name is null || version is null || entrypoint is null || runtime is null || protocol is null || port is null ||
            resources is null || input is null || output is null || hooks is null || timeout is null || deterministic is null)
        {
            return null;
        }

        return new ModelManifest(name, version, entrypoint, runtime, protocol.Value, port.Value, resources, input, output,
            hooks, timeout.Value, digest, deterministic.Value);
    }

    private static string Explain(string key) => key switch
    {
        "name" => "a lowercase DNS label such as summarizer-v1",
        "version" => "a SemVer version such as 0.1.0",
        "entrypoint" => "the script that serves the model, such as serve.py",
        "runtime" => "such as python3.10, node20, dotnet8 or custom",
        "protocol" => "rest or grpc",
        "port" => "the port the container listens on, such as 9000",
        "input_schema" => "a JSON Schema (draft-07) of the request body",
        "output_schema" => "a JSON Schema (draft-07) of the response body",
        _ => key,
    };

    private YScalar? Scalar(string path, YNode? node, string expected)
    {
        if (node is null) return null;
        if (node is YScalar { IsNull: false } s) return s;
        findings.Error(ManifestCodes.WrongType, path, node, $"'{path}' must be {expected}, found {node.Description}",
            $"write `{path}: …` with {expected}");
        return null;
    }

    private string? ReadName(YNode? node)
    {
        if (Scalar("name", node, "a string") is not { } s) return null;
        if (s.Value.Length <= 63 && DnsLabel().IsMatch(s.Value)) return s.Value;
        var fixedName = Regex.Replace(s.Value.ToLowerInvariant(), "[^a-z0-9-]+", "-").Trim('-');
        if (fixedName.Length > 63) fixedName = fixedName[..63].Trim('-');
        findings.Error(ManifestCodes.InvalidName, "name", s,
            s.Value.Length > 63 ? $"name is {s.Value.Length} characters; the limit is 63" : $"name '{s.Value}' is not a lowercase DNS label",
            $"use lowercase letters, digits and '-', starting and ending with a letter or digit" +
            (fixedName.Length > 0 ? $", e.g. '{fixedName}'" : ""));
        return null;
    }

    private SemVersion? ReadVersion(YNode? node)
    {
        if (Scalar("version", node, "a SemVer string") is not { } s) return null;
        if (SemVersion.TryParse(s.Value, SemVersionStyles.Strict, out var v)) return v;
        // A number YAML read as such (1, 1.2): the version it stands for, padded to MAJOR.MINOR.PATCH.
        var padded = s.Value + string.Concat(Enumerable.Repeat(".0", Math.Max(0, 2 - s.Value.Count(c => c == '.'))));
        var hint = s.Value.StartsWith('v') ? $"drop the 'v': '{s.Value[1..]}'" :
            s.Value.Count(c => c == '.') < 2 && !s.Quoted && SemVersion.TryParse(padded, SemVersionStyles.Strict, out _)
                ? $"SemVer needs MAJOR.MINOR.PATCH, e.g. '{padded}' (quoted, so YAML reads it as text)" :
            "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1";
        findings.Error(ManifestCodes.InvalidVersion, "version", s, $"version '{s.Value}' is not SemVer 2.0", hint);
        return null;
    }

    private string? ReadPath(string path, YNode? node)
    {
        if (Scalar(path, node, "a relative file path") is not { } s) return null;
        var (problem, detail) = packageDir is null ? PackagePaths.CheckSyntax(s.Value) : PackagePaths.Check(packageDir, s.Value);
        switch (problem)
        {
            case PackagePaths.Problem.None:
                return s.Value;
            case PackagePaths.Problem.Missing:
                findings.Error(ManifestCodes.FileNotInPackage, path, s, detail, "create the file or fix the path (relative to the package directory)");
                return null;
            case PackagePaths.Problem.Escapes:
                findings.Error(ManifestCodes.PathEscapes, path, s, detail, "copy the file into the package instead of linking outside it");
                return null;
            default:
                findings.Error(ManifestCodes.InvalidPath, path, s, detail, "write a path relative to the package directory, such as hooks/init.sh");
                return null;
        }
    }

    private string? ReadRuntime(YNode? node)
    {
        if (Scalar("runtime", node, "a string") is not { } s) return null;
        if (s.Value == "custom" || RuntimePattern().IsMatch(s.Value)) return s.Value;
        findings.Error(ManifestCodes.InvalidRuntime, "runtime", s, $"runtime '{s.Value}' is not <language><version> or 'custom'",
            "write e.g. python3.10, node20, dotnet8, or custom");
        return null;
    }

    private ModelProtocol? ReadProtocol(YNode? node)
    {
        if (Scalar("protocol", node, "rest or grpc") is not { } s) return null;
        switch (s.Value)
        {
            case "rest":
                return ModelProtocol.Rest;
            case "grpc":
                return ModelProtocol.Grpc;
            default:
                var lower = s.Value.ToLowerInvariant();
                findings.Error(ManifestCodes.InvalidProtocol, "protocol", s, $"protocol '{s.Value}' is not supported",
                    lower is "rest" or "grpc" ? $"write it in lowercase: '{lower}'" : "use rest (POST / with JSON) or grpc");
                return null;
        }
    }

    private int? ReadPort(YNode? node)
    {
        if (Scalar("port", node, "an integer") is not { } s) return null;
        if (s.AsInteger() is not { } p)
        {
            findings.Error(ManifestCodes.WrongType, "port", s, $"port must be an integer, found {s.TypeName} '{s.Value}'",
                s.Quoted && int.TryParse(s.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) ? "remove the quotes"
                : s.WithoutSeparators is { } plain ? $"YAML 1.2 has no digit separators: write {plain}" : "write the port number, such as 9000");
            return null;
        }

        if (p is >= 1 and <= 65535) return (int)p;
        findings.Error(ManifestCodes.InvalidPort, "port", s, $"port {p} is out of range", "use a port between 1 and 65535, such as 9000");
        return null;
    }

    private ResourceRequest? ReadResources(YNode? node)
    {
        if (node is null) return ResourceRequest.Default;
        if (node is not YMapping map)
        {
            findings.Error(ManifestCodes.WrongType, "resources", node, $"'resources' must be a mapping, found {node.Description}",
                "write `resources: {cpu: 1, memory: 512Mi, gpu: false}`");
            return null;
        }

        foreach (var (key, _) in map.Entries.Where(e => !ResourceKeys.Contains(e.Key.Value)))
        {
            var suggestion = ManifestReader.Suggest(key.Value, ResourceKeys);
            findings.Error(ManifestCodes.UnknownField, $"resources.{key.Value}", key, $"unknown resource '{key.Value}'",
                suggestion is not null ? $"did you mean '{suggestion}'?" : "known resources: cpu, memory, gpu");
        }

        // Each read in a declaration of its own (not `ok &= Read(…, out var memory)`): Stryker mutates such a statement
        // inside a block of its own, where the out variable is out of scope, and then mutated none of this method.
        var cpuOk = ReadQuantity(map["cpu"], "cpu", ManifestCodes.InvalidCpu, Quantity.TryParseMillicores,
            "give cores as a number greater than 0 (2, 0.5) or millicores (500m)", ResourceRequest.Default.CpuMillicores, out var cpu);
        var memoryOk = ReadQuantity(map["memory"], "memory", ManifestCodes.InvalidMemory, TryParseMemory,
            $"give a Kubernetes quantity of at least {Quantity.FormatBytes(ResourceRequest.MinimumMemoryBytes)}, such as 512Mi, 4Gi or 1G",
            ResourceRequest.Default.MemoryBytes, out var memory);
        var ok = cpuOk && memoryOk;
        var gpu = 0;
        if (map["gpu"] is { } gpuNode)
        {
            var g = gpuNode as YScalar;
            if (g?.AsBool() is { } b) gpu = b ? 1 : 0;
            else if (g?.AsInteger() is { } n and >= 0 and <= 64) gpu = (int)n;
            else
            {
                findings.Error(ManifestCodes.InvalidGpu, "resources.gpu", gpuNode,
                    $"gpu must be true, false or a non-negative count, found {(g is null ? gpuNode.Description : $"'{g.Value}'")}",
                    g?.WithoutSeparators is { } plain ? $"YAML 1.2 has no digit separators: write {plain}" : "write gpu: false, gpu: true (one GPU) or gpu: 2");
                ok = false;
            }
        }

        return ok ? new ResourceRequest(cpu, memory, gpu) : null;
    }

    private delegate bool QuantityParser(string text, out long value, out string error);

    /// <summary>A memory quantity of at least <see cref="ResourceRequest.MinimumMemoryBytes"/>: less validates nowhere, since no engine runs it.</summary>
    private static bool TryParseMemory(string text, out long bytes, out string error)
    {
        if (!Quantity.TryParseBytes(text, out bytes, out error)) return false;
        if (bytes >= ResourceRequest.MinimumMemoryBytes) return true;
        var least = Quantity.FormatBytes(ResourceRequest.MinimumMemoryBytes);
        error = string.Create(CultureInfo.InvariantCulture,
            $"'{text}' is {bytes} bytes, less than {least} ({ResourceRequest.MinimumMemoryBytes} bytes), the least memory a container engine starts a container with");
        bytes = 0;
        return false;
    }

    /// <summary>A Kubernetes-style quantity under resources (cpu, memory); <paramref name="fallback"/> when it is absent.</summary>
    private bool ReadQuantity(YNode? node, string key, string code, QuantityParser parse, string hint, long fallback, out long value)
    {
        value = fallback;
        if (node is null) return true;
        var err = node is YScalar { IsNull: false } s && s.AsBool() is null
            ? parse(s.Value, out value, out var e) ? null : e
            : $"found {node.Description}";
        if (err is null) return true;
        findings.Error(code, $"resources.{key}", node, $"{key}: {err}", hint);
        return false;
    }

    private HookSet? ReadHooks(YNode? node)
    {
        if (node is null || node is YScalar { IsNull: true }) return HookSet.None;
        if (node is not YMapping map)
        {
            findings.Error(ManifestCodes.WrongType, "hooks", node, $"'hooks' must be a mapping, found {node.Description}",
                "write `hooks: {init: hooks/init.sh, healthcheck: hooks/health.sh}`");
            return null;
        }

        var ok = true;
        foreach (var (key, _) in map.Entries.Where(e => !HookSet.Names.Contains(e.Key.Value)))
        {
            var suggestion = ManifestReader.Suggest(key.Value, HookSet.Names);
            findings.Error(ManifestCodes.UnknownHook, $"hooks.{key.Value}", key, $"unknown hook '{key.Value}'",
                suggestion is not null ? $"did you mean '{suggestion}'?" : "hooks are init, warmup and healthcheck");
            ok = false;
        }

        string? Hook(string name)
        {
            if (map[name] is not { } n) return null;
            var p = ReadPath($"hooks.{name}", n);
            ok &= p is not null;
            return p;
        }

        var hooks = new HookSet(Hook("init"), Hook("warmup"), Hook("healthcheck"));
        return ok ? hooks : null;
    }

    /// <summary>Optional <c>deterministic: true|false</c> (default false): the same input always gets the same answer.</summary>
    private bool? ReadDeterministic(YNode? node)
    {
        if (node is null) return false;
        if (node is YScalar { IsNull: false } s && s.AsBool() is { } b) return b;
        findings.Error(ManifestCodes.WrongType, "deterministic", node, $"'deterministic' must be true or false, found {node.Description}",
            "write `deterministic: true` when the same input always gets the same answer (the gateway then spot-checks nodes against each other), or leave it out");
        return null;
    }

    private TimeSpan? ReadTimeout(YNode? node)
    {
        if (node is null) return ModelManifest.DefaultReadinessTimeout;
        if (Scalar("timeout", node, "a duration") is not { } s) return null;
        if (Quantity.TryParseTimeout(s.Value, s.AsNumber(), out var v, out _)) return v;
        findings.Error(ManifestCodes.InvalidTimeout, "timeout", s, $"timeout '{s.Value}' is not a duration between 1ms and 10m",
            "write e.g. 3s, 500ms or 2m (the time the port has to accept connections)");
        return null;
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Semver;
using YamlDotNet.Core;

namespace InfraMind.Manifest;

/// <summary>Reads and validates a model package: model.yaml, its schemas, hooks and Dockerfile, collecting every finding.</summary>
public static partial class ManifestReader
{
    public const string FileName = "model.yaml";

    /// <summary>No honest manifest comes near this; anything larger is refused before it is read into memory.</summary>
    public const long MaxManifestBytes = 1024 * 1024;

    internal static readonly string[] TopLevelKeys =
        ["name", "version", "entrypoint", "runtime", "protocol", "port", "resources", "input_schema", "output_schema", "hooks", "timeout"];

    internal static readonly string[] RequiredKeys =
        ["name", "version", "entrypoint", "runtime", "protocol", "port", "input_schema", "output_schema"];

    private static readonly string[] ResourceKeys = ["cpu", "memory", "gpu"];

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z][a-z0-9_+-]*?[0-9]+(\.[0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RuntimePattern();

    /// <summary>Validates a package directory or a manifest file.</summary>
    public static ManifestValidation Validate(string path)
    {
        var full = Path.GetFullPath(path);
        string manifestPath, packageDir;
        if (Directory.Exists(full))
        {
            packageDir = full;
            manifestPath = Path.Combine(full, FileName);
            if (!File.Exists(manifestPath))
            {
                return Fail(manifestPath, packageDir, ManifestCodes.ManifestMissing, $"no {FileName} in {path}",
                    $"create one with `infra init NAME`, or pass the path of the manifest file");
            }
        }
        else if (File.Exists(full))
        {
            manifestPath = full;
            packageDir = Path.GetDirectoryName(full)!;
        }
        else
        {
            return Fail(full, Path.GetDirectoryName(full) ?? full, ManifestCodes.PathNotFound, $"{path} does not exist",
                "pass a package directory (containing model.yaml) or a model.yaml file");
        }

        return new Reader(manifestPath, packageDir, null).Run();
    }

    /// <summary>
    /// Validates manifest bytes that travel without their package (from a registry entry): every rule except the
    /// ones about files (entrypoint and hooks must only be relative paths inside a package, no schema files, no Dockerfile).
    /// </summary>
    public static ManifestValidation ValidateContent(byte[] content, string sourceName = FileName) =>
        new Reader(sourceName, null, content).Run();

    private static ManifestValidation Fail(string manifestPath, string dir, string code, string message, string hint) =>
        new(manifestPath, dir, null, null,
            [new ManifestDiagnostic(code, DiagnosticSeverity.Error, "", Path.GetFileName(manifestPath), 0, 0, message, hint)]);

    /// <summary>The closest known name within two edits, for "did you mean".</summary>
    internal static string? Suggest(string given, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var k in known)
        {
            var d = Levenshtein(given.ToLowerInvariant().Replace('-', '_'), k);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = k;
            }
        }

        return bestDistance <= Math.Max(2, given.Length / 3) ? best : null;
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }

    private sealed class Reader(string manifestPath, string? packageDir, byte[]? content)
    {
        private readonly List<ManifestDiagnostic> _diagnostics = [];
        private readonly string _file = Path.GetFileName(manifestPath);

        public ManifestValidation Run()
        {
            var (text, digest) = ReadText();
            if (text is null) return Result(digest, null);

            var root = Parse(text);
            if (root is null) return Result(digest, null);
            if (root is not YMapping map)
            {
                Error(ManifestCodes.NotAMapping, "", root, $"{_file} must be a mapping of fields, found a {Describe(root)}",
                    "start with `name: my-model` and one `key: value` per line");
                return Result(digest, null);
            }

            var manifest = ReadManifest(map, digest!);
            if (manifest is not null) CheckDockerfile(manifest);
            return Result(digest, _diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error) ? null : manifest);
        }

        private ManifestValidation Result(string? digest, ModelManifest? manifest) =>
            new(manifestPath, packageDir ?? "", digest, manifest, _diagnostics);

        private (string? Text, string? Digest) ReadText()
        {
            byte[] bytes;
            try
            {
                var length = content?.LongLength ?? new FileInfo(manifestPath).Length;
                if (length > MaxManifestBytes)
                {
                    Error(ManifestCodes.FileTooLarge, "", null,
                        $"{_file} is {length:N0} bytes; the limit is {MaxManifestBytes:N0}",
                        "a manifest describes the model; keep weights and data in the image, large schemas in schema files");
                    return (null, null);
                }

                bytes = content ?? File.ReadAllBytes(manifestPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Error(ManifestCodes.PathNotFound, "", null, $"cannot read {_file}: {e.Message}", "check the file's permissions");
                return (null, null);
            }

            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (bytes.Length == 0 || bytes.All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                Error(ManifestCodes.EmptyFile, "", null, $"{_file} is empty", "run `infra init NAME` to start from a complete package");
                return (null, digest);
            }

            var nul = Array.IndexOf(bytes, (byte)0);
            string text;
            try
            {
                if (nul >= 0) throw new DecoderFallbackException("NUL byte");
                text = new UTF8Encoding(false, true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                var (line, col) = nul >= 0 ? Position(bytes, nul) : (0, 0);
                Error(ManifestCodes.NotText, "", null, $"{_file} is not UTF-8 text" + (nul >= 0 ? " (it contains NUL bytes)" : ""),
                    "model.yaml must be a UTF-8 YAML text file", line, col);
                return (null, digest);
            }

            return (text.TrimStart('\uFEFF'), digest);
        }

        private static (int Line, int Column) Position(byte[] bytes, int offset)
        {
            int line = 1, col = 1;
            for (var i = 0; i < offset; i++)
            {
                if (bytes[i] == '\n')
                {
                    line++;
                    col = 1;
                }
                else col++;
            }

            return (line, col);
        }

        private YNode? Parse(string text)
        {
            var lines = text.Split('\n');
            var tabs = false;
            for (var i = 0; i < lines.Length; i++)
            {
                var indent = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
                var tab = lines[i].IndexOf('\t', 0, indent);
                if (tab < 0) continue;
                tabs = true;
                Error(ManifestCodes.TabIndentation, "", null, "a tab is used for indentation; YAML allows only spaces",
                    "replace the tab with spaces (set your editor to indent YAML with 2 spaces)", i + 1, tab + 1);
            }

            if (tabs) return null;
            YamlTreeReader.Result result;
            try
            {
                result = YamlTreeReader.Read(text);
            }
            catch (Exception e) when (e is not YamlException && e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
            {
                // YamlDotNet's scanner throws these (not YamlException) on a few malformed inputs, e.g. an unclosed flow sequence.
                Error(ManifestCodes.YamlSyntax, "", null, "YAML syntax error: the document ends inside an unclosed construct or is malformed",
                    "check that every [ { and quote is closed, and that indentation is consistent");
                return null;
            }
            catch (YamlException e)
            {
                var message = (e.InnerException?.Message ?? e.Message).Trim();
                var at = message.IndexOf("): ", StringComparison.Ordinal);
                if (message.StartsWith('(') && at > 0) message = message[(at + 3)..];
                Error(ManifestCodes.YamlSyntax, "", null, $"YAML syntax error: {message}",
                    "check indentation, colons after keys, and that quotes and brackets are closed",
                    (int)e.Start.Line, (int)e.Start.Column);
                return null;
            }

            foreach (var (line, col, key, first) in result.Duplicates)
            {
                Error(ManifestCodes.DuplicateKey, key, null, $"'{key}' appears twice (first on line {first})",
                    "keep one of them; YAML mappings cannot repeat a key", line, col);
            }

            if (result.MultipleDocuments)
            {
                Error(ManifestCodes.MultipleDocuments, "", null, $"{_file} holds more than one YAML document ('---')",
                    "keep one manifest per package");
            }

            if (result.Root is null || result.Root is YScalar { IsNull: true })
            {
                Error(ManifestCodes.EmptyFile, "", result.Root, $"{_file} has no fields", "run `infra init NAME` to start from a complete package");
                return null;
            }

            return result.Root;
        }

        private ModelManifest? ReadManifest(YMapping map, string digest)
        {
            foreach (var (key, _) in map.Entries)
            {
                if (TopLevelKeys.Contains(key.Value)) continue;
                var suggestion = Suggest(key.Value, TopLevelKeys);
                Error(ManifestCodes.UnknownField, key.Value, key, $"unknown field '{key.Value}'",
                    suggestion is not null ? $"did you mean '{suggestion}'?" : $"known fields: {string.Join(", ", TopLevelKeys)}");
            }

            foreach (var key in RequiredKeys.Where(k => map[k] is null))
            {
                Error(ManifestCodes.MissingField, key, null, $"required field '{key}' is missing", $"add `{key}: …` ({Explain(key)})",
                    map.Line, map.Column);
            }

            var name = ReadName(map["name"]);
            var version = ReadVersion(map["version"]);
            var entrypoint = ReadPath("entrypoint", map["entrypoint"]);
            var runtime = ReadRuntime(map["runtime"]);
            var protocol = ReadProtocol(map["protocol"]);
            var port = ReadPort(map["port"]);
            var resources = ReadResources(map["resources"]);
            var input = ReadSchema("input_schema", map["input_schema"]);
            var output = ReadSchema("output_schema", map["output_schema"]);
            var hooks = ReadHooks(map["hooks"]);
            var timeout = ReadTimeout(map["timeout"]);

            if (name is null || version is null || entrypoint is null || runtime is null || protocol is null || port is null ||
                resources is null || input is null || output is null || hooks is null || timeout is null)
            {
                return null;
            }

            return new ModelManifest(name, version, entrypoint, runtime, protocol.Value, port.Value, resources, input, output,
                hooks, timeout.Value, digest);
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
            Error(ManifestCodes.WrongType, path, node, $"'{path}' must be {expected}, found {Describe(node)}",
                $"write `{path}: …` with {expected}");
            return null;
        }

        private string? ReadName(YNode? node)
        {
            if (Scalar("name", node, "a string") is not { } s) return null;
            if (s.Value.Length <= 63 && DnsLabel().IsMatch(s.Value)) return s.Value;
            var fixedName = Regex.Replace(s.Value.ToLowerInvariant(), "[^a-z0-9-]+", "-").Trim('-');
            if (fixedName.Length > 63) fixedName = fixedName[..63].Trim('-');
            Error(ManifestCodes.InvalidName, "name", s,
                s.Value.Length > 63 ? $"name is {s.Value.Length} characters; the limit is 63" : $"name '{s.Value}' is not a lowercase DNS label",
                $"use lowercase letters, digits and '-', starting and ending with a letter or digit" +
                (fixedName.Length > 0 ? $", e.g. '{fixedName}'" : ""));
            return null;
        }

        private SemVersion? ReadVersion(YNode? node)
        {
            if (Scalar("version", node, "a SemVer string") is not { } s) return null;
            if (SemVersion.TryParse(s.Value, SemVersionStyles.Strict, out var v)) return v;
            var hint = s.Value.StartsWith('v') ? $"drop the 'v': '{s.Value[1..]}'" :
                s.Value.Count(c => c == '.') < 2 && !s.Quoted ? $"SemVer needs MAJOR.MINOR.PATCH, e.g. '{s.Value}.0'" :
                "use MAJOR.MINOR.PATCH with an optional -prerelease and +build, e.g. 0.4.2 or 1.0.0-rc.1";
            Error(ManifestCodes.InvalidVersion, "version", s, $"version '{s.Value}' is not SemVer 2.0", hint);
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
                    Error(ManifestCodes.FileNotInPackage, path, s, detail, "create the file or fix the path (relative to the package directory)");
                    return null;
                case PackagePaths.Problem.Escapes:
                    Error(ManifestCodes.PathEscapes, path, s, detail, "copy the file into the package instead of linking outside it");
                    return null;
                default:
                    Error(ManifestCodes.InvalidPath, path, s, detail, "write a path relative to the package directory, such as hooks/init.sh");
                    return null;
            }
        }

        private string? ReadRuntime(YNode? node)
        {
            if (Scalar("runtime", node, "a string") is not { } s) return null;
            if (s.Value == "custom" || RuntimePattern().IsMatch(s.Value)) return s.Value;
            Error(ManifestCodes.InvalidRuntime, "runtime", s, $"runtime '{s.Value}' is not <language><version> or 'custom'",
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
                    Error(ManifestCodes.InvalidProtocol, "protocol", s, $"protocol '{s.Value}' is not supported",
                        lower is "rest" or "grpc" ? $"write it in lowercase: '{lower}'" : "use rest (POST / with JSON) or grpc");
                    return null;
            }
        }

        private int? ReadPort(YNode? node)
        {
            if (Scalar("port", node, "an integer") is not { } s) return null;
            if (s.AsInteger() is not { } p)
            {
                Error(ManifestCodes.WrongType, "port", s, $"port must be an integer, found {s.TypeName} '{s.Value}'",
                    s.Quoted ? "remove the quotes" : "write the port number, such as 9000");
                return null;
            }

            if (p is >= 1 and <= 65535) return (int)p;
            Error(ManifestCodes.InvalidPort, "port", s, $"port {p} is out of range", "use a port between 1 and 65535, such as 9000");
            return null;
        }

        private ResourceRequest? ReadResources(YNode? node)
        {
            if (node is null) return ResourceRequest.Default;
            if (node is not YMapping map)
            {
                Error(ManifestCodes.WrongType, "resources", node, $"'resources' must be a mapping, found {Describe(node)}",
                    "write `resources: {cpu: 1, memory: 512Mi, gpu: false}`");
                return null;
            }

            foreach (var (key, _) in map.Entries.Where(e => !ResourceKeys.Contains(e.Key.Value)))
            {
                var suggestion = Suggest(key.Value, ResourceKeys);
                Error(ManifestCodes.UnknownField, $"resources.{key.Value}", key, $"unknown resource '{key.Value}'",
                    suggestion is not null ? $"did you mean '{suggestion}'?" : "known resources: cpu, memory, gpu");
            }

            var ok = true;
            long cpu = ResourceRequest.Default.CpuMillicores, memory = ResourceRequest.Default.MemoryBytes;
            var gpu = 0;
            if (map["cpu"] is { } cpuNode)
            {
                var err = cpuNode is YScalar { IsNull: false } c && c.AsBool() is null
                    ? Quantity.TryParseMillicores(c.Value, out cpu, out var e) ? null : e
                    : $"found {Describe(cpuNode)}";
                if (err is not null)
                {
                    Error(ManifestCodes.InvalidCpu, "resources.cpu", cpuNode, $"cpu: {err}",
                        "give cores as a number greater than 0 (2, 0.5) or millicores (500m)");
                    ok = false;
                }
            }

            if (map["memory"] is { } memNode)
            {
                var err = memNode is YScalar { IsNull: false } m && m.AsBool() is null
                    ? Quantity.TryParseBytes(m.Value, out memory, out var e) ? null : e
                    : $"found {Describe(memNode)}";
                if (err is not null)
                {
                    Error(ManifestCodes.InvalidMemory, "resources.memory", memNode, $"memory: {err}",
                        "give a Kubernetes quantity greater than 0, such as 512Mi, 4Gi or 1G");
                    ok = false;
                }
            }

            if (map["gpu"] is { } gpuNode)
            {
                var g = gpuNode as YScalar;
                if (g?.AsBool() is { } b) gpu = b ? 1 : 0;
                else if (g?.AsInteger() is { } n and >= 0 and <= 64) gpu = (int)n;
                else
                {
                    Error(ManifestCodes.InvalidGpu, "resources.gpu", gpuNode,
                        $"gpu must be true, false or a non-negative count, found {(g is null ? Describe(gpuNode) : $"'{g.Value}'")}",
                        "write gpu: false, gpu: true (one GPU) or gpu: 2");
                    ok = false;
                }
            }

            return ok ? new ResourceRequest(cpu, memory, gpu) : null;
        }

        private HookSet? ReadHooks(YNode? node)
        {
            if (node is null || node is YScalar { IsNull: true }) return HookSet.None;
            if (node is not YMapping map)
            {
                Error(ManifestCodes.WrongType, "hooks", node, $"'hooks' must be a mapping, found {Describe(node)}",
                    "write `hooks: {init: hooks/init.sh, healthcheck: hooks/health.sh}`");
                return null;
            }

            var ok = true;
            foreach (var (key, _) in map.Entries.Where(e => !HookSet.Names.Contains(e.Key.Value)))
            {
                var suggestion = Suggest(key.Value, HookSet.Names);
                Error(ManifestCodes.UnknownHook, $"hooks.{key.Value}", key, $"unknown hook '{key.Value}'",
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

        private TimeSpan? ReadTimeout(YNode? node)
        {
            if (node is null) return ModelManifest.DefaultReadinessTimeout;
            if (Scalar("timeout", node, "a duration") is not { } s) return null;
            if (Quantity.TryParseTimeout(s.Value, s.AsNumber(), out var v, out _)) return v;
            Error(ManifestCodes.InvalidTimeout, "timeout", s, $"timeout '{s.Value}' is not a duration between 1ms and 10m",
                "write e.g. 3s, 500ms or 2m (the time the port has to accept connections)");
            return null;
        }

        private ModelSchema? ReadSchema(string field, YNode? node)
        {
            if (node is null) return null;
            if (node is not YMapping map)
            {
                Error(ManifestCodes.WrongType, field, node, $"'{field}' must be a JSON Schema object, found {Describe(node)}",
                    $"write `{field}: {{type: object, properties: {{…}}}}` or `{field}: {{$ref: schemas/file.json}}`");
                return null;
            }

            var file = _file;
            YNode schemaNode = map;
            var basePath = field;
            if (map.Entries.Count == 1 && map["$ref"] is YScalar { IsNull: false } refNode && !refNode.Value.StartsWith('#'))
            {
                if (packageDir is null)
                {
                    Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", refNode, $"{field} refers to the file {refNode.Value}, which is not part of this manifest",
                        "publish the resolved manifest (schemas inlined), as `infra publish` does");
                    return null;
                }

                var (problem, detail) = PackagePaths.Check(packageDir, refNode.Value);
                if (problem != PackagePaths.Problem.None)
                {
                    Error(problem == PackagePaths.Problem.Missing ? ManifestCodes.FileNotInPackage :
                        problem == PackagePaths.Problem.Escapes ? ManifestCodes.PathEscapes : ManifestCodes.InvalidPath,
                        $"{field}.$ref", refNode, detail, "point $ref at a JSON or YAML schema file inside the package");
                    return null;
                }

                file = refNode.Value;
                basePath = "";
                var loaded = LoadSchemaFile(field, refNode);
                if (loaded is null) return null;
                schemaNode = loaded;
            }

            var document = ToJson(schemaNode);
            var errorsBefore = _diagnostics.Count;
            if (document is not JsonObject obj)
            {
                Error(ManifestCodes.SchemaNotObject, field, schemaNode, $"{field} must be a JSON object schema", "write `type: object` with properties", file: file);
                return null;
            }

            if (obj["$schema"] is JsonValue dialect && dialect.TryGetValue<string>(out var d) &&
                !d.TrimEnd('#').EndsWith("draft-07/schema", StringComparison.Ordinal))
            {
                Error(ManifestCodes.SchemaDialect, Join(basePath, "$schema", field), Locate(schemaNode, "/$schema"),
                    $"{field} declares $schema '{d}'; InfraMind schemas are JSON Schema draft-07",
                    "use \"http://json-schema.org/draft-07/schema#\" or leave $schema out", file: file);
            }

            foreach (var group in ModelSchema.CheckAgainstDraft07(obj).GroupBy(v => v.Pointer))
            {
                var pointer = group.Key;
                var message = pointer.EndsWith("/type", StringComparison.Ordinal)
                    ? "'type' must be one of string, number, integer, boolean, object, array, null, or a list of them"
                    : string.Join("; ", group.Select(v => v.Message));
                Error(ManifestCodes.SchemaInvalid, Join(basePath, PointerToPath(pointer), field), Locate(schemaNode, pointer),
                    $"{field} is not a valid draft-07 schema at {(pointer.Length == 0 ? "/" : pointer)}: {message}",
                    "see https://json-schema.org/draft-07 for the keywords and their types", file: file);
            }

            CheckRefs(field, basePath, file, schemaNode, obj, obj, "");

            var type = obj["type"];
            var isObject = type is JsonValue tv && tv.TryGetValue<string>(out var t) && t == "object";
            if (!isObject)
            {
                Error(ManifestCodes.SchemaNotObject, Join(basePath, "type", field), type is null ? schemaNode : Locate(schemaNode, "/type"),
                    $"the top-level type of {field} must be 'object'" + (type is null ? " (it has no type)" : $", found {type.ToJsonString()}"),
                    "models take and return JSON objects: write `type: object` with properties", file: file);
            }

            if (_diagnostics.Count > errorsBefore) return null;
            try
            {
                return ModelSchema.Create(obj);
            }
            catch (Exception e) when (e is Json.Schema.JsonSchemaException or InvalidOperationException or ArgumentException or FormatException)
            {
                Error(ManifestCodes.SchemaRefUnresolved, field, schemaNode, $"{field} cannot be compiled: {e.Message}",
                    "check every $ref points at a definition inside the schema", file: file);
                return null;
            }
        }

        private YNode? LoadSchemaFile(string field, YScalar refNode)
        {
            var path = Path.Combine(packageDir!, refNode.Value);
            var info = new FileInfo(path);
            if (info.Length > MaxManifestBytes)
            {
                Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", refNode, $"{refNode.Value} is larger than {MaxManifestBytes:N0} bytes",
                    "schemas describe documents; keep them small");
                return null;
            }

            try
            {
                var text = new UTF8Encoding(false, true).GetString(File.ReadAllBytes(path)).TrimStart('\uFEFF');
                if (text.Contains('\0', StringComparison.Ordinal)) throw new DecoderFallbackException("NUL");
                // JSON is (nearly) a subset of YAML: reading it with the YAML reader keeps line:column for errors.
                var result = YamlTreeReader.Read(text.Replace("\t", "  ", StringComparison.Ordinal));
                if (result.Root is null) throw new YamlException("the file is empty");
                foreach (var (line, col, key, first) in result.Duplicates)
                {
                    Error(ManifestCodes.DuplicateKey, key, null, $"'{key}' appears twice (first on line {first})",
                        "keep one of them", line, col, refNode.Value);
                }

                return result.Root;
            }
            catch (Exception e) when (e is YamlException or DecoderFallbackException or IOException or UnauthorizedAccessException)
            {
                var (line, col) = e is YamlException { Start.Line: > 0 } y ? ((int)y.Start.Line, (int)y.Start.Column) : (0, 0);
                Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", null, $"{refNode.Value} is not a readable JSON/YAML schema: {e.Message}",
                    "write the schema as a JSON object", line, col, refNode.Value);
                return null;
            }
        }

        private void CheckRefs(string field, string basePath, string file, YNode schemaNode, JsonObject root, JsonNode? node, string pointer)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o)
                    {
                        var child = $"{pointer}/{key.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}";
                        if (key == "$ref" && value is JsonValue rv && rv.TryGetValue<string>(out var target))
                        {
                            if (!ResolveRef(root, target))
                            {
                                Error(ManifestCodes.SchemaRefUnresolved, Join(basePath, PointerToPath(child), field), Locate(schemaNode, child),
                                    target.StartsWith('#') ? $"$ref '{target}' points at nothing in {field}"
                                        : $"$ref '{target}' points outside the schema; only the whole {field} may be a file",
                                    target.StartsWith('#') ? "add the definition under `definitions:` or fix the pointer"
                                        : $"copy the definition under `definitions:` and use '#/definitions/NAME'", file: file);
                            }
                        }
                        else if (key is not ("enum" or "const" or "examples" or "default"))
                        {
                            CheckRefs(field, basePath, file, schemaNode, root, value, child);
                        }
                    }

                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++) CheckRefs(field, basePath, file, schemaNode, root, a[i], $"{pointer}/{i}");
                    break;
            }
        }

        private static bool ResolveRef(JsonObject root, string target)
        {
            if (target == "#") return true;
            if (!target.StartsWith("#/", StringComparison.Ordinal))
            {
                // Draft-07 plain-name fragments: "#foo" names a subschema with "$id": "#foo".
                return target.StartsWith('#') && Contains(root, n => n is JsonObject o && o["$id"] is JsonValue id && id.TryGetValue<string>(out var s) && s == target);
            }

            JsonNode? current = root;
            foreach (var raw in target[2..].Split('/'))
            {
                var seg = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                current = current switch
                {
                    JsonObject o => o.TryGetPropertyValue(seg, out var v) ? v : null,
                    JsonArray a when int.TryParse(seg, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                    _ => null,
                };
                if (current is null) return false;
            }

            return true;
        }

        private static bool Contains(JsonNode? node, Func<JsonNode, bool> predicate) => node switch
        {
            null => false,
            _ when predicate(node) => true,
            JsonObject o => o.Any(p => Contains(p.Value, predicate)),
            JsonArray a => a.Any(x => Contains(x, predicate)),
            _ => false,
        };

        private void CheckDockerfile(ModelManifest manifest)
        {
            if (packageDir is null) return;
            var path = Path.Combine(packageDir, "Dockerfile");
            if (!File.Exists(path))
            {
                Error(ManifestCodes.DockerfileMissing, "", null, $"no Dockerfile in {packageDir}",
                    "add a Dockerfile that copies the package and starts the entrypoint (`infra init` writes one)", file: "Dockerfile");
                return;
            }

            var dockerfile = Dockerfile.Read(path);
            if (dockerfile.ExposedPorts.Count > 0 && !dockerfile.ExposedPorts.Any(p => p.Port == manifest.Port))
            {
                var first = dockerfile.ExposedPorts[0];
                Warning(ManifestCodes.ExposeMismatch, "port", "Dockerfile", first.Line,
                    $"the Dockerfile exposes {string.Join(", ", dockerfile.ExposedPorts.Select(p => p.Port))} but model.yaml declares port {manifest.Port}",
                    $"make them agree: `EXPOSE {manifest.Port}` or `port: {first.Port}`");
            }

            var entry = Path.GetFileName(manifest.Entrypoint);
            if (dockerfile.Command is { } cmd && !cmd.Text.Contains(entry, StringComparison.Ordinal))
            {
                Warning(ManifestCodes.CommandMismatch, "entrypoint", "Dockerfile", cmd.Line,
                    $"the Dockerfile's {cmd.Instruction} ({cmd.Text}) does not mention the entrypoint '{manifest.Entrypoint}'",
                    $"start the entrypoint, e.g. CMD [\"python3\", \"{manifest.Entrypoint}\"], or fix `entrypoint:`");
            }
        }

        private static string Join(string basePath, string sub, string field)
        {
            var prefix = basePath.Length > 0 ? basePath : field;
            return sub.Length == 0 ? prefix : $"{prefix}.{sub}";
        }

        private static string PointerToPath(string pointer) =>
            string.Join('.', pointer.Split('/', StringSplitOptions.RemoveEmptyEntries)
                .Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)));

        private static YNode? Locate(YNode root, string pointer)
        {
            var current = root;
            foreach (var raw in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var seg = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                YNode? next = current switch
                {
                    YMapping m => m.Entries.FirstOrDefault(e => e.Key.Value == seg) is { Key: not null } e ? (e.Value is YScalar ? e.Key : e.Value) : null,
                    YSequence s when int.TryParse(seg, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < s.Items.Count => s.Items[i],
                    _ => null,
                };
                if (next is null) break;
                current = next;
            }

            return current;
        }

        internal static JsonNode? ToJson(YNode node) => node switch
        {
            YScalar s when s.IsNull => null,
            YScalar s when s.AsBool() is { } b => JsonValue.Create(b),
            YScalar s when s.AsInteger() is { } l => JsonValue.Create(l),
            YScalar s when s.AsNumber() is { } d => JsonValue.Create(d),
            YScalar s => JsonValue.Create(s.Value),
            YMapping m => new JsonObject(m.Entries.Select(e => new KeyValuePair<string, JsonNode?>(e.Key.Value, ToJson(e.Value)))),
            YSequence q => new JsonArray(q.Items.Select(ToJson).ToArray()),
            _ => null,
        };

        private static string Describe(YNode node) => node switch
        {
            YMapping => "a mapping",
            YSequence => "a list",
            YScalar s => $"{(s.IsNull ? "nothing" : s.TypeName)} '{s.Value}'",
            _ => "something else",
        };

        private void Error(string code, string path, YNode? at, string message, string hint, int line = 0, int column = 0, string? file = null) =>
            _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Error, path, file ?? _file,
                at?.Line ?? line, at?.Column ?? column, message, hint));

        private void Warning(string code, string path, string file, int line, string message, string hint) =>
            _diagnostics.Add(new ManifestDiagnostic(code, DiagnosticSeverity.Warning, path, file, line, line > 0 ? 1 : 0, message, hint));
    }
}

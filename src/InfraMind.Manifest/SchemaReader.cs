using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using YamlDotNet.Core;

namespace InfraMind.Manifest;

/// <summary>
/// Reads <c>input_schema</c> and <c>output_schema</c>: inline, or a whole-schema <c>$ref</c> to a JSON/YAML file in the
/// package. Checks the dialect (draft-07), the schema against the draft-07 meta-schema, that every inner <c>$ref</c>
/// resolves inside the schema, and that the top level is an object; every finding points at its line in the file it is in.
/// </summary>
/// <param name="schemaFiles">Without a package: the content of each field's schema file as the publisher resolved it.</param>
internal sealed class SchemaReader(ManifestFindings findings, string? packageDir, IReadOnlyDictionary<string, JsonObject>? schemaFiles = null)
{
    public ModelSchema? Read(string field, YNode? node)
    {
        if (node is null) return null;
        if (node is not YMapping map)
        {
            findings.Error(ManifestCodes.WrongType, field, node, $"'{field}' must be a JSON Schema object, found {node.Description}",
                $"write `{field}: {{type: object, properties: {{…}}}}` or `{field}: {{$ref: schemas/file.json}}`");
            return null;
        }

        var file = findings.File;
        YNode schemaNode = map;
        var basePath = field;
        JsonNode? provided = null;
        if (map.Entries.Count == 1 && map["$ref"] is YScalar { IsNull: false } refNode && !refNode.Value.StartsWith('#'))
        {
            if (packageDir is null && schemaFiles is not null && schemaFiles.TryGetValue(field, out var published))
            {
                // The file travels inside the published manifest: its content is checked here by the same rules.
                // Its findings name the file at no line: the JSON carries none, and the $ref's place is model.yaml's.
                provided = published.DeepClone();
                file = refNode.Value;
                basePath = "";
                schemaNode = refNode with { Line = 0, Column = 0 };
            }
            else if (packageDir is null)
            {
                findings.Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", refNode, $"{field} refers to the file {refNode.Value}, which is not part of this manifest",
                    "publish the resolved manifest (schemas inlined), as `infra publish` does");
                return null;
            }
            else
            {
                var (problem, detail) = PackagePaths.Check(packageDir, refNode.Value);
                if (problem != PackagePaths.Problem.None)
                {
                    findings.Error(problem == PackagePaths.Problem.Missing ? ManifestCodes.FileNotInPackage :
                        problem == PackagePaths.Problem.Escapes ? ManifestCodes.PathEscapes : ManifestCodes.InvalidPath,
                        $"{field}.$ref", refNode, detail, "point $ref at a JSON or YAML schema file inside the package");
                    return null;
                }

                file = refNode.Value;
                basePath = "";
                var loaded = LoadFile(field, refNode, packageDir);
                if (loaded is null) return null;
                schemaNode = loaded;
            }
        }

        // Converted with a budget: a YAML alias stands for its whole anchored node, so a kilobyte of aliases can stand
        // for billions of values; conversion stops one value past the bound (the finding below) instead of expanding them.
        var budget = ModelSchema.MaxValues + 1;
        var document = provided ?? ToJson(schemaNode, ref budget);
        var errorsBefore = findings.Count;
        if (document is not JsonObject obj)
        {
            findings.Error(ManifestCodes.SchemaNotObject, field, schemaNode, $"{field} must be a JSON object schema", "write `type: object` with properties", file: file);
            return null;
        }

        if (budget == TooDeep)
        {
            findings.Error(ManifestCodes.SchemaTooLarge, field, schemaNode,
                $"{field} nests deeper than {MaxDepth} levels once its YAML aliases are expanded (an alias stands for its whole anchored node)",
                "nest less: describe a deep shape once and point at it with a $ref to a definition", file: file);
            return null;
        }

        // Counted before anything else reads it (the meta-schema, the compiler): what a schema costs is bounded first.
        if (budget < 0 || ModelSchema.CountValues(obj) > ModelSchema.MaxValues)
        {
            findings.Error(ManifestCodes.SchemaTooLarge, field, schemaNode,
                $"{field} holds more than {ModelSchema.MaxValues:N0} values (objects, arrays and scalars, keywords' values included); every gateway and node keeps each version's schemas compiled, so their size is bounded",
                "describe repeated shapes once (items, additionalProperties, patternProperties, a $ref to a definition) rather than every field one by one", file: file);
            return null;
        }

        if (obj["$schema"] is JsonValue dialect && dialect.TryGetValue<string>(out var d) &&
            !d.TrimEnd('#').EndsWith("draft-07/schema", StringComparison.Ordinal))
        {
            findings.Error(ManifestCodes.SchemaDialect, Join(basePath, "$schema", field), Locate(schemaNode, "/$schema"),
                $"{field} declares $schema '{d}'; InfraMind schemas are JSON Schema draft-07",
                "use \"http://json-schema.org/draft-07/schema#\" or leave $schema out", file: file);
        }

        foreach (var group in ModelSchema.CheckAgainstDraft07(obj).GroupBy(v => v.Pointer))
        {
            var pointer = group.Key;
            var message = pointer.EndsWith("/type", StringComparison.Ordinal)
                ? "'type' must be one of string, number, integer, boolean, object, array, null, or a list of them"
                : string.Join("; ", group.Select(v => v.Message));
            findings.Error(ManifestCodes.SchemaInvalid, Join(basePath, PointerToPath(pointer), field), Locate(schemaNode, pointer),
                $"{field} is not a valid draft-07 schema at {(pointer.Length == 0 ? "/" : pointer)}: {message}",
                "see https://json-schema.org/draft-07 for the keywords and their types", file: file);
        }

        var refs = new RefCheck(findings, field, basePath, file, schemaNode, obj);
        refs.Check(obj, "");
        if (findings.Count == errorsBefore) refs.CheckCycles();
        if (findings.Count == errorsBefore) refs.CheckFanOut();
        var patterns = Patterns(obj, "").ToList();
        CheckPatterns(patterns, field, basePath, file, schemaNode);
        var distinct = patterns.Sum(p => SchemaPatterns.Distinct(p.Text));
        if (patterns.Count > SchemaPatterns.MaxPerSchema || distinct > SchemaPatterns.MaxDistinctPerSchema)
        {
            findings.Error(ManifestCodes.SchemaTooLarge, field, schemaNode,
                $"{field} holds {patterns.Count} patterns naming {distinct} distinct characters and classes in all; at most " +
                $"{SchemaPatterns.MaxPerSchema} patterns naming {SchemaPatterns.MaxDistinctPerSchema} are accepted: every gateway and node compiles and keeps each one",
                "describe the strings with fewer patterns: one pattern with a class or a range (such as [a-z] or \\p{L}) rather than many", file: file);
        }

        var type = obj["type"];
        var isObject = type is JsonValue tv && tv.TryGetValue<string>(out var t) && t == "object";
        if (!isObject)
        {
            findings.Error(ManifestCodes.SchemaNotObject, Join(basePath, "type", field), type is null ? schemaNode : Locate(schemaNode, "/type"),
                $"the top-level type of {field} must be 'object'" + (type is null ? " (it has no type)" : $", found {type.ToJsonString()}"),
                "models take and return JSON objects: write `type: object` with properties", file: file);
        }

        if (findings.Count > errorsBefore) return null;
        try
        {
            return ModelSchema.Create(obj);
        }
        catch (Exception e) when (e is Json.Schema.JsonSchemaException or InvalidOperationException or ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            findings.Error(ManifestCodes.SchemaRefUnresolved, field, schemaNode, $"{field} cannot be compiled: {e.Message}",
                "check every $ref points at a definition inside the schema", file: file);
            return null;
        }
    }

    /// <summary>
    /// Every <c>pattern</c> and <c>patternProperties</c> key must be one <see cref="SchemaPatterns"/> accepts: matched in
    /// linear time wherever the schema is used. A finding per pattern, at its line (a key's, not the schema it maps to).
    /// </summary>
    private void CheckPatterns(List<(string Text, string Pointer, bool IsKey)> patterns, string field, string basePath, string file, YNode schemaNode)
    {
        foreach (var (text, pointer, isKey) in patterns)
        {
            var at = isKey
                ? (Locate(schemaNode, pointer[..pointer.LastIndexOf('/')]) as YMapping)?.Entries.FirstOrDefault(e => e.Key.Value == text).Key
                : Locate(schemaNode, pointer);
            PatternFinding(text, pointer, field, basePath, file, at ?? schemaNode);
        }
    }

    /// <summary>
    /// Every pattern of a schema with its pointer: <c>pattern</c> values, and <c>patternProperties</c> keys
    /// (<c>IsKey</c>); the values of enum, const, examples and default are data, not schemas. In a map of names
    /// (<paramref name="names"/>: properties, definitions …) a key is a name, whatever it spells.
    /// </summary>
    private static IEnumerable<(string Text, string Pointer, bool IsKey)> Patterns(JsonNode? node, string pointer, bool names = false)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    var child = $"{pointer}/{EscapePointer(key)}";
                    if (names)
                    {
                        foreach (var inner in Patterns(value, child)) yield return inner;
                    }
                    else if (key == "pattern" && value is JsonValue pv && pv.TryGetValue<string>(out var pattern))
                    {
                        yield return (pattern, child, false);
                    }
                    else if (!IsData(key))
                    {
                        if (key == "patternProperties" && value is JsonObject map)
                            foreach (var (name, _) in map) yield return (name, $"{child}/{EscapePointer(name)}", true);
                        foreach (var inner in Patterns(value, child, IsNameMap(key))) yield return inner;
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                    foreach (var inner in Patterns(a[i], $"{pointer}/{i}")) yield return inner;
                break;
        }
    }

    /// <summary>A keyword whose value is data (an instance), not a schema: nothing in it is a pattern, a $ref or a subschema.</summary>
    private static bool IsData(string key) => key is "enum" or "const" or "examples" or "default";

    /// <summary>
    /// A keyword whose value maps names to schemas: a name there is any string, so a property called "default", "enum",
    /// "$ref" or "pattern" is a property like any other, and its schema is read (before, its schema was skipped as data:
    /// unchecked patterns and $refs, and an internal error in the fan-out check).
    /// </summary>
    private static bool IsNameMap(string key) => key is "properties" or "patternProperties" or "definitions" or "dependencies";

    private void PatternFinding(string pattern, string pointer, string field, string basePath, string file, YNode at)
    {
        if (SchemaPatterns.Problem(pattern) is not { } problem) return;
        findings.Error(ManifestCodes.SchemaPatternUnsafe, Join(basePath, PointerToPath(pointer), field), at,
            $"{field}: '{Shorten(pattern)}': {problem}",
            "write the pattern without backreferences, lookarounds or atomic groups, and with small repeat counts: patterns are matched in linear time", file: file);
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    private static string EscapePointer(string key) => key.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>
    /// How deep a schema may nest once its YAML aliases are expanded: a YAML document nests at most 64 levels, but an
    /// alias stands for its whole anchored node, so an anchor 46 deep used 45 deep makes a schema 91 deep, which JSON
    /// writers (64 by default) refuse with an exception.
    /// </summary>
    internal const int MaxDepth = 64;

    // The budget a conversion ends with when it found the schema too deep (a budget that ran out ends at -1).
    private const int TooDeep = int.MinValue;

    /// <summary>
    /// The YAML node as JSON, at most <paramref name="budget"/> values of it (below zero when it holds more;
    /// <see cref="TooDeep"/> when it nests deeper than <see cref="MaxDepth"/>).
    /// </summary>
    private static JsonNode? ToJson(YNode node, ref int budget, int depth = 1)
    {
        if (--budget < 0) return null;
        if (depth > MaxDepth)
        {
            budget = TooDeep;
            return null;
        }

        switch (node)
        {
            case YScalar s when s.IsNull:
                return null;
            case YScalar s when s.AsBool() is { } b:
                return JsonValue.Create(b);
            case YScalar s when s.AsInteger() is { } l:
                return JsonValue.Create(l);
            case YScalar s when s.AsNumber() is { } d:
                return JsonValue.Create(d);
            case YScalar s:
                return JsonValue.Create(s.Value);
            case YMapping m:
                var o = new JsonObject();
                foreach (var e in m.Entries)
                {
                    o.Add(e.Key.Value, ToJson(e.Value, ref budget, depth + 1));
                    if (budget < 0) break;
                }

                return o;
            case YSequence q:
                var a = new JsonArray();
                foreach (var item in q.Items)
                {
                    a.Add(ToJson(item, ref budget, depth + 1));
                    if (budget < 0) break;
                }

                return a;
            default:
                return null;
        }
    }

    private YNode? LoadFile(string field, YScalar refNode, string packageDir)
    {
        var path = Path.Combine(packageDir, refNode.Value);
        var info = new FileInfo(path);
        if (info.Length > ManifestReader.MaxManifestBytes)
        {
            findings.Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", refNode, $"{refNode.Value} is larger than {ManifestReader.MaxManifestBytes:N0} bytes",
                "schemas describe documents; keep them small");
            return null;
        }

        try
        {
            // A length of 0 is also a FIFO's or a device's: never opened (reading one would block or never end).
            var text = new UTF8Encoding(false, true).GetString(info.Length == 0 ? [] : File.ReadAllBytes(path)).TrimStart('\uFEFF');
            if (text.Contains('\0', StringComparison.Ordinal)) throw new DecoderFallbackException("NUL");
            // JSON is (nearly) a subset of YAML: reading it with the YAML reader keeps line:column for errors.
            var result = YamlTreeReader.Read(text.Replace("\t", "  ", StringComparison.Ordinal));
            if (result.Root is null) throw new YamlException("the file is empty");
            foreach (var (line, col, key, first) in result.Duplicates)
            {
                findings.Error(ManifestCodes.DuplicateKey, key, null, $"'{key}' appears twice (first on line {first})",
                    "keep one of them", line, col, refNode.Value);
            }

            return result.Root;
        }
        catch (Exception e) when (e is YamlException or DecoderFallbackException or IOException or UnauthorizedAccessException)
        {
            var (line, col) = e is YamlException { Start.Line: > 0 } y ? ((int)y.Start.Line, (int)y.Start.Column) : (0, 0);
            findings.Error(ManifestCodes.SchemaFileInvalid, $"{field}.$ref", null, $"{refNode.Value} is not a readable JSON/YAML schema: {e.Message}",
                "write the schema as a JSON object", line, col, refNode.Value);
            return null;
        }
    }

    /// <summary>The manifest path of a place in the schema: the field (or, for a schema file, nothing) then the pointer's segments.</summary>
    private static string Join(string basePath, string sub, string field)
    {
        var prefix = basePath.Length > 0 ? basePath : field;
        return sub.Length == 0 ? prefix : $"{prefix}.{sub}";
    }

    private static string PointerToPath(string pointer) =>
        string.Join('.', pointer.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(UnescapePointer));

    private static string UnescapePointer(string segment) =>
        segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);

    /// <summary>The YAML node a JSON Pointer names (a scalar's key, so a finding points at the line that has it), or its nearest parent.</summary>
    private static YNode? Locate(YNode root, string pointer)
    {
        var current = root;
        foreach (var raw in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var seg = UnescapePointer(raw);
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

    /// <summary>Every <c>$ref</c> inside one schema must resolve inside it: a JSON Pointer fragment or a plain-name <c>$id</c>.</summary>
    private sealed class RefCheck(ManifestFindings findings, string field, string basePath, string file, YNode schemaNode, JsonObject root)
    {
        public void Check(JsonNode? node, string pointer, bool names = false)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (key, value) in o)
                    {
                        var child = $"{pointer}/{EscapePointer(key)}";
                        if (names)
                        {
                            Check(value, child);
                        }
                        else if (key == "$ref" && value is JsonValue rv && rv.TryGetValue<string>(out var target))
                        {
                            var resolved = Resolve(target);
                            if (resolved is null)
                            {
                                findings.Error(ManifestCodes.SchemaRefUnresolved, Join(basePath, PointerToPath(child), field), Locate(schemaNode, child),
                                    target.StartsWith('#') ? $"$ref '{target}' points at nothing in {field}"
                                        : $"$ref '{target}' points outside the schema; only the whole {field} may be a file",
                                    target.StartsWith('#') ? "add the definition under `definitions:` or fix the pointer"
                                        : $"copy the definition under `definitions:` and use '#/definitions/NAME'", file: file);
                            }
                            else if (NotASchema(resolved) is { } what)
                            {
                                findings.Error(ManifestCodes.SchemaRefUnresolved, Join(basePath, PointerToPath(child), field), Locate(schemaNode, child),
                                    $"$ref '{target}' points at {what}, not at a schema", "point at a schema, such as a definition: '#/definitions/NAME'", file: file);
                            }
                        }
                        else if (!IsData(key))
                        {
                            Check(value, child, IsNameMap(key));
                        }
                    }

                    break;
                case JsonArray a:
                    for (var i = 0; i < a.Count; i++) Check(a[i], $"{pointer}/{i}");
                    break;
            }
        }

        /// <summary>
        /// A <c>$ref</c> that leads back to itself through schemas applied at the same place in the input (<c>$ref</c>,
        /// <c>allOf</c>/<c>anyOf</c>/<c>oneOf</c>, <c>not</c>, <c>if</c>/<c>then</c>/<c>else</c>, schema
        /// <c>dependencies</c>) would be evaluated forever: every input, at every gateway and node, would exhaust the
        /// evaluating thread's stack and end the process. A recursion through <c>properties</c> or <c>items</c> (a
        /// tree) ends with the input and is fine. One finding, at the first <c>$ref</c> of the cycle.
        /// </summary>
        public void CheckCycles()
        {
            var state = new Dictionary<JsonObject, bool>(ReferenceEqualityComparer.Instance); // false: on the path; true: done
            foreach (var (schema, pointer) in Schemas(root, ""))
            {
                // Not `is not { } at`: a pattern variable there left every mutation of this method uncompilable (Stryker).
                var at = Cycle(schema, state);
                if (at is null) continue;
                var where = PointerOf(at) ?? pointer;
                var target = (string?)at["$ref"] ?? "";
                findings.Error(ManifestCodes.SchemaRefUnresolved, Join(basePath, PointerToPath(where + "/$ref"), field), Locate(schemaNode, where + "/$ref") ?? schemaNode,
                    $"$ref '{target}' leads back to itself without going any deeper into the input: evaluating {field} would never end",
                    "a recursive schema must recurse through properties or items (a tree), not straight back to the same definition", file: file);
                return;
            }
        }

        /// <summary>
        /// The most subschemas evaluated at one place of an input, counting every way <c>$ref</c>,
        /// <c>allOf</c>/<c>anyOf</c>/<c>oneOf</c> and the other applicators reach them (a schema without <c>$ref</c> is
        /// a tree, and evaluates each of its subschemas at most once at a place: at most <see cref="ModelSchema.MaxValues"/>).
        /// </summary>
        public const int MaxFanOut = 10_000;

        /// <summary>The most subschemas <see cref="CheckFanOut"/> looks at, over every distinct place (a 4,096-value schema needs far fewer).</summary>
        private const long MaxFanOutWork = 500_000;

        /// <summary>The deepest input a gateway takes (its MaxJsonDepth is at most 256): how far the fan-out is followed.</summary>
        private const int InputDepth = 256;

        /// <summary>
        /// Without a cycle, <c>$ref</c>s can still multiply work: <c>d1: {allOf: [{$ref: d2}, {$ref: d2}]}</c> and so on
        /// evaluates d30 2^30 times at one place of every input (found by an audit: 2.6 KB of schema, ~100 minutes of a
        /// gateway's CPU per request, and a node's pre-flight alike), and the same through a property doubles at each
        /// level of the input. The JSON Schema library evaluates a subschema again for every path that reaches it, and
        /// has no setting that bounds that. So, once per schema: the subschemas evaluated at a place, with how many
        /// times each (same-place edges in topological order), then the places one level deeper, one per property
        /// name, one for other names, one for array items and one for property names (a pattern is assumed to match,
        /// which can only count more). Places whose counts are alike are looked at once, so a recursive tree is a few
        /// places, not one per path. Past <see cref="MaxFanOut"/> at any place: refused.
        /// </summary>
        public void CheckFanOut()
        {
            var all = Schemas(root, "").Select(s => s.Schema).ToList();
            // Each schema's same-place edges, found once ($refs resolved once).
            var same = new Dictionary<JsonObject, List<JsonObject>>(ReferenceEqualityComparer.Instance);
            foreach (var schema in all) same[schema] = [.. SamePlace(schema)];
            var rank = new Dictionary<JsonObject, int>(ReferenceEqualityComparer.Instance);
            foreach (var schema in SamePlaceOrder(all, same)) rank[schema] = rank.Count;

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var expanded = new HashSet<string>(StringComparer.Ordinal);
            var places = new Queue<(Dictionary<JsonObject, long> Entered, int Depth)>();
            places.Enqueue((new Dictionary<JsonObject, long>(ReferenceEqualityComparer.Instance) { [root] = 1 }, 0));
            // This check's own work is bounded too: a schema that makes it look at more is refused as one that costs too much.
            long work = 0;
            while (places.TryDequeue(out var place))
            {
                var evaluated = Closure(place.Entered, same, rank);
                work += evaluated.Count;
                if (work > MaxFanOutWork)
                {
                    findings.Error(ManifestCodes.SchemaTooLarge, field, schemaNode,
                        $"{field} has more places to check than InfraMind looks at ({MaxFanOutWork:N0} subschemas over every distinct place of an input)",
                        "describe repeated shapes once and keep recursion to a few definitions", file: file);
                    return;
                }

                if (evaluated.Values.Aggregate(0L, (sum, times) => Math.Min(sum + times, MaxFanOut + 1L)) > MaxFanOut)
                {
                    findings.Error(ManifestCodes.SchemaTooLarge, field, schemaNode,
                        $"{field} evaluates more than {MaxFanOut:N0} subschemas at one place of an input (at depth {place.Depth}): $ref, allOf, anyOf and oneOf " +
                        "that reach the same definitions more than once multiply the work at each level, and every gateway and node pays it for every input",
                        "reach each definition once per place: list it once in allOf (not through several branches that all apply), and keep the alternatives of anyOf/oneOf apart", file: file);
                    return;
                }

                if (place.Depth == InputDepth) continue;
                // What lies deeper depends only on the schemas that apply deeper (with their counts): places that differ
                // in the rest (a $ref's own object, a type check) are expanded once.
                var expansion = string.Join(",", evaluated.Where(e => AppliesDeeper(e.Key)).Select(e => $"{rank[e.Key]}:{e.Value}").Order(StringComparer.Ordinal));
                if (!expanded.Add(expansion)) continue;
                foreach (var next in Deeper(evaluated))
                {
                    // The same counts at another place (a tree's every node, a definition used from many properties) behave alike.
                    var signature = string.Join(",", next.Select(e => $"{rank[e.Key]}:{e.Value}").Order(StringComparer.Ordinal));
                    if (seen.Add(signature)) places.Enqueue((next, place.Depth + 1));
                }
            }
        }

        private static bool AppliesDeeper(JsonObject schema) =>
            schema.ContainsKey("properties") || schema.ContainsKey("patternProperties") || schema.ContainsKey("additionalProperties") ||
            schema.ContainsKey("items") || schema.ContainsKey("additionalItems") || schema.ContainsKey("contains") || schema.ContainsKey("propertyNames");

        private static void Add(Dictionary<JsonObject, long> counts, JsonObject schema, long times) =>
            counts[schema] = Math.Min(counts.GetValueOrDefault(schema) + times, MaxFanOut + 1L);

        // The schemas evaluated at a place, with how many times each: what entered it, and what those apply there.
        private static Dictionary<JsonObject, long> Closure(Dictionary<JsonObject, long> entered, Dictionary<JsonObject, List<JsonObject>> same, Dictionary<JsonObject, int> rank)
        {
            var reached = new HashSet<JsonObject>(entered.Keys, ReferenceEqualityComparer.Instance);
            var pending = new Stack<JsonObject>(entered.Keys);
            while (pending.TryPop(out var schema))
                foreach (var next in same[schema])
                    if (reached.Add(next)) pending.Push(next);
            var counts = new Dictionary<JsonObject, long>(entered, ReferenceEqualityComparer.Instance);
            foreach (var schema in reached.OrderBy(s => rank[s]))
            {
                if (!counts.TryGetValue(schema, out var times)) continue;
                foreach (var next in same[schema]) Add(counts, next, times);
            }

            return counts;
        }

        // The places one level deeper, each with the subschemas that enter it: one per property name, one for other names,
        // one for array items, one for property names themselves.
        private static IEnumerable<Dictionary<JsonObject, long>> Deeper(Dictionary<JsonObject, long> evaluated)
        {
            Dictionary<JsonObject, long> New() => new(ReferenceEqualityComparer.Instance);
            var names = evaluated.Keys.SelectMany(s => s["properties"] is JsonObject p ? p.Select(e => e.Key) : []).Distinct(StringComparer.Ordinal).ToList();
            foreach (var name in names)
            {
                var entered = New();
                foreach (var (schema, times) in evaluated)
                {
                    if (schema["properties"] is JsonObject p && p[name] is JsonObject named) Add(entered, named, times);
                    else if (schema["additionalProperties"] is JsonObject other) Add(entered, other, times);
                    foreach (var pattern in Patterns(schema)) Add(entered, pattern, times);
                }

                yield return entered;
            }

            var others = New();
            var items = New();
            var keys = New();
            foreach (var (schema, times) in evaluated)
            {
                if (schema["additionalProperties"] is JsonObject other) Add(others, other, times);
                foreach (var pattern in Patterns(schema)) Add(others, pattern, times);
                switch (schema["items"])
                {
                    case JsonObject each:
                        Add(items, each, times);
                        break;
                    case JsonArray tuple:
                        foreach (var item in tuple.OfType<JsonObject>()) Add(items, item, times);
                        break;
                }

                foreach (var key in new[] { "additionalItems", "contains" })
                    if (schema[key] is JsonObject child) Add(items, child, times);
                if (schema["propertyNames"] is JsonObject propertyNames) Add(keys, propertyNames, times);
            }

            foreach (var place in new[] { others, items, keys })
                if (place.Count > 0) yield return place;

            static IEnumerable<JsonObject> Patterns(JsonObject schema) =>
                schema["patternProperties"] is JsonObject map ? map.Select(e => e.Value).OfType<JsonObject>() : [];
        }

        // The schemas in an order where each comes before those it applies at the same place (CheckCycles refused cycles).
        private static List<JsonObject> SamePlaceOrder(List<JsonObject> all, Dictionary<JsonObject, List<JsonObject>> same)
        {
            var done = new HashSet<JsonObject>(ReferenceEqualityComparer.Instance);
            var postOrder = new List<JsonObject>(all.Count);
            foreach (var start in all)
            {
                if (done.Contains(start)) continue;
                // Iterative depth-first search: a long chain of definitions must not take the stack.
                var stack = new Stack<(JsonObject Schema, List<JsonObject>.Enumerator Next)>();
                done.Add(start);
                stack.Push((start, same[start].GetEnumerator()));
                while (stack.Count > 0)
                {
                    var (schema, next) = stack.Pop();
                    if (next.MoveNext())
                    {
                        // The enumerator is a struct: pushed back with its position.
                        stack.Push((schema, next));
                        if (done.Add(next.Current)) stack.Push((next.Current, same[next.Current].GetEnumerator()));
                        continue;
                    }

                    postOrder.Add(schema);
                }
            }

            postOrder.Reverse();
            return postOrder;
        }

        // Depth-first over same-place edges; the schema whose $ref closes a cycle, or null.
        private JsonObject? Cycle(JsonObject schema, Dictionary<JsonObject, bool> state)
        {
            if (state.TryGetValue(schema, out var done)) return done ? null : schema;
            state[schema] = false;
            foreach (var next in SamePlace(schema))
            {
                if (Cycle(next, state) is { } closing) return closing.ContainsKey("$ref") ? closing : schema.ContainsKey("$ref") ? schema : closing;
            }

            state[schema] = true;
            return null;
        }

        private IEnumerable<JsonObject> SamePlace(JsonObject schema)
        {
            if (schema["$ref"] is JsonValue rv && rv.TryGetValue<string>(out var target) && Resolve(target) is JsonObject referenced) yield return referenced;
            foreach (var key in new[] { "allOf", "anyOf", "oneOf" })
                if (schema[key] is JsonArray list)
                    foreach (var item in list.OfType<JsonObject>()) yield return item;
            foreach (var key in new[] { "not", "if", "then", "else" })
                if (schema[key] is JsonObject single) yield return single;
            if (schema["dependencies"] is JsonObject dependencies)
                foreach (var (_, value) in dependencies)
                    if (value is JsonObject dependent) yield return dependent;
        }

        // Every object in the schema document with its pointer (values of enum, const, examples and default are data;
        // in a map of names, such as properties, every value is a schema whatever its name).
        private static IEnumerable<(JsonObject Schema, string Pointer)> Schemas(JsonNode? node, string pointer, bool names = false)
        {
            if (node is JsonObject o)
            {
                yield return (o, pointer);
                foreach (var (key, value) in o)
                {
                    if (!names && IsData(key)) continue;
                    foreach (var inner in Schemas(value, $"{pointer}/{EscapePointer(key)}", !names && IsNameMap(key))) yield return inner;
                }
            }
            else if (node is JsonArray a)
            {
                for (var i = 0; i < a.Count; i++)
                    foreach (var inner in Schemas(a[i], $"{pointer}/{i}")) yield return inner;
            }
        }

        private HashSet<JsonObject>? _schemas;

        /// <summary>
        /// What a <c>$ref</c>'s target is when it is not a schema, or null when it is one (an object read as a schema, or
        /// true/false). A value of enum, const, examples or default is data: the checks here do not read it as a schema
        /// (it held an internal error in the fan-out check), and the evaluator would.
        /// </summary>
        private string? NotASchema(JsonNode? target)
        {
            _schemas ??= new HashSet<JsonObject>(Schemas(root, "").Select(s => s.Schema), ReferenceEqualityComparer.Instance);
            return target switch
            {
                JsonObject o => _schemas.Contains(o) ? null : "data (a value of enum, const, examples or default)",
                JsonValue v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => null,
                JsonArray => "a list",
                _ => $"a {(target?.GetValueKind() is System.Text.Json.JsonValueKind.String ? "string" : "number")}",
            };
        }

        private string? PointerOf(JsonObject schema) => Schemas(root, "").Where(s => ReferenceEquals(s.Schema, schema)).Select(s => s.Pointer).FirstOrDefault();

        private JsonNode? Resolve(string target)
        {
            if (target == "#") return root;
            if (!target.StartsWith("#/", StringComparison.Ordinal))
            {
                // Draft-07 plain-name fragments: "#foo" names a subschema with "$id": "#foo".
                return target.StartsWith('#')
                    ? Schemas(root, "").Select(s => s.Schema).FirstOrDefault(o => o["$id"] is JsonValue id && id.TryGetValue<string>(out var s) && s == target)
                    : null;
            }

            JsonNode? current = root;
            foreach (var raw in target[2..].Split('/'))
            {
                var seg = UnescapePointer(Uri.UnescapeDataString(raw));
                current = current switch
                {
                    JsonObject o => o.TryGetPropertyValue(seg, out var v) ? v : null,
                    JsonArray a when int.TryParse(seg, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count => a[i],
                    _ => null,
                };
                if (current is null) return null;
            }

            return current;
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Manifest;
using Json.Schema;

namespace InfraMind.Conformance;

/// <summary>A request body sent to a model during a conformance run.</summary>
/// <param name="Name">What the case exercises, e.g. <c>required-only</c> or <c>boundary-max</c>.</param>
/// <param name="Body">The raw request body (negative cases may not be JSON at all).</param>
/// <param name="Positive">True when the body matches input_schema and the model must answer 200.</param>
internal sealed record SyntheticCase(string Name, string Body, bool Positive);

/// <summary>
/// Generates deterministic request bodies from a draft-07 input schema: valid ones (required-only, all properties,
/// boundaries, enums, formats, patterns, examples, defaults, seeded random) and invalid ones that must get a 4xx.
/// Every case is checked against the schema before use, so a case's expectation is never wrong. A schema may admit
/// inputs the generator cannot build (a construct it does not know, a bound below); when no valid case comes out,
/// <see cref="Unsatisfied"/> names what it could not satisfy, where it can tell.
/// </summary>
internal sealed class SyntheticInputs
{
    private const int MaxDepth = 12;

    /// <summary>
    /// The most one case may take, whatever the publisher's schema asks (its <c>minLength</c>, <c>minItems</c> and
    /// nesting are a stranger's numbers, and a node generates cases for every version placed on it): characters of one
    /// string, items of one array, JSON values and string characters in the whole case. A schema whose smallest valid
    /// input is larger gets no valid case from the generator (its own <c>examples</c> still count).
    /// </summary>
    internal const int MaxStringLength = 65_536;

    internal const int MaxItems = 256;

    internal const int MaxValues = 20_000;

    internal const int MaxChars = 512 * 1024;

    /// <summary>
    /// The most sub-schemas a generator builds to check one value alone (a number against its bounds, a string against
    /// its length and pattern) before putting it in a case; beyond, values go in unchecked (the whole case still is).
    /// </summary>
    internal const int MaxChecks = 512;

    private const int MaxNotes = 8;

    private int _values;
    private long _chars;
    private bool _sizeNoted;
    private readonly RegexSampler.Context _sampler = new();
    private readonly Dictionary<string, ModelSchema?> _checks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<JsonObject, ModelSchema?>> _checksBySchema = new(StringComparer.Ordinal);
    private readonly Dictionary<(ModelSchema, Mode), JsonNode?> _numbers = [];
    private readonly List<string> _notes = [];
    private JsonNode? _firstRejected;

    private enum Mode
    {
        RequiredOnly,
        All,
        Min,
        Max,
        Random,
    }

    private readonly ModelSchema _schema;
    private readonly JsonObject _root;
    private readonly Random _random;
    private int _variant;

    public SyntheticInputs(ModelSchema schema, int seed)
    {
        _schema = schema;
        _root = schema.Document as JsonObject ?? [];
        _random = new Random(seed);
    }

    /// <summary>What this generator's pattern samples share and spent (for tests of the bounds).</summary>
    internal RegexSampler.Context Sampler => _sampler;

    /// <summary>Valid cases first (at most <paramref name="count"/>), then the negative cases.</summary>
    public IReadOnlyList<SyntheticCase> Generate(int count, bool includeNegative = true)
    {
        var positives = new List<SyntheticCase>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        void Add(string name, JsonNode? body)
        {
            if (positives.Count >= count || body is null) return;
            var text = body.ToJsonString();
            if (!seen.Add(text)) return;
            // Valid or not only (the details of a rejected case cost far more, and only Unsatisfied wants them, once).
            if (!_schema.IsValid(JsonSerializer.SerializeToElement(body)))
            {
                _firstRejected ??= body;
                return;
            }

            positives.Add(new SyntheticCase(name, text, true));
        }

        foreach (var example in Array(_root["examples"])) Add("example", example?.DeepClone());
        Add("required-only", Case(Mode.RequiredOnly));
        Add("all-properties", Case(Mode.All));
        Add("boundary-min", Case(Mode.Min));
        Add("boundary-max", Case(Mode.Max));
        for (var v = 1; v <= 4; v++)
        {
            _variant = v;
            Add($"variant-{v}", Case(Mode.All));
        }

        _variant = 0;
        for (var i = 0; positives.Count < count && i < count * 20; i++) Add($"random-{i + 1}", Case(Mode.Random));

        if (!includeNegative) return positives;
        return [.. positives, .. Negatives(positives.Count > 0 ? JsonNode.Parse(positives[0].Body) as JsonObject : null)];
    }

    /// <summary>
    /// What the generator could not satisfy, e.g. <c>pattern at /properties/name</c> (a JSON Pointer into the schema),
    /// at most eight; when it cannot tell, the keywords its first rejected case broke, where in the input. Empty when
    /// it knows nothing to name. Meant for after <see cref="Generate"/> built no valid case.
    /// </summary>
    public IReadOnlyList<string> Unsatisfied
    {
        get
        {
            if (_notes.Count > 0 || _firstRejected is null) return _notes;
            return [.. _schema.Validate(_firstRejected).Select(v => (Keyword: Keyword(v.Message), v.Pointer)).Where(v => v.Keyword is not null)
                .Select(v => $"{v.Keyword} (the input's {(v.Pointer.Length == 0 ? "/" : At(v.Pointer))})").Distinct().Take(MaxNotes)];
        }
    }

    /// <summary>The keyword a violation names, "… (pattern)", or null.</summary>
    private static string? Keyword(string message)
    {
        var open = message.LastIndexOf('(');
        return open >= 0 && message.EndsWith(')') && message.Length - open > 2 ? message[(open + 1)..^1] : null;
    }

    /// <summary>Keywords the generator does not build for: a case meets them by chance or not at all.</summary>
    private static readonly string[] Unbuilt = ["not", "if", "dependencies", "contains", "propertyNames"];

    private void Note(string what)
    {
        if (_notes.Count < MaxNotes && !_notes.Contains(what)) _notes.Add(what);
    }

    /// <summary>A schema pointer as a note shows it: the publisher's property names, control characters escaped, cut at 160.</summary>
    private static string At(string path) =>
        path.Length == 0 ? "the root" : TerminalText.Escape(TerminalText.Cut(path, 160)) + (path.Length > 160 ? "…" : "");

    private IEnumerable<SyntheticCase> Negatives(JsonObject? valid)
    {
        var cases = new List<SyntheticCase>
        {
            new("not-json", "{\"unterminated", false),
            new("not-an-object", "[1, 2, 3]", false),
        };
        if (valid is null) return cases;
        var props = Properties(_root);
        var required = Array(Resolve(_root)["required"]).Select(n => n?.GetValue<string>()).OfType<string>().ToList();
        if (required.Count > 0)
        {
            var missing = (JsonObject)valid.DeepClone();
            missing.Remove(required[0]);
            cases.Add(new($"missing-required-{required[0]}", missing.ToJsonString(), false));
        }

        foreach (var (name, propSchema) in props)
        {
            if (!valid.ContainsKey(name) || propSchema is not JsonObject ps) continue;
            var wrong = (JsonObject)valid.DeepClone();
            wrong[name] = WrongType(Resolve(ps));
            if (wrong[name] is null) continue;
            cases.Add(new($"wrong-type-{name}", wrong.ToJsonString(), false));
            break;
        }

        if (Resolve(_root)["additionalProperties"] is JsonValue ap && ap.TryGetValue<bool>(out var allowed) && !allowed)
        {
            var extra = (JsonObject)valid.DeepClone();
            extra["unexpected_property_" + _random.Next(1000)] = "x";
            cases.Add(new("extra-property", extra.ToJsonString(), false));
        }

        // Keep only the cases that really are invalid: a schema may accept more than it seems to.
        return cases.Where(c => !IsJson(c.Body, out var node) || _schema.Validate(node).Count > 0);
    }

    private static bool IsJson(string text, out JsonNode? node)
    {
        try
        {
            node = JsonNode.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            node = null;
            return false;
        }
    }

    private static JsonValue? WrongType(JsonObject schema)
    {
        var types = Types(schema);
        if (types.Contains("string")) return JsonValue.Create(12345);
        if (types.Contains("number") || types.Contains("integer")) return JsonValue.Create("not a number");
        if (types.Contains("boolean")) return JsonValue.Create("yes");
        if (types.Contains("array") || types.Contains("object")) return JsonValue.Create(42);
        return null;
    }

    private JsonObject Resolve(JsonObject schema, int depth = 0)
    {
        var path = "";
        return Resolve(schema, ref path, depth);
    }

    /// <summary>The schema a <c>$ref</c> chain ends at; <paramref name="path"/> becomes its pointer in the document.</summary>
    private JsonObject Resolve(JsonObject schema, ref string path, int depth = 0)
    {
        while (schema["$ref"] is JsonValue r && r.TryGetValue<string>(out var target) && depth++ < MaxDepth)
        {
            var resolved = ResolvePointer(target);
            if (resolved is null) break;
            schema = resolved;
            path = target[1..];
        }

        return schema;
    }

    private static string Pointer(string path, string segment) =>
        path + "/" + segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private JsonObject? ResolvePointer(string target)
    {
        if (target == "#") return _root;
        if (!target.StartsWith("#/", StringComparison.Ordinal)) return null;
        JsonNode? node = _root;
        foreach (var raw in target[2..].Split('/'))
        {
            var seg = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            node = node is JsonObject o && o.TryGetPropertyValue(seg, out var v) ? v : null;
        }

        return node as JsonObject;
    }

    private static IEnumerable<JsonNode?> Array(JsonNode? node) => node as JsonArray ?? [];

    private static List<string> Types(JsonObject schema) => schema["type"] switch
    {
        JsonValue v when v.TryGetValue<string>(out var t) => [t],
        JsonArray a => [.. a.Select(x => x?.GetValue<string>()).OfType<string>()],
        _ => schema.ContainsKey("properties") || schema.ContainsKey("required") ? ["object"] :
            schema.ContainsKey("items") ? ["array"] :
            schema.ContainsKey("minLength") || schema.ContainsKey("pattern") || schema.ContainsKey("format") ? ["string"] :
            schema.ContainsKey("minimum") || schema.ContainsKey("maximum") ? ["number"] : ["string"],
    };

    private List<KeyValuePair<string, JsonNode?>> Properties(JsonObject schema)
    {
        var s = Resolve(schema);
        var props = (s["properties"] as JsonObject)?.ToList() ?? [];
        foreach (var part in Array(s["allOf"]).OfType<JsonObject>())
            props.AddRange((Resolve(part)["properties"] as JsonObject)?.ToList() ?? []);
        return props;
    }

    /// <summary>One whole case, within <see cref="MaxValues"/> and <see cref="MaxChars"/> (null beyond: not a valid case).</summary>
    private JsonNode? Case(Mode mode)
    {
        _values = 0;
        _chars = 0;
        _sizeNoted = false;
        var value = Value(_root, mode, 0, "");
        return Exhausted ? null : value;
    }

    private bool Exhausted => _values > MaxValues || _chars > MaxChars;

    /// <summary>Notes, once a case, where the case outgrew <see cref="MaxValues"/> or <see cref="MaxChars"/>.</summary>
    private void NoteSize(string path)
    {
        if (_sizeNoted || !Exhausted) return;
        _sizeNoted = true;
        Note(string.Create(CultureInfo.InvariantCulture, $"the input's size at {At(path)} (over {MaxValues:N0} values or {MaxChars / 1024} KiB of text in one input)"));
    }

    private JsonNode? Value(JsonObject schema, Mode mode, int depth, string path)
    {
        if (depth > MaxDepth) return null;
        if (++_values > MaxValues)
        {
            NoteSize(path);
            return null;
        }

        var s = Resolve(schema, ref path);
        foreach (var keyword in Unbuilt)
            if (s.ContainsKey(keyword)) Note($"{keyword} at {At(path)}");
        if (s.TryGetPropertyValue("const", out var constant)) return constant?.DeepClone();
        if (s["enum"] is JsonArray options && options.Count > 0)
        {
            var index = mode switch
            {
                Mode.Min => 0,
                Mode.Max => options.Count - 1,
                Mode.Random => _random.Next(options.Count),
                _ => _variant % options.Count,
            };
            return options[index]?.DeepClone();
        }

        if (mode != Mode.Random && _variant == 0)
        {
            if (Array(s["examples"]).FirstOrDefault() is { } example) return example.DeepClone();
            if (s["default"] is { } dflt) return dflt.DeepClone();
        }

        if (s["allOf"] is JsonArray all && all.Count > 0)
        {
            var merged = new JsonObject();
            foreach (var (k, v) in s.Where(p => p.Key != "allOf")) merged[k] = v?.DeepClone();
            foreach (var part in all.OfType<JsonObject>())
            {
                foreach (var (k, v) in Resolve(part, depth))
                {
                    if (k is "properties" && merged["properties"] is JsonObject mp && v is JsonObject vp)
                        foreach (var (pk, pv) in vp) mp[pk] = pv?.DeepClone();
                    else if (k is "required" && merged["required"] is JsonArray mr && v is JsonArray vr)
                        foreach (var r in vr) mr.Add(r?.DeepClone());
                    else merged[k] = v?.DeepClone();
                }
            }

            return Value(merged, mode, depth + 1, path);
        }

        foreach (var key in new[] { "oneOf", "anyOf" })
        {
            if (s[key] is not JsonArray branches || branches.Count == 0) continue;
            var pick = branches.OfType<JsonObject>().ToList();
            var index = mode == Mode.Random ? _random.Next(pick.Count) : _variant % pick.Count;
            var baseSchema = new JsonObject(s.Where(p => p.Key != key).Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value?.DeepClone())));
            foreach (var (k, v) in Resolve(pick[index], depth)) baseSchema[k] = v?.DeepClone();
            return Value(baseSchema, mode, depth + 1, $"{path}/{key}/{branches.IndexOf(pick[index])}");
        }

        var types = Types(s).Where(t => t != "null").ToList();
        var type = types.Count == 0 ? "null" : mode == Mode.Random ? types[_random.Next(types.Count)] : types[_variant % types.Count];
        return type switch
        {
            "object" => ObjectValue(s, mode, depth, path),
            "array" => ArrayValue(s, mode, depth, path),
            "string" => JsonValue.Create(StringValue(s, mode, path)),
            "integer" => NumberValue(s, mode, integer: true, path),
            "number" => NumberValue(s, mode, integer: false, path),
            "boolean" => JsonValue.Create(mode == Mode.Random ? _random.Next(2) == 1 : mode != Mode.Min),
            _ => null,
        };
    }

    private JsonObject ObjectValue(JsonObject s, Mode mode, int depth, string path)
    {
        var obj = new JsonObject();
        var required = Array(s["required"]).Select(n => n?.GetValue<string>()).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var props = s["properties"] as JsonObject ?? [];
        foreach (var (name, propSchema) in props)
        {
            var include = required.Contains(name) || mode switch
            {
                Mode.RequiredOnly => false,
                Mode.Random => _random.Next(2) == 1,
                _ => true,
            };
            if (!include || propSchema is not JsonObject ps) continue;
            obj[name] = Value(ps, mode == Mode.RequiredOnly ? Mode.Min : mode, depth + 1, Pointer(path + "/properties", name));
        }

        foreach (var name in required.Where(r => !obj.ContainsKey(r)))
            obj[name] = s["additionalProperties"] is JsonObject ap ? Value(ap, mode, depth + 1, path + "/additionalProperties") : JsonValue.Create("value");

        var minProps = Count(s, "minProperties", 0);
        for (var i = 0; obj.Count < minProps && i < 100 && !Exhausted; i++)
        {
            var extra = s["additionalProperties"] is JsonObject ap ? Value(ap, mode, depth + 1, path + "/additionalProperties") : JsonValue.Create("x");
            obj[$"extra{i}"] = extra;
        }

        return obj;
    }

    private JsonArray ArrayValue(JsonObject s, Mode mode, int depth, string path)
    {
        if (Number(s, "minItems", 0) > MaxItems) Note(string.Create(CultureInfo.InvariantCulture, $"minItems at {At(path)} (over {MaxItems} items)"));
        var min = Math.Min(Count(s, "minItems", 0), MaxItems);
        var max = Math.Clamp(Count(s, "maxItems", min + 3), min, min + 10);
        var count = mode switch
        {
            Mode.Min or Mode.RequiredOnly => min,
            Mode.Max => max,
            Mode.Random => _random.Next(min, max + 1),
            _ => Math.Max(min, Math.Min(max, 2)),
        };
        var unique = s["uniqueItems"] is JsonValue u && u.TryGetValue<bool>(out var uu) && uu;
        var array = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; array.Count < count && i < count * 20 + 5 && !Exhausted; i++)
        {
            var (itemSchema, itemPath) = s["items"] switch
            {
                JsonObject o => (o, path + "/items"),
                JsonArray tuple when array.Count < tuple.Count => (tuple[array.Count] as JsonObject, $"{path}/items/{array.Count}"),
                JsonArray when s["additionalItems"] is JsonObject ai => (ai, path + "/additionalItems"),
                _ => ((JsonObject?)null, path),
            };
            var itemMode = i == 0 ? mode : Mode.Random;
            var item = itemSchema is null ? JsonValue.Create(i) : Value(itemSchema, itemMode, depth + 1, itemPath);
            if (unique && !seen.Add(item?.ToJsonString() ?? "null")) continue;
            array.Add(item);
        }

        return array;
    }

    private string StringValue(JsonObject s, Mode mode, string path)
    {
        if (Number(s, "minLength", 0) > MaxStringLength)
            Note(string.Create(CultureInfo.InvariantCulture, $"minLength at {At(path)} (over {MaxStringLength:N0} characters)"));
        var min = Math.Min(Count(s, "minLength", 0), MaxStringLength);
        var max = Math.Max(Math.Min(Count(s, "maxLength", Math.Max(min, 24)), 4096), min);
        var format = s["format"] is JsonValue fv && fv.TryGetValue<string>(out var f) ? f : null;
        var pattern = s["pattern"] is JsonValue pv && pv.TryGetValue<string>(out var p) ? p : null;
        var check = pattern is null && format is null ? null : Check(s, "string", "minLength", "maxLength", "pattern");

        // A sample of the pattern, the format's own sample, and the two laid over each other ("^2030-" over a
        // date-time gives "2030-01-05T10:20:30Z"): the first that fits the schema and reads as the format, else the
        // first that fits the schema (the format is an annotation in draft-07, so the schema and the gateway accept it).
        string? fallback = null, lastSample = null;
        for (var attempt = 0; (pattern is not null || format is not null) && attempt < 20; attempt++)
        {
            var formatted = Formatted(format);
            var sample = pattern is null ? null : RegexSampler.Sample(pattern, _random, _sampler);
            lastSample = sample ?? lastSample;
            foreach (var candidate in Candidates(sample, formatted))
            {
                if (candidate.Length > MaxStringLength || !Fits(check, candidate)) continue;
                if (format is null || ReadsAs(format, candidate)) return Spend(candidate, path);
                fallback ??= candidate;
            }

            if (pattern is null) break;
        }

        if (fallback is not null) return Spend(fallback, path);
        if (pattern is not null)
        {
            if (lastSample is null) Note($"pattern at {At(path)}");
            else NoteBroken(check, JsonValue.Create(lastSample), path);
        }

        var length = mode switch
        {
            Mode.Min => min,
            Mode.Max => max,
            Mode.Random => _random.Next(min, Math.Min(max, min + 200) + 1),
            _ => Math.Clamp(40, min, max),
        };
        _chars += length;
        if (Exhausted)
        {
            NoteSize(path);
            return "";
        }

        return Words(length);
    }

    /// <summary>Counts a sampled string towards <see cref="MaxChars"/>, as the generated ones are.</summary>
    private string Spend(string text, string path)
    {
        _chars += text.Length;
        if (!Exhausted) return text;
        NoteSize(path);
        return "";
    }

    private static IEnumerable<string> Candidates(string? sample, string? formatted)
    {
        if (sample is not null) yield return sample;
        if (sample is not null && formatted is not null)
        {
            yield return sample + formatted[Math.Min(sample.Length, formatted.Length)..];
            yield return formatted[..Math.Max(0, formatted.Length - sample.Length)] + sample;
        }

        if (formatted is not null) yield return formatted;
    }

    private string? Formatted(string? format) => format switch
    {
        "email" => $"user{_random.Next(1000)}@example.com",
        "uri" or "url" => $"https://example.com/item/{_random.Next(1000)}",
        "uri-reference" => $"/item/{_random.Next(1000)}",
        "date-time" => new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(_random.Next(1_000_000)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        "date" => new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(_random.Next(3000)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        "time" => $"{_random.Next(24):00}:{_random.Next(60):00}:{_random.Next(60):00}Z",
        "uuid" => new Guid(Enumerable.Range(0, 16).Select(_ => (byte)_random.Next(256)).ToArray()).ToString(),
        "ipv4" => $"{_random.Next(1, 224)}.{_random.Next(256)}.{_random.Next(256)}.{_random.Next(1, 255)}",
        "ipv6" => $"2001:db8::{_random.Next(1, 0xffff):x}",
        "hostname" => $"host{_random.Next(1000)}.example.com",
        _ => null,
    };

    private static readonly string[] DateTimeForms = ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

    /// <summary>Whether <paramref name="text"/> reads as <paramref name="format"/> by .NET's parsers (a format it does not know: yes).</summary>
    internal static bool ReadsAs(string format, string text) => format switch
    {
        "email" => System.Net.Mail.MailAddress.TryCreate(text, out var address) && address.Address == text && address.DisplayName.Length == 0,
        "uri" or "url" => Uri.TryCreate(text, UriKind.Absolute, out _),
        "uri-reference" => Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _),
        "date-time" => DateTimeOffset.TryParseExact(text, DateTimeForms, CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "date" => DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "time" => DateTimeOffset.TryParseExact("2000-01-01T" + text, DateTimeForms, CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "uuid" => Guid.TryParseExact(text, "D", out _),
        "ipv4" => IPAddress.TryParse(text, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork && text.Split('.').Length == 4,
        "ipv6" => text.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(text, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6,
        "hostname" => Uri.CheckHostName(text) == UriHostNameType.Dns,
        _ => true,
    };

    /// <summary>
    /// The keywords of <paramref name="s"/> named by <paramref name="keys"/>, with <paramref name="type"/>, alone as a
    /// schema (built by the same rules as the whole: its numbers compared and its patterns matched the same way), to
    /// check one value before it goes into a case. Null when there is nothing to check, when the keywords do not make a
    /// schema alone, or past <see cref="MaxChecks"/> of them.
    /// </summary>
    private ModelSchema? Check(JsonObject s, string type, params string[] keys)
    {
        // A schema of the document is met again and again: known by reference. Merged ones (allOf, a oneOf branch) are
        // new objects each time: known by their keywords' text.
        var byReference = _checksBySchema.TryGetValue(type, out var known) ? known : _checksBySchema[type] = new(ReferenceEqualityComparer.Instance);
        if (byReference.TryGetValue(s, out var same)) return same;
        var check = CheckByText(s, type, keys);
        if (byReference.Count < MaxChecks) byReference[s] = check;
        return check;
    }

    private ModelSchema? CheckByText(JsonObject s, string type, string[] keys)
    {
        var sub = new JsonObject { ["type"] = type };
        foreach (var key in keys)
            if (s[key] is JsonValue v) sub[key] = v.DeepClone();
        if (sub.Count == 1) return null;
        var text = sub.ToJsonString();
        if (_checks.TryGetValue(text, out var known)) return known;
        if (_checks.Count >= MaxChecks) return null;
        ModelSchema? check;
        try
        {
            check = ModelSchema.Create(sub);
        }
        catch (Exception e) when (e is JsonSchemaException or ArgumentException or FormatException or InvalidOperationException)
        {
            check = null;
        }

        _checks[text] = check;
        return check;
    }

    private static bool Fits(ModelSchema? check, string candidate) => Fits(check, JsonValue.Create(candidate));

    private static bool Fits(ModelSchema? check, JsonNode candidate) =>
        check is null || check.IsValid(JsonSerializer.SerializeToElement(candidate));

    /// <summary>Notes the keywords <paramref name="candidate"/> breaks in <paramref name="check"/>: the ones no candidate met.</summary>
    private void NoteBroken(ModelSchema? check, JsonNode candidate, string path)
    {
        if (check is null) return;
        foreach (var violation in check.Validate(candidate)) Note($"{Keyword(violation.Message) ?? "a keyword"} at {At(path)}");
    }

    private static readonly string[] Vocabulary =
    [
        "the", "model", "answers", "every", "request", "with", "a", "clear", "result", "and", "InfraMind", "runs", "it",
        "on", "any", "node", "of", "mesh", "data", "is", "small", "fast", "good", "new",
    ];

    private string Words(int length)
    {
        var sb = new System.Text.StringBuilder();
        while (sb.Length < length)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Vocabulary[_random.Next(Vocabulary.Length)]);
            if (_random.Next(8) == 0) sb.Append('.');
        }

        var text = sb.ToString(0, length);
        // A trailing space is still a valid string, but a trimmed end reads like real text.
        return text.Length > 0 && text[^1] == ' ' ? text[..^1] + "s" : text;
    }

    /// <summary>
    /// A number within the schema's bounds. The usual one is computed in doubles; when it does not fit (bounds far from
    /// zero, past a long's range, or a step that doubles do not reach), exact candidates are tried (<see cref="ExactNumbers"/>).
    /// </summary>
    private JsonNode NumberValue(JsonObject s, Mode mode, bool integer, string path)
    {
        var value = UsualNumber(s, mode, integer);
        if (integer && Math.Abs(value) < 1e15) value = Math.Round(value);
        var usual = Literal(value);
        if (Plainly(s, value)) return usual;
        var check = Check(s, integer ? "integer" : "number", NumberKeys);
        if (check is null) return usual;
        // Once the usual number missed these keywords in this mode, the exact one found then is used (one search a generator).
        if (!_numbers.TryGetValue((check, mode), out var found))
        {
            if (Fits(check, usual)) return usual;
            found = ExactNumbers(s, mode, integer, _random.Next(1000)).FirstOrDefault(c => Fits(check, c));
            _numbers[(check, mode)] = found;
        }
        else if (mode == Mode.Random && found is not null)
        {
            found = ExactNumbers(s, mode, integer, _random.Next(1000)).FirstOrDefault(c => Fits(check, c)) ?? found;
        }

        if (found is not null) return found.DeepClone();
        NoteBroken(check, usual, path);
        return usual;
    }

    private static readonly string[] NumberKeys = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"];

    /// <summary>
    /// Whether <paramref name="value"/> plainly fits: every bound and the value within ±10^15 (where doubles hold
    /// integers exactly), any step whole, and the value inside the bounds. Such a value needs no check of its own (the
    /// whole case still gets one): most numbers of most schemas, which a node generates thousands of.
    /// </summary>
    private static bool Plainly(JsonObject s, double value)
    {
        const double Plain = 1e15;
        if (Math.Abs(value) > Plain) return false;
        foreach (var key in NumberKeys)
        {
            var bound = Number(s, key, double.NaN);
            if (double.IsNaN(bound)) continue;
            if (Math.Abs(bound) > Plain) return false;
            var fits = key switch
            {
                "minimum" => value >= bound,
                "maximum" => value <= bound,
                "exclusiveMinimum" => value > bound,
                "exclusiveMaximum" => value < bound,
                _ => bound > 0 && bound == Math.Floor(bound) && value == Math.Floor(value) && value % bound == 0,
            };
            if (!fits) return false;
        }

        return true;
    }

    private double UsualNumber(JsonObject s, Mode mode, bool integer)
    {
        var step = Number(s, "multipleOf", 0);
        double lo = Number(s, "minimum", double.NaN), hi = Number(s, "maximum", double.NaN);
        var exLo = Number(s, "exclusiveMinimum", double.NaN);
        var exHi = Number(s, "exclusiveMaximum", double.NaN);
        var unit = step > 0 ? step : integer ? 1 : 0.001;
        if (!double.IsNaN(exLo)) lo = double.IsNaN(lo) ? exLo + unit : Math.Max(lo, exLo + unit);
        if (!double.IsNaN(exHi)) hi = double.IsNaN(hi) ? exHi - unit : Math.Min(hi, exHi - unit);
        // An open side spans at least ten steps, so the cases differ.
        var span = Math.Max(100, step * 10);
        if (double.IsNaN(lo)) lo = double.IsNaN(hi) ? 0 : hi - span;
        if (double.IsNaN(hi)) hi = lo + span;
        if (hi < lo) hi = lo; // a schema no number satisfies: the case is dropped as invalid
        var value = mode switch
        {
            Mode.Min => lo,
            Mode.Max => hi,
            Mode.Random => lo + (_random.NextDouble() * (hi - lo)),
            _ => (lo / 2) + (hi / 2),
        };
        if (integer) value = mode == Mode.Max ? Math.Floor(hi) : mode == Mode.Min ? Math.Ceiling(lo) : Math.Round(value);
        if (step > 0)
        {
            var k = mode == Mode.Max ? Math.Floor(hi / step) : Math.Ceiling(value / step);
            value = k * step;
            if (value > hi) value = Math.Floor(hi / step) * step;
            value = Math.Round(value, 10);
        }
        else if (!integer)
        {
            value = Math.Round(value, 4);
        }

        value = Math.Clamp(value, lo, hi);
        return double.IsFinite(value) ? value : 0;
    }

    /// <summary>A JSON number: an integral value within 2^53 as an integer literal, others as the double's shortest text.</summary>
    private static JsonValue Literal(double value)
    {
        if (!double.IsFinite(value)) value = 0;
        return Math.Abs(value) <= 9_007_199_254_740_992d && value == Math.Floor(value) ? JsonValue.Create((long)value) : JsonValue.Create(value);
    }

    /// <summary>The most digits or exponent a bound may have for <see cref="ExactNumbers"/>; past it, none are tried.</summary>
    private const int MaxDigits = 400;

    /// <summary>
    /// Candidates in exact decimal arithmetic, as the validator compares and divides JSON numbers (by their written
    /// digits, not as doubles: 7e298 is a multiple of 7, the double nearest 7 × 10^298 is not). Every bound and the step
    /// are put on one grid of 10^E (E the smallest exponent written, one finer for a number with exclusive bounds);
    /// the values are k × unit × 10^E, unit the step (with a whole number's 10^-E for an integer), k the least, greatest
    /// or middle multiple within the bounds (<paramref name="offset"/> multiples in from a bound for a random case).
    /// Written as digits and an exponent ("2e298", "9223372036854775808").
    /// </summary>
    private static IEnumerable<JsonNode> ExactNumbers(JsonObject s, Mode mode, bool integer, int offset)
    {
        var bounds = new Dictionary<string, (BigInteger Mantissa, int Exponent)>(StringComparer.Ordinal);
        foreach (var key in NumberKeys)
        {
            if (!s.ContainsKey(key)) continue;
            if (s[key] is not JsonValue v || Decimal(v.ToJsonString()) is not { } d) return [];
            bounds[key] = d;
        }

        var hasStep = bounds.TryGetValue("multipleOf", out var stepRaw) && stepRaw.Mantissa > 0;
        var exponent = bounds.Count == 0 ? 0 : bounds.Values.Min(b => b.Exponent);
        if (!hasStep && !integer) exponent--;
        if (bounds.Values.Any(b => b.Exponent - exponent > 2 * MaxDigits)) return [];
        BigInteger Scaled((BigInteger Mantissa, int Exponent) d) => d.Mantissa * BigInteger.Pow(10, d.Exponent - exponent);
        BigInteger? Bound(string key) => bounds.TryGetValue(key, out var d) ? Scaled(d) : null;

        var whole = integer && exponent < 0 ? BigInteger.Pow(10, -exponent) : BigInteger.One;
        var unit = hasStep ? Scaled(stepRaw) : BigInteger.One;
        if (integer) unit = unit / BigInteger.GreatestCommonDivisor(unit, whole) * whole;

        BigInteger? lo = null, hi = null;
        if (Bound("minimum") is { } min) lo = Ceiling(min, unit);
        if (Bound("exclusiveMinimum") is { } exMin) lo = BigInteger.Max(lo ?? Floor(exMin, unit) + 1, Floor(exMin, unit) + 1);
        if (Bound("maximum") is { } max) hi = Floor(max, unit);
        if (Bound("exclusiveMaximum") is { } exMax) hi = BigInteger.Min(hi ?? Ceiling(exMax, unit) - 1, Ceiling(exMax, unit) - 1);
        if (lo > hi) return [];

        var ks = new List<BigInteger>();
        switch (lo, hi)
        {
            case ({ } l, { } h):
                ks.AddRange(mode switch
                {
                    Mode.Min => [l, h],
                    Mode.Max => [h, l],
                    Mode.Random => [l + (offset % (h - l + 1)), l, h],
                    _ => [(l + h) / 2, l, h],
                });
                break;
            case ({ } l, null):
                ks.AddRange(mode switch { Mode.Min => [l], Mode.Max => [l + 2, l], Mode.Random => [l + offset, l], _ => [l + 1, l] });
                break;
            case (null, { } h):
                ks.AddRange(mode switch { Mode.Max => [h], Mode.Min => [h - 2, h], Mode.Random => [h - offset, h], _ => [h - 1, h] });
                break;
            default:
                ks.AddRange([offset, BigInteger.One, BigInteger.Zero]);
                break;
        }

        return ks.Distinct().Select(k => Written(k * unit, exponent));
    }

    private static BigInteger Floor(BigInteger value, BigInteger unit)
    {
        var q = BigInteger.DivRem(value, unit, out var r);
        return r < 0 ? q - 1 : q;
    }

    private static BigInteger Ceiling(BigInteger value, BigInteger unit)
    {
        var q = BigInteger.DivRem(value, unit, out var r);
        return r > 0 ? q + 1 : q;
    }

    /// <summary>A JSON number's text as mantissa × 10^exponent, exactly; null past <see cref="MaxDigits"/>.</summary>
    internal static (BigInteger Mantissa, int Exponent)? Decimal(string text)
    {
        var e = text.IndexOfAny(['e', 'E']);
        var exponent = 0;
        if (e >= 0 && !int.TryParse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent)) return null;
        var number = e >= 0 ? text[..e] : text;
        var dot = number.IndexOf('.', StringComparison.Ordinal);
        var digits = dot >= 0 ? number.Remove(dot, 1) : number;
        if (dot >= 0) exponent -= number.Length - dot - 1;
        if (digits.Length > MaxDigits + 1 || Math.Abs(exponent) > MaxDigits) return null;
        if (!BigInteger.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var mantissa)) return null;
        return (mantissa, exponent);
    }

    /// <summary>mantissa × 10^exponent as JSON: plain digits for a whole number up to 30 zeros, else digits and an exponent.</summary>
    private static JsonNode Written(BigInteger mantissa, int exponent)
    {
        while (!mantissa.IsZero && mantissa % 10 == 0)
        {
            mantissa /= 10;
            exponent++;
        }

        if (mantissa.IsZero) exponent = 0;
        var digits = mantissa.ToString(CultureInfo.InvariantCulture);
        var text = exponent == 0 ? digits
            : exponent > 0 && exponent <= 30 ? digits + new string('0', exponent)
            : $"{digits}e{exponent.ToString(CultureInfo.InvariantCulture)}";
        return JsonNode.Parse(text)!;
    }

    /// <summary>A count keyword (minLength, minItems …) as an int, whatever number the schema wrote (negative: 0).</summary>
    private static int Count(JsonObject s, string key, int fallback) => (int)Math.Clamp(Number(s, key, fallback), 0, int.MaxValue);

    private static double Number(JsonObject s, string key, double fallback) => s[key] switch
    {
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        // Any other number a document holds (an int, a decimal): by its JSON text.
        JsonValue v when v.GetValueKind() == JsonValueKind.Number &&
                         double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var t) => t,
        _ => fallback,
    };
}

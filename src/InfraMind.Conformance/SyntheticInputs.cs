using System.Globalization;
using System.Text.Json.Nodes;
using InfraMind.Manifest;

namespace InfraMind.Conformance;

/// <summary>A request body sent to a model during a conformance run.</summary>
/// <param name="Name">What the case exercises, e.g. <c>required-only</c> or <c>boundary-max</c>.</param>
/// <param name="Body">The raw request body (negative cases may not be JSON at all).</param>
/// <param name="Positive">True when the body matches input_schema and the model must answer 200.</param>
internal sealed record SyntheticCase(string Name, string Body, bool Positive);

/// <summary>
/// Generates deterministic request bodies from a draft-07 input schema: valid ones (required-only, all properties,
/// boundaries, enums, formats, patterns, examples, defaults, seeded random) and invalid ones that must get a 4xx.
/// Every case is checked against the schema before use, so a case's expectation is never wrong.
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

    private int _values;
    private long _chars;

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

    /// <summary>Valid cases first (at most <paramref name="count"/>), then the negative cases.</summary>
    public IReadOnlyList<SyntheticCase> Generate(int count, bool includeNegative = true)
    {
        var positives = new List<SyntheticCase>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        void Add(string name, JsonNode? body)
        {
            if (positives.Count >= count || body is null) return;
            var text = body.ToJsonString();
            if (!seen.Add(text) || _schema.Validate(body).Count > 0) return;
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
        while (schema["$ref"] is JsonValue r && r.TryGetValue<string>(out var target) && depth++ < MaxDepth)
        {
            var resolved = ResolvePointer(target);
            if (resolved is null) break;
            schema = resolved;
        }

        return schema;
    }

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
        var value = Value(_root, mode, 0);
        return Exhausted ? null : value;
    }

    private bool Exhausted => _values > MaxValues || _chars > MaxChars;

    private JsonNode? Value(JsonObject schema, Mode mode, int depth)
    {
        if (depth > MaxDepth || ++_values > MaxValues) return null;
        var s = Resolve(schema);
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

            return Value(merged, mode, depth + 1);
        }

        foreach (var key in new[] { "oneOf", "anyOf" })
        {
            if (s[key] is not JsonArray branches || branches.Count == 0) continue;
            var pick = branches.OfType<JsonObject>().ToList();
            var index = mode == Mode.Random ? _random.Next(pick.Count) : _variant % pick.Count;
            var baseSchema = new JsonObject(s.Where(p => p.Key != key).Select(p => new KeyValuePair<string, JsonNode?>(p.Key, p.Value?.DeepClone())));
            foreach (var (k, v) in Resolve(pick[index], depth)) baseSchema[k] = v?.DeepClone();
            return Value(baseSchema, mode, depth + 1);
        }

        var types = Types(s).Where(t => t != "null").ToList();
        var type = types.Count == 0 ? "null" : mode == Mode.Random ? types[_random.Next(types.Count)] : types[_variant % types.Count];
        return type switch
        {
            "object" => ObjectValue(s, mode, depth),
            "array" => ArrayValue(s, mode, depth),
            "string" => JsonValue.Create(StringValue(s, mode)),
            "integer" => JsonValue.Create((long)NumberValue(s, mode, integer: true)),
            "number" => JsonValue.Create(NumberValue(s, mode, integer: false)),
            "boolean" => JsonValue.Create(mode == Mode.Random ? _random.Next(2) == 1 : mode != Mode.Min),
            _ => null,
        };
    }

    private JsonObject ObjectValue(JsonObject s, Mode mode, int depth)
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
            obj[name] = Value(ps, mode == Mode.RequiredOnly ? Mode.Min : mode, depth + 1);
        }

        foreach (var name in required.Where(r => !obj.ContainsKey(r)))
            obj[name] = s["additionalProperties"] is JsonObject ap ? Value(ap, mode, depth + 1) : JsonValue.Create("value");

        var minProps = Count(s, "minProperties", 0);
        for (var i = 0; obj.Count < minProps && i < 100 && !Exhausted; i++)
        {
            var extra = s["additionalProperties"] is JsonObject ap ? Value(ap, mode, depth + 1) : JsonValue.Create("x");
            obj[$"extra{i}"] = extra;
        }

        return obj;
    }

    private JsonArray ArrayValue(JsonObject s, Mode mode, int depth)
    {
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
            JsonObject? itemSchema = s["items"] switch
            {
                JsonObject o => o,
                JsonArray tuple when array.Count < tuple.Count => tuple[array.Count] as JsonObject,
                JsonArray when s["additionalItems"] is JsonObject ai => ai,
                _ => null,
            };
            var itemMode = i == 0 ? mode : Mode.Random;
            var item = itemSchema is null ? JsonValue.Create(i) : Value(itemSchema, itemMode, depth + 1);
            if (unique && !seen.Add(item?.ToJsonString() ?? "null")) continue;
            array.Add(item);
        }

        return array;
    }

    private string StringValue(JsonObject s, Mode mode)
    {
        var min = Math.Min(Count(s, "minLength", 0), MaxStringLength);
        var max = Math.Max(Math.Min(Count(s, "maxLength", Math.Max(min, 24)), 4096), min);
        var format = s["format"]?.GetValue<string>();
        var formatted = format switch
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
        if (formatted is not null) return formatted;

        if (s["pattern"]?.GetValue<string>() is { } pattern)
        {
            for (var attempt = 0; attempt < 20; attempt++)
            {
                var sample = RegexSampler.Sample(pattern, _random);
                // Checked by the one rule every schema pattern is matched by (linear time), so a sample is valid where the gateway judges.
                if (sample is not null && sample.Length >= min && sample.Length <= max && SchemaPatterns.Create(pattern).IsMatch(sample))
                {
                    return sample;
                }
            }
        }

        var length = mode switch
        {
            Mode.Min => min,
            Mode.Max => max,
            Mode.Random => _random.Next(min, Math.Min(max, min + 200) + 1),
            _ => Math.Clamp(40, min, max),
        };
        _chars += length;
        return Exhausted ? "" : Words(length);
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

    private double NumberValue(JsonObject s, Mode mode, bool integer)
    {
        var step = Number(s, "multipleOf", 0);
        double lo = Number(s, "minimum", double.NaN), hi = Number(s, "maximum", double.NaN);
        var exLo = Number(s, "exclusiveMinimum", double.NaN);
        var exHi = Number(s, "exclusiveMaximum", double.NaN);
        var unit = step > 0 ? step : integer ? 1 : 0.001;
        if (!double.IsNaN(exLo)) lo = double.IsNaN(lo) ? exLo + unit : Math.Max(lo, exLo + unit);
        if (!double.IsNaN(exHi)) hi = double.IsNaN(hi) ? exHi - unit : Math.Min(hi, exHi - unit);
        if (double.IsNaN(lo)) lo = double.IsNaN(hi) ? 0 : hi - 100;
        if (double.IsNaN(hi)) hi = lo + 100;
        if (hi < lo) hi = lo; // a schema no number satisfies: the case is dropped as invalid
        var value = mode switch
        {
            Mode.Min => lo,
            Mode.Max => hi,
            Mode.Random => lo + (_random.NextDouble() * (hi - lo)),
            _ => lo + ((hi - lo) / 2),
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

        return Math.Clamp(value, lo, hi);
    }

    /// <summary>A count keyword (minLength, minItems …) as an int, whatever number the schema wrote (negative: 0).</summary>
    private static int Count(JsonObject s, string key, int fallback) => (int)Math.Clamp(Number(s, key, fallback), 0, int.MaxValue);

    private static double Number(JsonObject s, string key, double fallback) =>
        s[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d :
        s[key] is JsonValue l && l.TryGetValue<long>(out var i) ? i : fallback;
}
